package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/rerank"
)

func TestSearchCommand(t *testing.T) {
	dir := fixtureDir(t, "bert")
	corpus := filepath.Join("..", "..", "testdata", "corpus.jsonl")
	query := "cross-encoder query document score"
	var out, errb bytes.Buffer
	rc := runMain([]string{"search", "--model", dir, "--corpus", corpus, "--query", query, "--top-k", "3", "--format", "json"}, nil, &out, &errb)
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	got := parseLines(t, out.Bytes())

	// The reference: the library's pipeline over the same BM25 index.
	f, err := os.Open(corpus)
	if err != nil {
		t.Fatal(err)
	}
	index, err := rerank.LoadBM25JSONL(f, rerank.BM25Options{})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	r, err := rerank.New(context.Background(), dir, rerank.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want, err := r.Pipeline(index, rerank.PipelineConfig{RetrievalK: 20, RerankK: 3}).Run(context.Background(), query, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 3 || len(got) != len(want) {
		t.Fatalf("%d results, library %d:\n%s", len(got), len(want), out.String())
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.Document.ID || g.Text != w.Document.Text || g.Score == nil || *g.Score != w.Score {
			t.Errorf("result %d: got %+v, library %+v", i, g, w)
		}
	}

	// --no-rerank prints BM25's candidates, unscored.
	out.Reset()
	if rc := runMain([]string{"search", "--corpus", corpus, "--query", query, "--retrieval-k", "4", "--no-rerank"}, nil, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	cands, _ := index.Retrieve(context.Background(), query, "", 4)
	gotc := parseLines(t, out.Bytes())
	if len(gotc) != len(cands) {
		t.Fatalf("--no-rerank: %d lines, BM25 %d", len(gotc), len(cands))
	}
	for i, c := range cands {
		if gotc[i].ID != c.ID || gotc[i].Score != nil {
			t.Errorf("candidate %d: got %+v, BM25 %+v", i, gotc[i], c)
		}
	}
}

func TestSearchCommandErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		rc   int
		msg  string
	}{
		{[]string{"search", "--query", "q"}, 2, "--corpus is required"},
		{[]string{"search", "--corpus", "x.jsonl"}, 2, "--query is required"},
		{[]string{"search", "--corpus", "no-such.jsonl", "--query", "q"}, 1, "no-such.jsonl"},
		{[]string{"search", "--corpus", "x", "--query", "q", "--retrieval-k", "0"}, 2, "--retrieval-k 0"},
	} {
		var out, errb bytes.Buffer
		if rc := runMain(c.args, nil, &out, &errb); rc != c.rc || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("%v: rc %d, stderr %q", c.args, rc, errb.String())
		}
	}
}
