package benchmarks

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crossrank/crossrank/embed"
)

func fixture(name string) string { return filepath.Join("..", "testdata", "models", name) }

func TestEmbedTexts(t *testing.T) {
	w, err := DefaultWorkload()
	if err != nil {
		t.Fatal(err)
	}
	s100, _ := w.Find("short", "bert", 100)
	texts, toks, err := w.EmbedTexts("bert", 100)
	if err != nil || len(texts) != 100 || len(toks) != 100 || texts[7] != s100.Pairs[7].Text || toks[7] != s100.DocTokens[7] {
		t.Fatalf("N=100: %d texts, %d lengths, %v; want the N=100 set's", len(texts), len(toks), err)
	}
	all, _, err := w.EmbedTexts("bert", 120)
	if err != nil || len(all) != 120 || all[20] != s100.Pairs[0].Text {
		t.Fatalf("N=120: %d texts, %v; want the N=20 set's then the N=100 set's", len(all), err)
	}
	if _, _, err := w.EmbedTexts("bert", 7); err == nil || !strings.Contains(err.Error(), "120") {
		t.Errorf("N=7: %v; want an error naming what there is", err)
	}
}

func TestHybridCorpus(t *testing.T) {
	w, err := DefaultWorkload()
	if err != nil {
		t.Fatal(err)
	}
	docs, qs, words, err := HybridCorpus(w, "bert", 500, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	again, qs2, _, _ := HybridCorpus(w, "bert", 500, 10, 1)
	other, _, _, _ := HybridCorpus(w, "bert", 500, 10, 2)
	if len(docs) != 500 || len(qs) != 10 || !slices.Equal(qs, qs2) || again[499].Text != docs[499].Text || other[0].Text == docs[0].Text {
		t.Fatalf("%d docs, %d queries; want 500 and 10, the same for a seed and not for another", len(docs), len(qs))
	}
	vocab := map[string]bool{}
	for _, s := range w.Sets {
		if s.Name == "short" && s.Family == "bert" {
			for _, p := range s.Pairs {
				for _, wd := range strings.Fields(p.Text) {
					vocab[wd] = true
				}
			}
		}
	}
	inCorpus := map[string]bool{}
	total := 0
	for _, d := range docs {
		f := strings.Fields(d.Text)
		if len(f) < 32 || len(f) > 256 {
			t.Errorf("document %s: %d words, outside the short set's 32..256", d.ID, len(f))
		}
		total += len(f)
		for _, wd := range f {
			if !vocab[wd] {
				t.Fatalf("document %s: word %q is not one of the workload's", d.ID, wd)
			}
			inCorpus[wd] = true
		}
	}
	if total != words {
		t.Errorf("corpus words %d, counted %d", words, total)
	}
	for _, q := range qs {
		for _, wd := range strings.Fields(q) {
			if !inCorpus[wd] {
				t.Errorf("query %q: word %q is in no document", q, wd)
			}
		}
	}
	if _, _, _, err := HybridCorpus(w, "nope", 10, 1, 1); err == nil {
		t.Error("a family without short sets: no error")
	}
}

// quick is a run of a few milliseconds: the figures are not the point.
var quick = Options{MinReps: 2, MaxReps: 3, Budget: time.Millisecond, Concurrency: 2}

func TestRunEmbed(t *testing.T) {
	w, err := DefaultWorkload()
	if err != nil {
		t.Fatal(err)
	}
	texts, _, err := w.EmbedTexts("bert", 20)
	if err != nil {
		t.Fatal(err)
	}
	dir := fixture("embed-bert")
	r, err := RunEmbed(context.Background(), dir, texts, quick)
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 20 || len(r.Vectors) != 20 || r.Reps < 2 || r.TextsPerS <= 0 || r.Tokens <= 0 || r.Precision != "fp32" {
		t.Fatalf("n %d, %d vectors, %d reps, %.1f texts/s, %d tokens, %s", r.N, len(r.Vectors), r.Reps, r.TextsPerS, r.Tokens, r.Precision)
	}
	// The vectors are in text order: each is that text's, embedded alone.
	e, err := embed.New(context.Background(), dir, embed.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, i := range []int{0, 7, 19} {
		v, err := e.EmbedStrings(context.Background(), texts[i:i+1], embed.EmbedOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(v[0]) != r.Dim || len(r.Vectors[i]) != r.Dim {
			t.Fatalf("text %d: %d and %d components, dim %d", i, len(v[0]), len(r.Vectors[i]), r.Dim)
		}
		// fp32 sums of a few dozen terms in another blocking: ~1e-6; the
		// vectors of two different texts differ by ~0.1.
		for j := range v[0] {
			if d := math.Abs(float64(v[0][j] - r.Vectors[i][j])); d > 1e-4 {
				t.Fatalf("text %d component %d: %g alone, %g in the run", i, j, v[0][j], r.Vectors[i][j])
			}
		}
	}

	if _, err := RunEmbed(context.Background(), fixture("bert"), texts, quick); !errors.Is(err, embed.ErrNotEmbedder) {
		t.Errorf("a cross-encoder: %v, want ErrNotEmbedder", err)
	}
	if _, err := RunEmbed(context.Background(), dir, nil, quick); err == nil {
		t.Error("no texts: no error")
	}
	if _, err := RunEmbed(context.Background(), dir, texts, Options{Precision: "fp8"}); err == nil {
		t.Error("precision fp8: no error")
	}
}

func TestRunHybrid(t *testing.T) {
	w, err := DefaultWorkload()
	if err != nil {
		t.Fatal(err)
	}
	o := HybridOptions{Options: quick, Docs: 200, Queries: 3, RetrievalK: 8, RerankK: 3}
	o.Concurrency = 1
	r, err := RunHybrid(context.Background(), w, fixture("embed-bert"), fixture("bert"), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Docs != 200 || r.Queries != 3 || r.RetrievalK != 8 || r.Reps < 2 || r.FromCache || r.Seed != HybridSeed {
		t.Fatalf("%+v", r)
	}
	for name, v := range map[string]float64{"bm25": r.BM25P50Ms, "dense": r.DenseP50Ms, "retrieve": r.RetrieveP50Ms,
		"rerank": r.RerankP50Ms, "total": r.TotalP50Ms, "dense index": r.DenseIndexS} {
		if !(v > 0) {
			t.Errorf("%s: %g, want > 0", name, v)
		}
	}
	// With a cache file, the second run reads the vectors back.
	o.CacheFile = filepath.Join(t.TempDir(), "vecs")
	if _, err := RunHybrid(context.Background(), w, fixture("embed-bert"), fixture("bert"), o); err != nil {
		t.Fatal(err)
	}
	r, err = RunHybrid(context.Background(), w, fixture("embed-bert"), fixture("bert"), o)
	if err != nil || !r.FromCache {
		t.Errorf("second run with a cache: from cache %v, %v", r != nil && r.FromCache, err)
	}
	if _, err := RunHybrid(context.Background(), w, fixture("bert"), fixture("bert"), o); !errors.Is(err, embed.ErrNotEmbedder) {
		t.Errorf("a cross-encoder as the embedder: %v, want ErrNotEmbedder", err)
	}
}
