package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestTokenizeGolden feeds golden records through `crossrank tokenize` and
// wants transformers' ids back, in order.
func TestTokenizeGolden(t *testing.T) {
	for _, c := range []struct{ model, strategy string }{
		{"bert", "longest_first"}, {"xlmr", "longest_first"}, {"xlmr", "only_second"},
	} {
		f, err := os.Open("../../testdata/golden/tokens-" + c.model + ".jsonl.gz")
		if err != nil {
			t.Fatal("committed golden missing (MANIFEST.json lists it):", err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		type rec struct {
			Kind, Text, Query, Document, Truncation, Error string
			MaxLength                                      *int    `json:"max_length"`
			InputIDs                                       []int32 `json:"input_ids"`
			TokenTypeIDs                                   []int32 `json:"token_type_ids"`
			AttentionMask                                  []int32 `json:"attention_mask"`
		}
		var in bytes.Buffer
		var want []rec
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() && len(want) < 200 {
			var r rec
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			// Empty documents: transformers encodes those single calls as a
			// single text (see tokenizer's golden test).
			if r.Truncation != c.strategy || r.MaxLength == nil || *r.MaxLength != 64 || r.Kind == "pair" && r.Document == "" {
				continue
			}
			var line []byte
			if r.Kind == "single" {
				line, _ = json.Marshal(map[string]string{"text": r.Text})
			} else {
				line, _ = json.Marshal(map[string]string{"query": r.Query, "document": r.Document})
			}
			in.Write(append(line, '\n'))
			want = append(want, r)
		}
		f.Close()
		var out, errb bytes.Buffer
		code := runMain([]string{"tokenize", "--model", "../../testdata/models/" + c.model, "--max-length", "64", "--truncation", c.strategy}, &in, &out, &errb)
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != len(want) {
			t.Fatalf("%s: %d output lines for %d inputs (exit %d, stderr %s)", c.model, len(lines), len(want), code, errb.String())
		}
		wantCode := 0
		for i, l := range lines {
			var got struct {
				InputIDs      []int32 `json:"input_ids"`
				TokenTypeIDs  []int32 `json:"token_type_ids"`
				AttentionMask []int32 `json:"attention_mask"`
				Error         string  `json:"error"`
			}
			if err := json.Unmarshal([]byte(l), &got); err != nil {
				t.Fatalf("line %d: %v: %s", i+1, err, l)
			}
			w := want[i]
			if w.Error != "" {
				wantCode = 1
				if got.Error == "" {
					t.Errorf("%s line %d: no error, HF said %s", c.model, i+1, w.Error)
				}
				continue
			}
			if !slices.Equal(got.InputIDs, w.InputIDs) || !slices.Equal(got.TokenTypeIDs, w.TokenTypeIDs) || !slices.Equal(got.AttentionMask, w.AttentionMask) {
				t.Errorf("%s line %d: got %s\nwant ids %v", c.model, i+1, l, w.InputIDs)
			}
		}
		if code != wantCode {
			t.Errorf("%s: exit %d, want %d (stderr %s)", c.model, code, wantCode, errb.String())
		}
	}
}

func TestTokenizeBadInput(t *testing.T) {
	in := strings.NewReader("{\"text\": \"hello\"}\nnot json\n{\"query\": \"q\"}\n\n{\"text\": \"x\", \"query\": \"q\", \"document\": \"d\"}\n")
	var out, errb bytes.Buffer
	code := runMain([]string{"tokenize", "--model", "../../testdata/models/bert"}, in, &out, &errb)
	if _, err := os.Stat("../../testdata/models/bert/tokenizer.json"); err != nil {
		t.Fatal("committed fixture model missing:", err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if code != 1 || len(lines) != 4 {
		t.Fatalf("exit %d, %d lines: %s %s", code, len(lines), out.String(), errb.String())
	}
	if !strings.HasPrefix(lines[0], `{"input_ids":[`) {
		t.Errorf("line 1: %s", lines[0])
	}
	for i, l := range lines[1:] {
		if !strings.Contains(l, `"error":"line `+strconv.Itoa([]int{2, 3, 5}[i])) {
			t.Errorf("output %d: %s", i+2, l)
		}
	}
	for _, args := range [][]string{{"tokenize"}, {"tokenize", "--model", "x", "--truncation", "sideways"}} {
		if code := runMain(args, strings.NewReader(""), &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code := runMain([]string{"tokenize", "--model", t.TempDir()}, strings.NewReader(""), &out, &errb); code != 1 {
		t.Errorf("model folder without a tokenizer: exit %d, want 1", code)
	}
}
