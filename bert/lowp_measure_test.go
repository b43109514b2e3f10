//go:build measure

package bert_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/crossrank/crossrank/benchmarks"
	"github.com/crossrank/crossrank/bert"
	"github.com/crossrank/crossrank/cpu"
)

// TestMeasurePrecisionMiniLM measures the fast CPU backend in fp32, bf16
// and int8 on the real all-MiniLM-L6-v2 cross-encoder with the benchmark
// workload's short BERT sets (packed batches of 32 pairs):
//
//	CROSSRANK_REAL=~/.cache/crossrank/real go test -tags measure ./bert -run MeasurePrecisionMiniLM -v -timeout 30m
//
// The machine is shared and noisy, so the three precisions take turns,
// pass by pass, and the figures are ratios within each round of three
// (fp32 time / bf16 time, fp32 / int8), of which the median is reported.
func TestMeasurePrecisionMiniLM(t *testing.T) {
	root := os.Getenv("CROSSRANK_REAL")
	if root == "" {
		t.Skip("CROSSRANK_REAL is not set")
	}
	dir := filepath.Join(root, "minilm-cross")
	wl, err := benchmarks.DefaultWorkload()
	if err != nil {
		t.Fatal(err)
	}
	precs := []string{"fp32", "bf16", "int8"}
	models := make([]*bert.Model, len(precs))
	for i, p := range precs {
		be, err := cpu.New(cpu.Options{Precision: p})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s", p, be.Name())
		if models[i], err = bert.Load(context.Background(), dir, bert.Options{Backend: be}); err != nil {
			t.Fatal(err)
		}
		defer models[i].Close()
	}
	t.Logf("GOMAXPROCS %d", runtime.GOMAXPROCS(0))
	for _, tc := range []struct{ n, rounds int }{{20, 15}, {100, 7}} {
		set, err := wl.Find("short", "bert", tc.n)
		if err != nil {
			t.Fatal(err)
		}
		seqs := set.Sequences()
		score := func(m *bert.Model) time.Duration {
			t0 := time.Now()
			for i := 0; i < len(seqs); i += 32 {
				if _, err := m.Forward(context.Background(), seqs[i:min(i+32, len(seqs))]); err != nil {
					t.Fatal(err)
				}
			}
			return time.Since(t0)
		}
		for _, m := range models {
			score(m) // warm-up: arenas, page faults
		}
		times := make([][]float64, len(precs))
		ratios := make([][]float64, len(precs))
		for range tc.rounds {
			var d [3]float64
			for i, m := range models {
				d[i] = score(m).Seconds()
				times[i] = append(times[i], d[i])
			}
			for i := range precs {
				ratios[i] = append(ratios[i], d[0]/d[i])
			}
		}
		for i, p := range precs {
			med := median(times[i])
			t.Logf("n=%3d (%5d tokens) %s: median %.1f ms/request, %.1f pairs/s; speed vs fp32 (median of %d paired rounds) %.2fx, min-time ratio %.2fx",
				tc.n, set.Tokens(), p, 1e3*med, float64(tc.n)/med, tc.rounds, median(ratios[i]), minOf(times[0])/minOf(times[i]))
		}
	}
}

func minOf(x []float64) float64 {
	m := x[0]
	for _, v := range x {
		m = min(m, v)
	}
	return m
}
