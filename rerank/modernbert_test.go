package rerank

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/reference"
	"github.com/crossrank/crossrank/tokenizer"
)

// ModernBERT through the re-ranker, unchanged: tokenizer.json (byte-level
// BPE), truncation at max_length, packed batches, scores and ranks, against
// sentence-transformers' CrossEncoder and transformers on the fixtures of
// testdata/gen/modernbert.py.

var modernbertFixtures = []string{"modernbert", "modernbert-mean"}

// skipWithoutBPE skips while package tokenizer cannot read the fixtures'
// byte-level BPE tokenizer.json (the BPE model comes with the bpe branch);
// any other loading error fails.
func skipWithoutBPE(t *testing.T) {
	t.Helper()
	_, err := tokenizer.Load(fixtureDir("modernbert"))
	if err != nil && strings.Contains(err.Error(), `"BPE" is not supported`) {
		t.Skipf("the ModernBERT fixtures' tokenizer is a byte-level BPE, which package tokenizer does not read yet: %v", err)
	}
}

func TestModernBertRankMatchesSentenceTransformers(t *testing.T) {
	skipWithoutBPE(t)
	ctx := context.Background()
	for _, name := range modernbertFixtures {
		t.Run(name, func(t *testing.T) {
			r := fixture(t, name)
			recs := readJSONL[rankRecord](t, filepath.Join("..", "testdata", "golden", "modernbert-rank-"+name+".jsonl.gz"))
			info := r.Info()
			if info.Architecture != "ModernBertForSequenceClassification" || info.MaxLength != recs[0].MaxLength ||
				recs[0].Activation != "Sigmoid" || info.Activation != Sigmoid {
				t.Errorf("%s, max length %d, activation %v; sentence-transformers: %d, %s",
					info.Architecture, info.MaxLength, info.Activation, recs[0].MaxLength, recs[0].Activation)
			}
			worst := 0.0
			for qi, rec := range recs {
				res, err := r.RerankStrings(ctx, rec.Query, rec.Documents, RerankOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for k, want := range rec.Rank {
					got := res[k]
					if got.Index != want.CorpusID && math.Abs(rec.Scores[got.Index]-want.Score) > 1e-5 {
						t.Errorf("query %d rank %d: document %d (%.7f), sentence-transformers has %d (%.7f)", qi, k, got.Index, got.Score, want.CorpusID, want.Score)
					}
					worst = max(worst, math.Abs(got.Score-want.Score))
				}
			}
			if worst > 1e-5 {
				t.Errorf("largest score difference %.3g, want at most 1e-5", worst)
			}
			t.Logf("%d queries x %d documents, largest score difference %.3g", len(recs), len(recs[0].Documents), worst)
		})
	}
}

// TestModernBertLogitsThroughRerank: every logits pair (9 of 24 cut at
// max_length 128) scored in one call: the raw logit within 1e-4 of
// transformers', the pair truncated exactly when transformers cut it.
func TestModernBertLogitsThroughRerank(t *testing.T) {
	type record struct {
		Query, Document string
		InputIDs        []int32 `json:"input_ids"`
		Truncated       bool
		Logits          []float64
		BatchedLogits   []float64 `json:"batched_logits"`
	}
	skipWithoutBPE(t)
	for _, name := range modernbertFixtures {
		t.Run(name, func(t *testing.T) {
			r := fixture(t, name)
			recs := readJSONL[record](t, filepath.Join("..", "testdata", "golden", "modernbert-logits-"+name+".jsonl.gz"))
			// The re-ranker refuses an empty query (transformers scores it).
			recs = slices.DeleteFunc(recs, func(r record) bool { return r.Query == "" })
			pairs := make([]Pair, len(recs))
			for i, rec := range recs {
				pairs[i] = Pair{rec.Query, rec.Document}
			}
			scored, err := r.Score(context.Background(), pairs)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range scored {
				want := recs[i].Logits[0]
				if recs[i].Document == "" {
					// transformers encodes (q, "") alone as a single text and,
					// in a batch as CrossEncoder makes, as a pair with an empty
					// document; the re-ranker does the latter.
					want = recs[i].BatchedLogits[0]
				}
				if d := math.Abs(float64(s.Logit) - want); d > 1e-4 {
					t.Errorf("pair %d (%d tokens): logit %v, transformers %v", i, len(recs[i].InputIDs), s.Logit, want)
				}
				if cut := s.Truncated+s.QueryTruncated > 0; cut != recs[i].Truncated {
					t.Errorf("pair %d: truncated %v, transformers %v", i, cut, recs[i].Truncated)
				}
			}
		})
	}
}

// TestModernBertLongDocsAndThresholds: windows over documents past
// max_length (the best window scores at least as well as the cut document,
// whose tokens are the first window's), top-k and thresholds on a
// ModernBERT model as on BERT.
func TestModernBertLongDocsAndThresholds(t *testing.T) {
	skipWithoutBPE(t)
	ctx := context.Background()
	for _, name := range modernbertFixtures {
		t.Run(name, func(t *testing.T) {
			cut := fixture(t, name)
			long, err := New(ctx, fixtureDir(name), Options{LongDocs: &Windows{}, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer long.Close()
			recs := readJSONL[rankRecord](t, filepath.Join("..", "testdata", "golden", "modernbert-rank-"+name+".jsonl.gz"))
			rec := recs[0]
			docs := append(slices.Clone(rec.Documents), strings.Repeat(rec.Documents[0]+" ", 6))
			a, err := cut.RerankStrings(ctx, rec.Query, docs, RerankOptions{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := long.RerankStrings(ctx, rec.Query, docs, RerankOptions{})
			if err != nil {
				t.Fatal(err)
			}
			byIndex := map[int]Result{}
			for _, r := range a {
				byIndex[r.Index] = r
			}
			windowed := 0
			for _, r := range b {
				if r.Windows > 1 {
					windowed++
					if c := byIndex[r.Index]; r.Score < c.Score-1e-6 {
						t.Errorf("document %d: best of %d windows %v, below the cut document's %v", r.Index, r.Windows, r.Score, c.Score)
					}
				}
			}
			if windowed == 0 {
				t.Error("no document was split into windows")
			}
			top, err := cut.RerankStrings(ctx, rec.Query, docs, RerankOptions{TopK: 3, MinScore: new(a[1].Score)})
			if err != nil {
				t.Fatal(err)
			}
			if len(top) != 2 || top[0].Index != a[0].Index || top[1].Index != a[1].Index {
				t.Errorf("top 3 at or above the second score: %v, want the first two of %v", top, a[:2])
			}
		})
	}
}

// gpuLike is a backend that is not the CPU and has none of the optional
// operations, as the CUDA backend is for ModernBERT today.
type gpuLike struct{ ml.Backend }

func (gpuLike) Name() string { return "cuda:0 (fake)" }
func (b gpuLike) NewRun(ctx context.Context, tokens int) (ml.Run, error) {
	r, err := b.Backend.NewRun(ctx, tokens)
	return struct{ ml.Run }{r}, err
}

// TestModernBertAutoFallsBackToCPU: when auto picks a backend that lacks
// ModernBERT's operations, the model loads on the CPU (with a warning),
// while asking for that backend by name is an error naming the operation.
func TestModernBertAutoFallsBackToCPU(t *testing.T) {
	skipWithoutBPE(t)
	defer func(f func(string, string, *slog.Logger) (ml.Backend, error)) { newBackend = f }(newBackend)
	newBackend = func(name, prec string, log *slog.Logger) (ml.Backend, error) {
		return gpuLike{reference.New()}, nil
	}
	r, err := New(context.Background(), fixtureDir("modernbert"), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Info().Device; d != "cpu" {
		t.Errorf("device %q, want cpu", d)
	}
	r.Close()
	_, err = New(context.Background(), fixtureDir("modernbert"), Options{BackendName: BackendCUDA, Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, ml.ErrUnsupported) || !strings.Contains(err.Error(), "RoPE") {
		t.Errorf("backend cuda by name: %v, want an error naming RoPE", err)
	}
}
