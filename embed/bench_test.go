package embed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/benchmarks"
	"github.com/crossrank/crossrank/embed"
	"github.com/crossrank/crossrank/rerank"
)

// An external test package: benchmarks imports server, which imports embed.

func testdata(p ...string) string {
	return filepath.Join(append([]string{"..", "testdata"}, p...)...)
}

// Benchmarks of the embedding path, crossrank alone (the peers are
// benchmarks/run.py's job). The models: $CROSSRANK_BENCH_EMBED_MODEL (an
// embedding model folder), else the real all-MiniLM-L6-v2 when
// $CROSSRANK_REAL is set (make fixtures), else the tiny fixture, whose
// figures only show the path runs.
//
//	CROSSRANK_REAL=~/.cache/crossrank/real go test -run '^$' -bench . ./embed

func benchEmbedder(b *testing.B) (*embed.Embedder, string) {
	b.Helper()
	dir := os.Getenv("CROSSRANK_BENCH_EMBED_MODEL")
	if dir == "" && os.Getenv("CROSSRANK_REAL") != "" {
		raw, err := os.ReadFile(filepath.Join(os.Getenv("CROSSRANK_REAL"), "minilm-embed.json"))
		if err == nil {
			var meta struct {
				Dir string `json:"dir"`
			}
			if json.Unmarshal(raw, &meta) == nil {
				dir = meta.Dir
			}
		}
	}
	if dir == "" {
		dir = testdata("models", "embed-bert")
	}
	e, err := embed.New(context.Background(), dir, embed.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e, dir
}

// BenchmarkEmbed embeds the benchmark workload's short-set documents (the
// BERT family's N=100 set: 32..256 tokens, median 96) in one call: texts/s.
func BenchmarkEmbed(b *testing.B) {
	e, dir := benchEmbedder(b)
	w, err := benchmarks.DefaultWorkload()
	if err != nil {
		b.Fatal(err)
	}
	var texts []string
	for _, s := range w.Sets {
		if s.Name == "short" && s.Family == "bert" && s.N == 100 {
			for _, p := range s.Pairs {
				texts = append(texts, p.Text)
			}
		}
	}
	if len(texts) == 0 {
		b.Fatal("no short bert N=100 set in the workload")
	}
	b.Logf("model %s, %d texts", dir, len(texts))
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Embed(context.Background(), texts, embed.EmbedOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(texts)*b.N)/b.Elapsed().Seconds(), "texts/s")
}

// BenchmarkHybridSearch10k: a 10,000-document corpus (the fixture corpus's
// lines, repeated with their number appended), retrieval (BM25 + dense,
// RRF) and re-ranking of the 20 candidates timed apart. The corpus's vectors
// are computed once, outside the timings. The re-ranker is
// $CROSSRANK_BENCH_RERANK_MODEL, else the fixture cross-encoder.
func BenchmarkHybridSearch10k(b *testing.B) {
	e, _ := benchEmbedder(b)
	f, err := os.Open(testdata("corpus.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	lines, err := rerank.ReadDocumentsJSONL(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	var docs []rerank.Document
	for i := 0; len(docs) < 10000; i++ {
		l := lines[i%len(lines)]
		if len(l.Text) == 0 || len(l.Text) > 400 {
			continue
		}
		docs = append(docs, rerank.Document{ID: fmt.Sprint(len(docs)), Text: fmt.Sprintf("%s %d", l.Text, i)})
	}
	dense, err := embed.NewDenseIndex(context.Background(), e, docs, embed.DenseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	fused := &rerank.Fusion{Retrievers: []rerank.Retriever{rerank.NewBM25(docs, rerank.BM25Options{}), dense}, Depth: 20}
	queries := []string{"what is a cross-encoder?", "the capital of France", "machine learning models need data", "Berlin"}
	b.Run("retrieve", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := fused.Retrieve(context.Background(), queries[i%len(queries)], "", 20); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	rr := os.Getenv("CROSSRANK_BENCH_RERANK_MODEL")
	if rr == "" {
		rr = testdata("models", "bert")
	}
	r, err := rerank.New(context.Background(), rr, rerank.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	cands := make([][]rerank.Document, len(queries))
	for i, q := range queries {
		if cands[i], err = fused.Retrieve(context.Background(), q, "", 20); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("rerank", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := r.Rerank(context.Background(), queries[i%len(queries)], cands[i%len(queries)], rerank.RerankOptions{TopK: 5}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
