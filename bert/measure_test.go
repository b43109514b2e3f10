//go:build measure

package bert_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crossrank/crossrank/benchmarks"
	"github.com/crossrank/crossrank/bert"
	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/reference"
	"github.com/crossrank/crossrank/weights"
)

// TestMeasureMiniLM measures the fast and the reference CPU backend on the
// real all-MiniLM-L6-v2 cross-encoder checkpoint with the benchmark
// workload's short BERT sets (packed batches of 32 pairs), against the FP32
// FMA peak measured in the same run:
//
//	CROSSRANK_REAL=~/.cache/crossrank/real go test -tags measure ./bert -run MeasureMiniLM -v -timeout 30m
//
// The machine is shared, so each forward pass is followed by the FMA loop on
// as many threads for as long (the pass and its peak meet the same
// neighbours), and the work is also counted per second of CPU time the
// process got, against one core's peak. Only ratios from one run mean
// anything. It is behind the measure build tag: it takes minutes.
func TestMeasureMiniLM(t *testing.T) {
	root := os.Getenv("CROSSRANK_REAL")
	if root == "" {
		t.Skip("CROSSRANK_REAL is not set")
	}
	dir := filepath.Join(root, "minilm-cross")
	cfg, err := weights.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	shape := benchmarks.ShapeOf(cfg)
	wl, err := benchmarks.DefaultWorkload()
	if err != nil {
		t.Fatal(err)
	}
	threads := runtime.GOMAXPROCS(0)
	// One core's peak per second of CPU time the loop got: what the core
	// does while it runs, whoever else holds the cores.
	c0 := cpuTime()
	core := benchmarks.MeasurePeak(1, 2*time.Second)
	corePeak := core.GFLOPS * 2 / (cpuTime() - c0).Seconds()
	t.Logf("one-core FMA peak %.0f GFLOP/s per CPU-second (%s); %d threads", corePeak, core.ISA, threads)
	for _, backend := range []struct {
		name string
		new  func() ml.Backend
		reps int
	}{{"fast", cpu.Default, 6}, {"reference", reference.New, 1}} {
		m, err := bert.Load(context.Background(), dir, bert.Options{Backend: backend.new()})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{20, 100} {
			set, err := wl.Find("short", "bert", n)
			if err != nil {
				t.Fatal(err)
			}
			seqs := set.Sequences()
			flops := shape.FLOPs(set.Lengths())
			score := func() {
				for i := 0; i < len(seqs); i += 32 {
					if _, err := m.Forward(context.Background(), seqs[i:min(i+32, len(seqs))]); err != nil {
						t.Fatal(err)
					}
				}
			}
			score() // warm-up: arenas, page faults
			var fracs, lat []float64
			var wall, peakFlops float64
			var cpu time.Duration
			for range backend.reps {
				c0 := cpuTime()
				t0 := time.Now()
				score()
				d := time.Since(t0)
				cpu += cpuTime() - c0
				p := benchmarks.MeasurePeak(threads, d)
				fracs = append(fracs, flops/d.Seconds()/1e9/p.GFLOPS)
				lat = append(lat, d.Seconds())
				wall += d.Seconds()
				peakFlops += p.GFLOPS * d.Seconds()
			}
			// Throughput: GOMAXPROCS requests at once, as the harness's
			// throughput phase runs them (they share the GEMM pool and the
			// helper goroutines).
			var conc string
			if backend.name == "fast" {
				const each = 3
				t0 := time.Now()
				var wg sync.WaitGroup
				for range threads {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range each {
							score()
						}
					}()
				}
				wg.Wait()
				d := time.Since(t0)
				p := benchmarks.MeasurePeak(threads, d)
				cgf := flops * each * float64(threads) / d.Seconds() / 1e9
				conc = fmt.Sprintf("; %d concurrent requests: %.1f pairs/s, %.1f%% of the interleaved peak",
					threads, float64(n*each*threads)/d.Seconds(), 100*cgf/p.GFLOPS)
			}
			gf := flops * float64(backend.reps) / wall / 1e9
			t.Logf("%-9s n=%3d (%5d tokens, %.1f GFLOP): median %.3f s/request, %.1f pairs/s, %.1f GFLOP/s = %.1f%% of the interleaved %d-thread peak (median of passes %.1f%%), %.1f%% of one core's peak per CPU-second%s",
				backend.name, n, set.Tokens(), flops/1e9, median(lat), float64(n)/median(lat), gf,
				100*gf/(peakFlops/wall), threads, 100*median(fracs),
				100*flops*float64(backend.reps)/cpu.Seconds()/1e9/corePeak, conc)
		}
		m.Close()
	}
}

func median(x []float64) float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
