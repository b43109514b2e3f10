package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/rerank"
)

// `crossrank rerank --model DIR` on a Qwen3-Reranker checkpoint: the
// library's results, with the default instruction and with --instruction.
func TestRerankCommandQwen3(t *testing.T) {
	for _, model := range []string{"qwen3-tied", "qwen3-seq-cls"} {
		dir := fixtureDir(t, model)
		input := "Paris is the capital and largest city of France.\nBerlin is the capital of Germany.\n{\"id\": \"x\", \"text\": \"The Eiffel Tower is in Paris.\"}\n"
		query := "what is the capital of France?"
		const instr = "Given a question, find the passage that answers it"
		for _, extra := range [][]string{nil, {"--instruction", instr}} {
			var out, errb bytes.Buffer
			args := append([]string{"rerank", "--model", dir, "--query", query, "--format", "json"}, extra...)
			if rc := runMain(args, strings.NewReader(input), &out, &errb); rc != 0 {
				t.Fatalf("%v: rc %d: %s", args, rc, errb.String())
			}
			got := parseLines(t, out.Bytes())
			opts := rerank.Options{}
			if extra != nil {
				opts.Instruction = instr
			}
			r, err := rerank.New(context.Background(), dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			docs, _ := readDocuments(strings.NewReader(input))
			want, err := r.Rerank(context.Background(), query, docs, rerank.RerankOptions{})
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d results, want %d:\n%s", len(got), len(want), out.String())
			}
			for i, w := range want {
				g := got[i]
				if g.Index != w.Index || g.Score == nil || *g.Score != w.Score || g.Logit == nil || float32(*g.Logit) != w.Logit || g.Tokens != w.Tokens {
					t.Errorf("%s %v result %d: got %+v, library %+v", model, extra, i, g, w)
				}
			}
		}
	}
	// A BERT cross-encoder refuses --instruction.
	var out, errb bytes.Buffer
	if rc := runMain([]string{"rerank", "--model", fixtureDir(t, "bert"), "--query", "q", "--instruction", "x"}, strings.NewReader("a\n"), &out, &errb); rc == 0 ||
		!strings.Contains(errb.String(), "takes no instruction") {
		t.Errorf("bert --instruction: rc %d, %s", rc, errb.String())
	}
}

// `crossrank score` on a Qwen3-Reranker: the library's Score, line by line.
func TestScoreCommandQwen3(t *testing.T) {
	dir := fixtureDir(t, "qwen3-tied")
	pairs := []rerank.Pair{{Query: "what is the capital of France?", Document: "Paris is the capital of France."},
		{Query: "chess openings", Document: "Berlin is the capital of Germany."}, {Query: "q", Document: ""}}
	var in strings.Builder
	for _, p := range pairs {
		b, _ := json.Marshal(map[string]string{"query": p.Query, "document": p.Document})
		in.Write(append(b, '\n'))
	}
	var out, errb bytes.Buffer
	if rc := runMain([]string{"score", "--model", dir, "--batch-size", "2"}, strings.NewReader(in.String()), &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	r, err := rerank.New(context.Background(), dir, rerank.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want, err := r.Score(context.Background(), pairs)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines for %d pairs:\n%s", len(lines), len(want), out.String())
	}
	for i, line := range lines {
		var got scoreOutput
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatal(err)
		}
		if got.Score == nil || *got.Score != want[i].Score || len(got.Logits) != 1 || got.Logits[0] != want[i].Logit {
			t.Errorf("pair %d: %s, library %+v", i, line, want[i])
		}
	}
}
