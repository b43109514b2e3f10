package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchEmbedUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "embed"}, "--model"},
		{[]string{"bench", "embed", "--model", "x", "--n", "0"}, "--n"},
		{[]string{"bench", "hybrid", "--model", "x"}, "--rerank-model"},
		{[]string{"bench", "hybrid", "--model", "x", "--rerank-model", "y", "--docs", "0"}, "--docs"},
	} {
		var out, errb bytes.Buffer
		if code := runMain(c.args, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %s named", c.args, code, errb.String(), c.want)
		}
	}
}

// The fixture embedder on the workload's 20-document set: one JSON line
// with a vector per text, and the table on stdout.
func TestBenchEmbedFixture(t *testing.T) {
	js := filepath.Join(t.TempDir(), "r.json")
	var out, errb bytes.Buffer
	code := runMain([]string{"bench", "embed", "-q", "--model", "../../testdata/models/embed-bert", "--n", "20",
		"--budget", "1ms", "--min-reps", "1", "--concurrency", "1", "--json", js}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	raw, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		N       int         `json:"n"`
		Vectors [][]float32 `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.N != 20 || len(r.Vectors) != 20 {
		t.Fatalf("n %d, %d vectors, %v", r.N, len(r.Vectors), err)
	}
	if !strings.Contains(out.String(), "texts/s") {
		t.Errorf("no table: %q", out.String())
	}
	// A cross-encoder is refused by name.
	errb.Reset()
	if code := runMain([]string{"bench", "embed", "-q", "--model", "../../testdata/models/bert", "--n", "20"}, nil, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "not an embedding model") {
		t.Errorf("cross-encoder: exit %d, %q", code, errb.String())
	}
}

func TestBenchHybridFixture(t *testing.T) {
	js := filepath.Join(t.TempDir(), "h.json")
	var out, errb bytes.Buffer
	code := runMain([]string{"bench", "hybrid", "-q", "--model", "../../testdata/models/embed-bert", "--rerank-model", "../../testdata/models/bert",
		"--docs", "100", "--queries", "2", "--budget", "1ms", "--min-reps", "1", "--json", js}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var r struct {
		Docs     int     `json:"docs"`
		RerankMs float64 `json:"rerank_p50_ms"`
	}
	raw, err := os.ReadFile(js)
	if err == nil {
		err = json.Unmarshal(raw, &r)
	}
	if err != nil || r.Docs != 100 || !(r.RerankMs > 0) {
		t.Fatalf("docs %d, rerank %g ms, %v", r.Docs, r.RerankMs, err)
	}
	if !strings.Contains(out.String(), "retrieval (BM25 + dense + RRF)") {
		t.Errorf("no table: %q", out.String())
	}
}
