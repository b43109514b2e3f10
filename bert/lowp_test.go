package bert

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/ml"
)

// The bf16 and int8 paths of the fast CPU backend against transformers'
// fp32 logits for every fixture checkpoint and (make test-real) the real
// all-MiniLM-L6-v2 weights.
//
// Measured on this code (AMD Zen 4, AVX512_BF16 + VNNI kernels), |logit -
// fp32 golden| over all pairs, with the golden logits' standard deviation
// for scale:
//
//	checkpoint     spread   bf16 max  mean     int8 max  mean
//	bert           2.11     0.089     0.0203   0.329     0.136
//	xlmr           1.70     0.124     0.0246   0.375     0.092
//	bert-2labels   2.21     0.139     0.0243   0.498     0.087
//	bert-fp16      1.13     0.074     0.0174   0.380     0.059
//	xlmr-bf16      2.28     0.123     0.0288   0.659     0.169
//	xlmr-sharded   0.66     0.065     0.0138   0.290     0.095
//	xlmr-long      1.51     0.133     0.0313   0.444     0.151
//	real MiniLM    0.65     0.015     0.0034   0.208     0.059
//
// The fixtures are random models (weights N(0, (1.5/sqrt(fan_in))^2)),
// whose layers amplify a perturbation far more than a trained model's do:
// the same GEMM error (bf16 ~2^-9 relative, int8 ~1-2%) costs them about
// 3x more of their logit spread than it costs the real MiniLM in bf16. In
// int8 the real MiniLM's error comes from every layer alike (keeping any
// one kind of matrix in fp32 removes at most a third of it). The bounds
// are the worst measured over the fixtures with about 1.5x headroom, one
// per precision: they fail when a change makes the reduced precision
// markedly worse (a quantisation scale off, activations truncated instead
// of rounded, a layer packed wrongly gives errors of the logits' own size),
// not on noise.

// lowpBound is the most a model's logits may move from the fp32 golden:
// the largest |error| of any logit, and the mean |error| over all of them.
type lowpBound struct{ max, mean float64 }

var fixtureLowpBounds = map[string]lowpBound{
	"bf16": {0.25, 0.06},
	"int8": {1.0, 0.3},
}

func newLowpBackend(t testing.TB, prec string) ml.Backend {
	t.Helper()
	be, err := cpu.New(cpu.Options{Precision: prec})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(be.Name(), "fp32:") {
		t.Skipf("%s: this CPU has no fast %s kernel (%s)", prec, prec, be.Name())
	}
	return be
}

// lowpErrors runs recs in packed batches of goldenBatch on m and returns
// the max and mean |logit - golden| over every logit, and the spread of the
// golden logits (their standard deviation) for scale.
func lowpErrors(t testing.TB, m *Model, recs []logitRecord) (maxErr, meanErr, spread float64) {
	t.Helper()
	seqs := make([]ml.Sequence, len(recs))
	for i, r := range recs {
		seqs[i] = ml.Sequence{IDs: r.InputIDs, TypeIDs: r.TokenTypeIDs}
	}
	var sum, n, s1, s2 float64
	for b := 0; b < len(seqs); b += goldenBatch {
		end := min(b+goldenBatch, len(seqs))
		out, err := m.Forward(context.Background(), seqs[b:end])
		if err != nil {
			t.Fatalf("batch at %d: %v", b, err)
		}
		for i, got := range out {
			want := recs[b+i].Logits
			if len(got) != len(want) {
				t.Fatalf("record %d: %d logits, want %d", b+i, len(got), len(want))
			}
			for j := range got {
				d := math.Abs(float64(got[j]) - want[j])
				if math.IsNaN(d) {
					t.Fatalf("record %d: logit %d is NaN", b+i, j)
				}
				maxErr = max(maxErr, d)
				sum += d
				n++
				s1 += want[j]
				s2 += want[j] * want[j]
			}
		}
	}
	mean := s1 / n
	return maxErr, sum / n, math.Sqrt(max(0, s2/n-mean*mean))
}

func TestLowPrecisionGoldens(t *testing.T) {
	for _, prec := range []string{"bf16", "int8"} {
		for _, gm := range goldenModels {
			t.Run(prec+"/"+gm.name, func(t *testing.T) {
				be := newLowpBackend(t, prec)
				m, err := Load(context.Background(), filepath.Join(testdata, "models", gm.name), Options{Backend: be})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				recs := readJSONL[logitRecord](t, filepath.Join(testdata, "golden", "logits-"+gm.name+".jsonl.gz"))
				recs = fewLong(recs)
				maxErr, meanErr, spread := lowpErrors(t, m, recs)
				bound := fixtureLowpBounds[prec]
				t.Logf("%s %s (%s): %d pairs, |logit error| max %.3g mean %.3g (bounds %g, %g); golden logits' spread %.3g",
					prec, gm.name, be.Name(), len(recs), maxErr, meanErr, bound.max, bound.mean, spread)
				if maxErr > bound.max || meanErr > bound.mean {
					t.Errorf("%s %s: |logit error| max %.3g mean %.3g, bounds %g and %g", prec, gm.name, maxErr, meanErr, bound.max, bound.mean)
				}
			})
		}
	}
}

// TestRealLowPrecision is TestReal's check in bf16 and int8: the real
// all-MiniLM-L6-v2 weights against transformers' fp32 logits (make
// test-real), with bounds about 2x the measured errors (see the table
// above).
func TestRealLowPrecision(t *testing.T) {
	root := os.Getenv("CROSSRANK_REAL")
	if root == "" {
		t.Skip("CROSSRANK_REAL is not set (make test-real)")
	}
	recs := readJSONL[logitRecord](t, filepath.Join(testdata, "golden", "real-minilm.jsonl.gz"))
	for _, tc := range []struct {
		prec string
		b    lowpBound
	}{{"bf16", lowpBound{0.05, 0.012}}, {"int8", lowpBound{0.4, 0.12}}} {
		t.Run(tc.prec, func(t *testing.T) {
			be := newLowpBackend(t, tc.prec)
			m, err := Load(context.Background(), filepath.Join(root, "minilm-cross"), Options{Backend: be})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			maxErr, meanErr, spread := lowpErrors(t, m, recs)
			t.Logf("real-minilm %s (%s): %d pairs, |logit error| max %.3g mean %.3g (bounds %g, %g); golden logits' spread %.3g",
				tc.prec, be.Name(), len(recs), maxErr, meanErr, tc.b.max, tc.b.mean, spread)
			if maxErr > tc.b.max || meanErr > tc.b.mean {
				t.Errorf("real-minilm %s: |logit error| max %.3g mean %.3g, bounds %g and %g", tc.prec, maxErr, meanErr, tc.b.max, tc.b.mean)
			}
		})
	}
}
