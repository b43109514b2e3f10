package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/embed"
	"github.com/crossrank/crossrank/rerank"
)

func TestEmbedCommand(t *testing.T) {
	dir := fixtureDir(t, "embed-bert")
	in := "Paris is the capital of France.\n{\"id\": \"b\", \"text\": \"Berlin is the capital of Germany.\"}\n" + strings.Repeat("word ", 100) + "\n"
	var out, errb bytes.Buffer
	if rc := runMain([]string{"embed", "--model", dir, "--prompt-name", "passage", "--dimensions", "8"}, strings.NewReader(in), &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	e, err := embed.New(context.Background(), dir, embed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	texts := []string{"Paris is the capital of France.", "Berlin is the capital of Germany.", strings.TrimSpace(strings.Repeat("word ", 100))}
	want, err := e.Embed(context.Background(), texts, embed.EmbedOptions{PromptName: "passage", Dimensions: 8})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	for i, l := range lines {
		var got struct {
			Index     int       `json:"index"`
			ID        string    `json:"id"`
			Embedding []float32 `json:"embedding"`
			Tokens    int       `json:"tokens"`
			Truncated bool      `json:"truncated"`
		}
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		if got.Index != i || got.Tokens != want[i].Tokens || got.Truncated != want[i].Truncated || len(got.Embedding) != 8 {
			t.Errorf("line %d: %+v, library %+v", i, got, want[i])
		}
		for j, v := range want[i].Vector {
			if got.Embedding[j] != v {
				t.Fatalf("line %d component %d: %v, library %v", i, j, got.Embedding[j], v)
			}
		}
	}
	if !strings.Contains(lines[1], `"id":"b"`) || !want[2].Truncated {
		t.Errorf("id or truncation lost: %s / %+v", lines[1], want[2])
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--prompt-name", "nope"}, "unknown prompt"},
		{[]string{"--truncate", "middle"}, "--truncate"},
		{[]string{"--prompt", "x", "--prompt-name", "query"}, "exclude each other"},
		{[]string{"--truncate", "none"}, "line 3"},
	} {
		errb.Reset()
		rc := runMain(append([]string{"embed", "--model", dir}, c.args...), strings.NewReader(in), &bytes.Buffer{}, &errb)
		if rc == 0 || !strings.Contains(errb.String(), c.says) {
			t.Errorf("%v: rc %d, %q; want it to say %q", c.args, rc, errb.String(), c.says)
		}
	}
	// A cross-encoder is refused with a reason.
	errb.Reset()
	if rc := runMain([]string{"embed", "--model", fixtureDir(t, "bert")}, strings.NewReader("a\n"), &bytes.Buffer{}, &errb); rc == 0 || !strings.Contains(errb.String(), "cross-encoder") {
		t.Errorf("cross-encoder: rc %d, %s", rc, errb.String())
	}
}

func TestSearchHybrid(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "testdata", "corpus.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	corpus := filepath.Join(t.TempDir(), "corpus.jsonl")
	if err := os.WriteFile(corpus, src, 0o644); err != nil {
		t.Fatal(err)
	}
	model, embModel := fixtureDir(t, "bert"), fixtureDir(t, "embed-bert")
	query := "cross-encoder query document score"
	args := []string{"search", "--hybrid", "--embed-model", embModel, "--model", model, "--corpus", corpus, "--query", query, "--top-k", "3", "--format", "json"}
	var out, errb bytes.Buffer
	if rc := runMain(args, nil, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	got := parseLines(t, out.Bytes())
	if !strings.Contains(errb.String(), "embedding the corpus: ") {
		t.Errorf("no progress on stderr: %s", errb.String())
	}
	caches, _ := filepath.Glob(corpus + ".*.embeddings")
	if len(caches) != 1 {
		t.Fatalf("cache files %v", caches)
	}

	// The reference: the library's pipeline over BM25 fused with the dense index.
	f, _ := os.Open(corpus)
	docs, err := rerank.ReadDocumentsJSONL(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	e, err := embed.New(context.Background(), embModel, embed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	dense, err := embed.NewDenseIndex(context.Background(), e, docs, embed.DenseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := rerank.New(context.Background(), model, rerank.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fused := &rerank.Fusion{Retrievers: []rerank.Retriever{rerank.NewBM25(docs, rerank.BM25Options{}), dense}, Depth: 20}
	want, err := r.Pipeline(fused, rerank.PipelineConfig{RetrievalK: 20, RerankK: 3}).Run(context.Background(), query, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(want) != 3 {
		t.Fatalf("%d results, library %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].ID != w.Document.ID || got[i].Score == nil || *got[i].Score != w.Score {
			t.Errorf("result %d: %+v, library %+v", i, got[i], w)
		}
	}
	// The second run reads the cache and gives the same answer.
	out.Reset()
	errb.Reset()
	if rc := runMain(args, nil, &out, &errb); rc != 0 || !strings.Contains(errb.String(), "read from") {
		t.Fatalf("second run: rc %d, %s", rc, errb.String())
	}
	if again := parseLines(t, out.Bytes()); len(again) != 3 || again[0].ID != got[0].ID {
		t.Errorf("cached run differs: %+v vs %+v", again, got)
	}
	if rc := runMain(append(args, "--rrf-k", "0"), nil, &out, &errb); rc != 2 {
		t.Errorf("--rrf-k 0: rc %d", rc)
	}
}
