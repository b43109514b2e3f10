//go:build cuda

package cuda

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crossrank/crossrank/bert"
	"github.com/crossrank/crossrank/ml"
)

// TestDeviceBench times whole re-rank requests on the GPU for gpu-check.sh.
// It runs only when CROSSRANK_BENCH_MODELS names checkpoints
// ("label=dir,label=dir"); results go to CROSSRANK_BENCH_OUT as JSON lines
// that gpu-check.sh's table script reads beside PyTorch's.
//
// The workload (benchmarkLengths) is the benchmark's: a 12-token query and N
// documents of 32 to 256 tokens, scored in one request; gpu-check.sh's
// PyTorch side builds the same lengths.

func benchmarkLengths(n int) []int {
	l := make([]int, n)
	for i := range l {
		l[i] = 32 + (i*97)%225 // deterministic, spread over 32..256
	}
	return l
}

const benchQueryTokens = 12

// benchSequences lays out query-document pairs as the model's tokenizer
// would: [CLS] q [SEP] d [SEP] with type ids 0/1 for BERT, <s> q </s></s> d
// </s> for XLM-R. The ids are arbitrary in-vocabulary tokens: timing does not
// depend on them.
func benchSequences(xlmr bool, n int) []ml.Sequence {
	seqs := make([]ml.Sequence, n)
	id := int32(1000)
	next := func() int32 { id = 1000 + (id*7919+13)%20000; return id }
	for i, dl := range benchmarkLengths(n) {
		var ids, types []int32
		if xlmr {
			ids = append(ids, 0)
			for range benchQueryTokens {
				ids = append(ids, next())
			}
			ids = append(ids, 2, 2)
			for range dl {
				ids = append(ids, next())
			}
			ids = append(ids, 2)
			types = make([]int32, len(ids))
		} else {
			ids = append(ids, 101)
			for range benchQueryTokens {
				ids = append(ids, next())
			}
			ids = append(ids, 102)
			types = make([]int32, len(ids))
			for range dl {
				ids = append(ids, next())
			}
			ids = append(ids, 102)
			for len(types) < len(ids) {
				types = append(types, 1)
			}
		}
		seqs[i] = ml.Sequence{IDs: ids, TypeIDs: types}
	}
	return seqs
}

type benchResult struct {
	Model       string  `json:"model"`
	Impl        string  `json:"impl"`
	Precision   string  `json:"precision"`
	N           int     `json:"n"`
	Concurrency int     `json:"concurrency"`
	MedianMS    float64 `json:"median_ms"`
	P90MS       float64 `json:"p90_ms"`
	DocsPerS    float64 `json:"docs_per_s"`
	Requests    int     `json:"requests"`
	Device      string  `json:"device"`
}

func TestDeviceBench(t *testing.T) {
	spec := os.Getenv("CROSSRANK_BENCH_MODELS")
	if spec == "" {
		t.Skip("CROSSRANK_BENCH_MODELS not set")
	}
	var out *json.Encoder
	if p := os.Getenv("CROSSRANK_BENCH_OUT"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		out = json.NewEncoder(f)
	}
	budget := 8 * time.Second // per measurement
	if s := os.Getenv("CROSSRANK_BENCH_SECONDS"); s != "" {
		if d, err := time.ParseDuration(s + "s"); err == nil {
			budget = d
		}
	}
	for _, item := range strings.Split(spec, ",") {
		label, dir, ok := strings.Cut(item, "=")
		if !ok {
			t.Fatalf("CROSSRANK_BENCH_MODELS item %q: want label=dir", item)
		}
		cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
		xlmr := strings.Contains(string(cfg), `"xlm-roberta"`)
		for _, p := range []Precision{FP32, FP16} {
			b := testBackend(t, p)
			b.poison = false
			ctx := context.Background()
			m, err := bert.Load(ctx, dir, bert.Options{Backend: b})
			if err != nil {
				t.Fatalf("%s: %v", label, err)
			}
			for _, n := range []int{20, 100} {
				seqs := benchSequences(xlmr, n)
				r := timeRequests(t, m, seqs, 1, budget/4)
				r.Model, r.Precision, r.N, r.Device = label, p.String(), n, b.Name()
				t.Logf("%+v", r)
				if out != nil {
					out.Encode(r)
				}
				// Where the time goes: each operation drained and timed.
				b.profiling = true
				for range 2 {
					if _, err := m.Forward(ctx, seqs); err != nil {
						t.Fatal(err)
					}
				}
				b.profiling = false
				t.Logf("profile %s %s N=%d (2 requests, each operation synchronised):\n  %s", label, p, n, strings.Join(b.profile(), "\n  "))
				if p != FP32 {
					// The attention kernels side by side on the same requests.
					for _, k := range []attnKernel{attnWMMA, attnSimple} {
						b.attention, b.profiling = k, true
						for range 2 {
							if _, err := m.Forward(ctx, seqs); err != nil {
								t.Fatal(err)
							}
						}
						b.attention, b.profiling = attnMMA, false
						for _, line := range b.profile() {
							if strings.HasPrefix(line, "attention") {
								t.Logf("profile %s %s N=%d, attention kernel %d instead: %s", label, p, n, k, line)
							}
						}
					}
				}
			}
			r := timeRequests(t, m, benchSequences(xlmr, 20), 16, budget/4)
			r.Model, r.Precision, r.N, r.Device = label, p.String(), 20, b.Name()
			t.Logf("%+v", r)
			if out != nil {
				out.Encode(r)
			}
			m.Close()
			b.Close()
		}
	}
}

// timeRequests sends the same request from conc goroutines for about d after
// a warm-up, and reports the latency median and p90 and documents per second.
func timeRequests(t *testing.T, m *bert.Model, seqs []ml.Sequence, conc int, d time.Duration) benchResult {
	ctx := context.Background()
	for range 3 { // warm-up: JIT, cuBLAS heuristics, buffer cache
		if _, err := m.Forward(ctx, seqs); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu   sync.Mutex
		lats []time.Duration
		fail atomic.Value
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for time.Since(start) < d {
				t0 := time.Now()
				if _, err := m.Forward(ctx, seqs); err != nil {
					fail.Store(err)
					return
				}
				l := time.Since(t0)
				mu.Lock()
				lats = append(lats, l)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	if err, _ := fail.Load().(error); err != nil {
		t.Fatal(err)
	}
	slices.Sort(lats)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return benchResult{
		Impl: "crossrank-cuda", Concurrency: conc, Requests: len(lats),
		MedianMS: ms(lats[len(lats)/2]), P90MS: ms(lats[len(lats)*9/10]),
		DocsPerS: float64(len(lats)*len(seqs)) / el.Seconds(),
	}
}
