package main

import (
	"bytes"
	"os"
	"path/filepath"
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

// --cpuprofile writes a CPU profile of the run (a gzipped pprof protobuf)
// on a small workload the fixture model can read; an unwritable path is an
// error before anything runs.
func TestBenchCPUProfile(t *testing.T) {
	dir := t.TempDir()
	wl := filepath.Join(dir, "workload.json")
	ids := `{"text": "x", "input_ids": [2, 7, 3, 9, 11, 3], "token_type_ids": [0, 0, 0, 1, 1, 1]}`
	body := `{"version": 1, "seed": 1, "query_tokens": 1, "families": {}, "sets": [` +
		`{"name": "short", "family": "bert", "n": 2, "doc_tokens": [2, 2], "query": "q", "pairs": [` + ids + `, ` + ids + `]}]}`
	if err := os.WriteFile(wl, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	prof := filepath.Join(dir, "cpu.pprof")
	var out, errb bytes.Buffer
	args := []string{"bench", "-q", "--model", "../../testdata/models/bert", "--workload", wl, "--n", "2",
		"--budget", "100ms", "--min-reps", "2", "--concurrency", "1", "--cpuprofile", prof}
	if code := runMain(args, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("%s: %d bytes, not a gzipped profile", prof, len(b))
	}
	errb.Reset()
	args[len(args)-1] = filepath.Join(dir, "no", "such", "dir", "cpu.pprof")
	if code := runMain(args, nil, &out, &errb); code != 1 || !strings.Contains(errb.String(), "cpu.pprof") {
		t.Errorf("unwritable --cpuprofile: exit %d, %q", code, errb.String())
	}
}
