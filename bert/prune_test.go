package bert

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
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

// TestHiddenRowsMatchesHidden: HiddenRows (the last layer on the asked rows
// alone where the backend has AttentionRows) against the same rows of
// Hidden (the whole layer), on random models, ragged batches with 1-token
// sequences, rows anywhere in their sequence (CLS pooling after a prompt
// reads one past it), on both backends and on one without AttentionRows.
// The two paths share every layer but the last bit for bit and differ there
// only in the rows' Linear products and the attention kernel, a subset of
// what TestFastModelMatchesReference bounds by 1e-4 relative (floor 1) on
// every layer's hidden states, so the same bound holds here.
func TestHiddenRowsMatchesHidden(t *testing.T) {
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
			rows := make([]int, len(seqs))
			for i, n := range lens {
				switch rng.IntN(3) {
				case 0: // [CLS]
				case 1:
					rows[i] = n - 1
				default:
					rows[i] = rng.IntN(n)
				}
			}
			got, err := m.HiddenRows(context.Background(), seqs, rows)
			if err != nil {
				t.Fatal(err)
			}
			full, err := m.Hidden(context.Background(), seqs)
			if err != nil {
				t.Fatal(err)
			}
			what := fmt.Sprintf("%s, %v hidden %d heads %d, lengths %v, rows %v", b.Name(), cfg.Arch(), cfg.HiddenSize, cfg.NumAttentionHeads, lens, rows)
			d := cfg.HiddenSize
			worst := 0.0
			for s, row := range rows {
				if len(got[s]) != d {
					t.Fatalf("%s: sequence %d: %d values, want %d", what, s, len(got[s]), d)
				}
				want := full[s][row*d : (row+1)*d]
				for j := range want {
					e := math.Abs(float64(got[s][j]-want[j])) / max(1, math.Abs(float64(want[j])))
					if !(e <= 1e-4) {
						t.Fatalf("%s: sequence %d row %d element %d: HiddenRows %v, Hidden %v", what, s, row, j, got[s][j], want[j])
					}
					worst = max(worst, e)
				}
			}
			t.Logf("%s: max relative |rows - hidden| %.3g", what, worst)
		}
	}
}

// TestHiddenRowsBadInput: rows that do not fit the sequences are errors.
func TestHiddenRowsBadInput(t *testing.T) {
	cfg := testConfig(t, tinyBert)
	m, err := newModel(context.Background(), cfg, randomCheckpoint(cfg, 3), cpu.Default())
	if err != nil {
		t.Fatal(err)
	}
	seqs := randomSequences(rand.New(rand.NewPCG(1, 2)), cfg, 4, 2)
	for _, rows := range [][]int{nil, {0}, {0, 2}, {-1, 0}, {4, 0}} {
		if _, err := m.HiddenRows(context.Background(), seqs, rows); err == nil {
			t.Errorf("rows %v for lengths 4, 2: no error", rows)
		}
	}
	if out, err := m.HiddenRows(context.Background(), nil, nil); err != nil || out != nil {
		t.Errorf("no sequences: %v, %v", out, err)
	}
}
