package bert

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/internal/testrand"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/reference"
)

// plainBackend hides every optional operation of its runs, as a backend
// without AttentionRowsRun (cuda) has: the model must run the whole last
// layer there.
type plainBackend struct{ ml.Backend }

func (b plainBackend) NewRun(ctx context.Context, tokens int) (ml.Run, error) {
	r, err := b.Backend.NewRun(ctx, tokens)
	return struct{ ml.Run }{r}, err
}

// TestPrunedLastLayerMatchesFull compares the logits of the last layer
// computed on the [CLS] rows alone (Layer.ForwardRows) with those of the
// whole layer, on random models, ragged batches with 1-token sequences, on
// both backends, and on a backend without AttentionRows. This is a
// consistency check (the goldens against transformers run the pruned
// path): the two differ only in one layer's attention kernel (and, on the
// plain backend, in Linear and Activate done apart), a subset of what
// TestFastModelMatchesReference allows its 1e-4 for across every layer.
func TestPrunedLastLayerMatchesFull(t *testing.T) {
	rng := testrand.Fresh(t)
	for range 4 {
		cfg := testConfig(t, fastTestConfig(t, rng))
		src := scaledCheckpoint(cfg, rng.Uint64())
		for _, b := range []ml.Backend{cpu.Default(), reference.New(), plainBackend{cpu.Default()}} {
			m, err := newModel(context.Background(), cfg, src, b)
			if err != nil {
				t.Fatal(err)
			}
			lens := testrand.Lengths(rng, 1+rng.IntN(8), 1+rng.IntN(min(m.MaxTokens(), 200)))
			seqs := randomSequences(rng, cfg, lens...)
			pruned, err := m.Forward(context.Background(), seqs)
			if err != nil {
				t.Fatal(err)
			}
			m.fullLastLayer = true
			full, err := m.Forward(context.Background(), seqs)
			if err != nil {
				t.Fatal(err)
			}
			what := fmt.Sprintf("%s, %v hidden %d heads %d, lengths %v", b.Name(), cfg.Arch(), cfg.HiddenSize, cfg.NumAttentionHeads, lens)
			worst := 0.0
			for s := range full {
				for j := range full[s] {
					worst = max(worst, math.Abs(float64(pruned[s][j]-full[s][j])))
				}
			}
			if !(worst <= 1e-4) {
				t.Fatalf("%s: pruned and full last layers differ by %g", what, worst)
			}
			t.Logf("%s: max |pruned - full| %.3g", what, worst)
		}
	}
}
