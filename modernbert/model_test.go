package modernbert

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/reference"
)

// backends are the ones the model must run on, each held to transformers'
// logits within the 1e-4 (fp32).
func backends() map[string]func() ml.Backend {
	return map[string]func() ml.Backend{
		"reference": reference.New,
		"cpu":       cpu.Default,
	}
}

func loadModel(t testing.TB, g *goldenIndex, name string, b ml.Backend) *Model {
	t.Helper()
	m, err := Load(context.Background(), modelDir(g, name), b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sequences(recs []logitRecord) []ml.Sequence {
	seqs := make([]ml.Sequence, len(recs))
	for i, r := range recs {
		seqs[i] = ml.Sequence{IDs: r.InputIDs}
	}
	return seqs
}

// TestModelGoldenLogits: the model on the seam, on every backend, one
// packed batch of all the pairs (lengths 12 to 128, past both windows), is
// within 1e-4 of transformers.
func TestModelGoldenLogits(t *testing.T) {
	g := loadIndex(t)
	for bname, newBackend := range backends() {
		for _, name := range modelNames {
			t.Run(bname+"/"+name, func(t *testing.T) {
				m := loadModel(t, g, name, newBackend())
				defer m.Close()
				recs := readRecords[logitRecord](t, g.Models[name].Logits)
				got, err := m.Forward(context.Background(), sequences(recs))
				if err != nil {
					t.Fatal(err)
				}
				worst := 0.0
				for i, r := range recs {
					for j, want := range r.Logits {
						d := math.Abs(float64(got[i][j]) - want)
						worst = max(worst, d)
						if d > tolerance {
							t.Errorf("pair %d (%d tokens): logit %d = %v, transformers %v", i, len(r.InputIDs), j, got[i][j], want)
						}
					}
				}
				t.Logf("%s: %d pairs in one batch, max |crossrank - transformers| = %.2e", m, len(recs), worst)
			})
		}
	}
}

// TestModelGoldenHidden: per-layer hidden states on the seam within 1e-4.
func TestModelGoldenHidden(t *testing.T) {
	g := loadIndex(t)
	for bname, newBackend := range backends() {
		for _, name := range modelNames {
			t.Run(bname+"/"+name, func(t *testing.T) {
				m := loadModel(t, g, name, newBackend())
				defer m.Close()
				for _, r := range readRecords[hiddenRecord](t, g.Models[name].Hidden) {
					var got [][]float32
					m.observe = func(layer int, h []float32) { got = append(got, h) }
					if _, err := m.Forward(context.Background(), []ml.Sequence{{IDs: r.InputIDs}}); err != nil {
						t.Fatal(err)
					}
					if len(got) != len(r.HiddenStates) {
						t.Fatalf("%d hidden states, transformers %d", len(got), len(r.HiddenStates))
					}
					for l, want := range r.HiddenStates {
						worst := 0.0
						for i, w := range want {
							worst = max(worst, math.Abs(float64(got[l][i])-w))
						}
						if worst > tolerance {
							t.Errorf("hidden state %d off by %.2e", l, worst)
						}
					}
				}
			})
		}
	}
}

// TestModelMatchesReference: on random sequences (lengths 1 to 300, so far
// past the windows), in random batches, the seam model on each backend
// agrees with the plain Reference, and a sequence's logits do not depend
// on its batch.
func TestModelMatchesReference(t *testing.T) {
	g := loadIndex(t)
	rng := rand.New(rand.NewPCG(7, 11))
	for _, name := range modelNames {
		ref := loadReference(t, g, name)
		vocab := ref.cfg.VocabSize
		var seqs [][]int32
		for _, n := range []int{1, 2, 16, 17, 33, 34, 64, 100, 128} {
			ids := make([]int32, n)
			for i := range ids {
				ids[i] = int32(rng.IntN(vocab))
			}
			seqs = append(seqs, ids)
		}
		want, err := ref.Forward(seqs)
		if err != nil {
			t.Fatal(err)
		}
		for bname, newBackend := range backends() {
			m := loadModel(t, g, name, newBackend())
			batch := make([]ml.Sequence, len(seqs))
			for i, s := range seqs {
				batch[i] = ml.Sequence{IDs: s}
			}
			all, err := m.Forward(context.Background(), batch)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range seqs {
				one, err := m.Forward(context.Background(), []ml.Sequence{{IDs: s}})
				if err != nil {
					t.Fatal(err)
				}
				for j := range want[i] {
					if d := math.Abs(float64(all[i][j] - want[i][j])); d > tolerance {
						t.Errorf("%s/%s: %d tokens in a batch: logit %v, reference %v", bname, name, len(s), all[i][j], want[i][j])
					}
					if d := math.Abs(float64(one[0][j] - all[i][j])); d > 1e-5 {
						t.Errorf("%s/%s: %d tokens alone %v, in a batch %v", bname, name, len(s), one[0][j], all[i][j])
					}
				}
			}
			m.Close()
		}
	}
}

// noOps is a backend without the optional operations ModernBERT needs.
type noOps struct{ ml.Backend }

func (b noOps) NewRun(ctx context.Context, tokens int) (ml.Run, error) {
	r, err := b.Backend.NewRun(ctx, tokens)
	return plainRun{r}, err
}

type plainRun struct{ ml.Run }

func TestModelRefusesBackendWithoutOps(t *testing.T) {
	g := loadIndex(t)
	_, err := Load(context.Background(), modelDir(g, "modernbert-mean"), noOps{reference.New()})
	if !errors.Is(err, ml.ErrUnsupported) {
		t.Fatalf("error %v, want ml.ErrUnsupported", err)
	}
	for _, op := range []string{"RoPE", "WindowAttention", "GLU", "Add", "MeanRows"} {
		if !strings.Contains(err.Error(), op) {
			t.Errorf("error %q does not name %s", err, op)
		}
	}
}

func TestForwardRefusesBadInput(t *testing.T) {
	g := loadIndex(t)
	m := loadModel(t, g, "modernbert", reference.New())
	defer m.Close()
	long := make([]int32, m.MaxTokens()+1)
	for _, tc := range []struct {
		name string
		seqs []ml.Sequence
	}{
		{"empty", []ml.Sequence{{IDs: []int32{1, 2}}, {}}},
		{"too long", []ml.Sequence{{IDs: long}}},
		{"id", []ml.Sequence{{IDs: []int32{1, int32(m.cfg.VocabSize)}}}},
		{"negative id", []ml.Sequence{{IDs: []int32{-1}}}},
	} {
		if _, err := m.Forward(context.Background(), tc.seqs); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Forward(ctx, []ml.Sequence{{IDs: []int32{1, 2, 3}}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}
