package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/crossrank/crossrank/benchmarks"
	"github.com/crossrank/crossrank/rerank"
	"github.com/crossrank/crossrank/weights"
)

func init() {
	register(&command{
		name:  "bench",
		short: "measure re-ranking speed on this machine (the crossrank half of benchmarks/RESULTS.md)",
		run:   runBench,
	})
}

func runBench(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] { // the embedding modes (cmd_bench_embed.go)
		case "embed":
			return runBenchEmbed(args[1:], stdout, stderr)
		case "hybrid":
			return runBenchHybrid(args[1:], stdout, stderr)
		}
	}
	fs := newFlagSet("bench", stderr)
	model := fs.String("model", "", "model folder or Hugging Face reference (org/name[@revision]); required")
	ns := fs.String("n", "20,100", "documents per request, comma-separated (the workload has 20 and 100)")
	set := fs.String("set", "short", "workload set: short (32-256-token documents) or long (512-2048, XLM-R models with 8k positions)")
	contenders := fs.String("contender", benchmarks.Library, "comma-separated: crossrank (library), crossrank-http (server on loopback)")
	budget := fs.Duration("budget", 10*time.Second, "time for the latency phase and for the throughput phase, each")
	minReps := fs.Int("min-reps", 5, "at least this many latency samples")
	maxReps := fs.Int("max-reps", 200, "at most this many latency samples")
	conc := fs.Int("concurrency", 0, "concurrent requests in the throughput phase (0: GOMAXPROCS; 1: skip it)")
	batch := fs.Int("batch", 32, "pairs per forward pass")
	precision := fs.String("precision", "fp32", precisionUsage+"; refused where this CPU has no fast kernel for it")
	backend := fs.String("backend", rerank.BackendCPU, "cpu, or reference: plain loops on gorgonia.org/tensor, fp32 only and slow (gonum's sgemm, about 4% of the CPU's peak), to check a surprising score against the plain definition of the forward pass")
	workload := fs.String("workload", "", "workload file (default: the one built in, benchmarks/workload.json)")
	jsonOut := fs.String("json", "", "also write the results, one JSON object a line with every pair's logit, to this file")
	quiet := fs.Bool("q", false, "no progress bar")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed runs to this file (go tool pprof -top FILE: the share of GEMM, attention and the rest)")
	flopsOnly := fs.Bool("flops", false, "only print the forward pass's FLOPs on the set's real tokens (benchmarks.Shape.FLOPs), one JSON object per --n")
	peakOnly := fs.Duration("peak", 0, "only measure the FP32 FMA peak for this long on GOMAXPROCS threads and print it as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: crossrank bench --model MODEL [flags]")
		fmt.Fprintln(stderr, "       crossrank bench embed|hybrid ... (embedding throughput; hybrid search latency: -h)")
		fmt.Fprintln(stderr, "\nScores the benchmark workload (fixed token ids: tokenization is not timed,")
		fmt.Fprintln(stderr, "except through the server) and prints latency, throughput, GFLOP/s and the")
		fmt.Fprintln(stderr, "fraction of this machine's measured FP32 FMA peak.")
		fs.PrintDefaults()
	}
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if *peakOnly > 0 {
		// The driver (benchmarks/run.py) measures the peak next to every
		// contender, whatever its language, with the same loop.
		p := benchmarks.MeasurePeak(runtime.GOMAXPROCS(0), *peakOnly)
		if err := json.NewEncoder(stdout).Encode(p); err != nil {
			fmt.Fprintln(stderr, "crossrank bench:", err)
			return 1
		}
		return 0
	}
	if *model == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	var sizes []int
	for _, f := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fmt.Fprintf(stderr, "crossrank bench: --n %q: want positive integers\n", *ns)
			return 2
		}
		sizes = append(sizes, n)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var w *benchmarks.Workload
	var err error
	if *workload == "" {
		w, err = benchmarks.DefaultWorkload()
	} else {
		w, err = benchmarks.LoadWorkload(*workload)
	}
	if err != nil {
		fmt.Fprintln(stderr, "crossrank bench:", err)
		return 1
	}
	dir, err := weights.Resolve(ctx, *model, weights.ResolveOptions{})
	if err != nil {
		fmt.Fprintln(stderr, "crossrank bench:", err)
		return 1
	}
	ck, err := benchmarks.Describe(dir)
	if err != nil {
		fmt.Fprintln(stderr, "crossrank bench:", err)
		return 1
	}
	family := ck.SetFamily
	if *flopsOnly {
		// The driver (benchmarks/run.py) files every contender's GFLOP/s
		// with this one count.
		for _, n := range sizes {
			s, err := w.Find(*set, family, n)
			if err != nil {
				fmt.Fprintln(stderr, "crossrank bench:", err)
				return 1
			}
			if err := json.NewEncoder(stdout).Encode(map[string]any{"set": *set, "n": n, "flops": ck.Shape.FLOPs(s.Lengths())}); err != nil {
				fmt.Fprintln(stderr, "crossrank bench:", err)
				return 1
			}
		}
		return 0
	}

	var jsonW *json.Encoder
	if *jsonOut != "" {
		f, err := os.Create(*jsonOut)
		if err != nil {
			fmt.Fprintln(stderr, "crossrank bench:", err)
			return 1
		}
		defer f.Close()
		jsonW = json.NewEncoder(f)
	}

	var bar *progressBar
	if !*quiet && isTerminal(stderr) {
		bar = &progressBar{w: stderr}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "crossrank bench:", err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			fmt.Fprintln(stderr, "crossrank bench: --cpuprofile:", err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintln(stderr, "crossrank bench: --cpuprofile:", err)
			}
		}()
	}
	var results []*benchmarks.Result
	for _, n := range sizes {
		s, err := w.Find(*set, family, n)
		if err != nil {
			fmt.Fprintln(stderr, "crossrank bench:", err)
			return 1
		}
		for _, c := range strings.Split(*contenders, ",") {
			c = strings.TrimSpace(c)
			opts := benchmarks.Options{
				Contender: c, Precision: *precision, Backend: *backend, BatchSize: *batch, MinReps: *minReps, MaxReps: *maxReps,
				Budget: *budget, Concurrency: *conc,
			}
			if bar != nil {
				label := fmt.Sprintf("%s n=%d", c, n)
				opts.Progress = func(phase string, frac float64) { bar.draw(label, phase, frac) }
			}
			r, err := benchmarks.Run(ctx, dir, s, opts)
			bar.clear()
			if err != nil {
				fmt.Fprintf(stderr, "crossrank bench: %s n=%d: %v\n", c, n, err)
				return 1
			}
			if jsonW != nil {
				if err := jsonW.Encode(r); err != nil {
					fmt.Fprintln(stderr, "crossrank bench:", err)
					return 1
				}
			}
			results = append(results, r)
		}
	}
	fmt.Fprintf(stdout, "model %s (%s, %s)\nworkload: query %d tokens; %s documents; token ids fixed, tokenization not timed (except crossrank-http)\n",
		dir, ck.Architectures, ck.Shape, w.QueryTokens, *set)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "contender\tprecision\tn\ttokens\tp50 ms\tp95 ms\treps\tpairs/s\tat conc\tGFLOP/s\tpeak\tof peak\tRSS MB\t")
	for _, r := range results {
		contender := r.Contender
		if r.Backend != "" {
			contender += "/" + r.Backend
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f\t%.1f\t%d\t%.1f\t%d\t%.1f\t%.0f\t%.1f%%\t%.0f\t\n",
			contender, r.Precision, r.N, r.Tokens, r.LatencyP50Ms, r.LatencyP95Ms, r.Reps, r.PairsPerS, r.Concurrency,
			r.GFLOPS, r.PeakGFLOPS, 100*r.FractionOfPeak, r.PeakRSSMB)
	}
	tw.Flush()
	fmt.Fprintln(stdout, "GFLOP/s counts the standard forward pass on real tokens only (crossrank skips most of its last layer, so this is a work rate); peak: FP32 FMA loop on all threads, measured in the same run. Peak RSS is the process's (all contenders so far).")
	return 0
}

// progressBar redraws one line on a terminal with '\r'. A nil bar does
// nothing, so callers need not check.
type progressBar struct {
	mu   sync.Mutex
	w    io.Writer
	last time.Time
}

func (b *progressBar) draw(label, phase string, frac float64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// The throughput phase reports from every client: a few redraws a
	// second are enough.
	if time.Since(b.last) < 100*time.Millisecond && frac < 1 {
		return
	}
	b.last = time.Now()
	frac = min(max(frac, 0), 1)
	const width = 30
	full := int(frac * width)
	fmt.Fprintf(b.w, "\r\033[K%s [%s%s] %3.0f%% %s", label, strings.Repeat("=", full), strings.Repeat(" ", width-full), 100*frac, phase)
}

func (b *progressBar) clear() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprint(b.w, "\r\033[K")
}
