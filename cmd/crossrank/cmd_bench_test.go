package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestBenchUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runMain([]string{"bench"}, nil, &out, &errb); code != 2 {
		t.Errorf("bench without --model: exit %d, want 2", code)
	}
	if !strings.Contains(errb.String(), "--model") {
		t.Errorf("usage does not name --model: %q", errb.String())
	}
	errb.Reset()
	if code := runMain([]string{"bench", "--model", "x", "--n", "0"}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--n") {
		t.Errorf("--n 0: exit %d, %q", code, errb.String())
	}
}

// The fixture checkpoint's vocabulary is smaller than the workload's ids
// (the real 30,522-token one): the run must refuse it by name instead of
// failing deep in the forward pass.
func TestBenchRefusesSmallVocab(t *testing.T) {
	var out, errb bytes.Buffer
	code := runMain([]string{"bench", "-q", "--model", "../../testdata/models/bert", "--n", "20"}, nil, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "vocab_size") {
		t.Errorf("exit %d, stderr %q; want 1 and a vocab_size error", code, errb.String())
	}
}

// A set of the other family is refused with both families named.
func TestBenchUnknownSet(t *testing.T) {
	var out, errb bytes.Buffer
	code := runMain([]string{"bench", "-q", "--model", "../../testdata/models/bert", "--set", "long", "--n", "20"}, nil, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "long/bert/n20") {
		t.Errorf("exit %d, stderr %q; want 1 and the missing set named", code, errb.String())
	}
}
