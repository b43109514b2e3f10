package embed

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/rerank"
	"github.com/crossrank/crossrank/weights"
)

// clsEmbedders are the fixtures whose pooling is [cls] alone, and
// embed-bert-multi pooled with its cls mode alone: include_prompt false and
// a default prompt, so cls reads the row after the prompt. The first
// cls-width components of multi's golden are sentence-transformers' cls
// vector (no Dense, no Normalize after the pooling).
func clsEmbedders(t *testing.T) map[string]goldenEmbedder {
	all := goldenEmbedders(t)
	out := map[string]goldenEmbedder{}
	for name, g := range all {
		if len(g.Pooling) == 1 && g.Pooling[0] == "cls" {
			out[name] = g
		}
	}
	multi := all["embed-bert-multi"]
	if len(multi.Pooling) == 0 || multi.Pooling[0] != "cls" || multi.Normalized {
		t.Fatalf("embed-bert-multi is %+v: its golden no longer starts with the cls vector", multi)
	}
	multi.Pooling = []string{"cls"}
	out["embed-bert-multi as cls"] = multi
	if len(out) < 3 {
		t.Fatalf("%d cls fixtures: want embed-bert-cls, embed-xlmr and multi", len(out))
	}
	return out
}

// TestCLSRowsPath: with [cls] pooling the embedder asks the encoder for one
// row per text (bert.Model.HiddenRows, the last layer on those rows alone
// where the backend has AttentionRows), on both CPU backends. Each fixture's
// vectors must match sentence-transformers within the golden tolerance and
// the path through every hidden state (clsOnly cleared) within float32
// rounding: the two differ only in the last layer's kernels on the kept rows
// (bert's TestHiddenRowsMatchesHidden), here on fixed inputs.
func TestCLSRowsPath(t *testing.T) {
	for name, g := range clsEmbedders(t) {
		for _, backend := range []string{rerank.BackendCPU, rerank.BackendReference} {
			t.Run(fmt.Sprintf("%s/%s", name, backend), func(t *testing.T) {
				opts := Options{BackendName: backend, Logger: slog.New(slog.DiscardHandler)}
				eng, err := loadEngine(context.Background(), testdata(filepath.FromSlash(g.Dir)), opts)
				if err != nil {
					t.Fatal(err)
				}
				eng.st.Pooling.Modes = []weights.PoolingMode{weights.PoolCLS}
				e, err := newEmbedder(eng, opts)
				if err != nil {
					eng.mdl.close()
					t.Fatal(err)
				}
				defer e.Close()
				if !e.clsOnly {
					t.Fatal("[cls] pooling does not take the one-row path")
				}
				m := e.mdl.(*mlEncoder).m
				if _, ok := m.(ml.RowsEncoder); !ok {
					t.Fatalf("%T has no HiddenRows", m)
				}
				r, err := m.Backend().NewRun(context.Background(), 1)
				if err != nil {
					t.Fatal(err)
				}
				_, pruned := r.(ml.AttentionRowsRun)
				r.Close()
				if !pruned {
					t.Fatalf("backend %s has no AttentionRows: the last layer would run whole", m.Backend().Name())
				}

				recs := readGolden(t, testdata(filepath.FromSlash(g.Golden)))
				d := e.mdl.hiddenSize()
				for i := range recs {
					recs[i].Embedding = recs[i].Embedding[:min(d, len(recs[i].Embedding))]
				}
				worst := compareGolden(t, e, recs)

				texts := make([]string, len(recs))
				for i, r := range recs {
					texts[i] = r.Text
				}
				rows, err := e.Embed(context.Background(), texts, EmbedOptions{})
				if err != nil {
					t.Fatal(err)
				}
				e.clsOnly = false
				full, err := e.Embed(context.Background(), texts, EmbedOptions{})
				if err != nil {
					t.Fatal(err)
				}
				gap := 0.0
				for i := range rows {
					for c, w := range full[i].Vector {
						gap = max(gap, math.Abs(float64(rows[i].Vector[c]-w))/max(1, math.Abs(float64(w))))
					}
				}
				if !(gap <= clsRowsBound) {
					t.Errorf("one-row path and full path differ by %.3g relative, more than %g", gap, clsRowsBound)
				}
				t.Logf("%d records: worst |crossrank - sentence-transformers| %.2e; one-row vs full path %.2e", len(recs), worst, gap)
			})
		}
	}
}

// clsRowsBound is float32 rounding through one layer of the fixtures'
// hidden size 32 (a dot product's rounding is a few times 32 * 2^-24
// relative), with a wide margin: the gap seen on these fixed inputs is 0.
const clsRowsBound = 1e-5
