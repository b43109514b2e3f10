package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crossrank/crossrank/benchmarks"
	"github.com/crossrank/crossrank/weights"
)

// `crossrank bench embed` and `crossrank bench hybrid`: the crossrank half of
// RESULTS.md's Embeddings sections (benchmarks/run_embed.py runs them).

// benchCommon are the timing flags both modes share with `crossrank bench`.
type benchCommon struct {
	budget      *time.Duration
	minReps     *int
	maxReps     *int
	batch       *int
	precision   *string
	workload    *string
	jsonOut     *string
	quiet       *bool
	concurrency *int
}

func addBenchCommon(fs interface {
	Duration(string, time.Duration, string) *time.Duration
	Int(string, int, string) *int
	String(string, string, string) *string
	Bool(string, bool, string) *bool
}) benchCommon {
	return benchCommon{
		budget:      fs.Duration("budget", 10*time.Second, "time for the latency phase (and the throughput phase), each"),
		minReps:     fs.Int("min-reps", 5, "at least this many latency samples"),
		maxReps:     fs.Int("max-reps", 200, "at most this many latency samples"),
		batch:       fs.Int("batch", 32, "texts (or pairs) per forward pass"),
		precision:   fs.String("precision", "fp32", precisionUsage+"; refused where this CPU has no fast kernel for it"),
		workload:    fs.String("workload", "", "workload file (default: the one built in, benchmarks/workload.json)"),
		jsonOut:     fs.String("json", "", "also write the result, one JSON object a line, to this file"),
		quiet:       fs.Bool("q", false, "no progress bar"),
		concurrency: fs.Int("concurrency", 0, "concurrent requests in the throughput phase (0: GOMAXPROCS; 1: skip it)"),
	}
}

func (c benchCommon) options(stderr io.Writer, label string) benchmarks.Options {
	o := benchmarks.Options{Precision: *c.precision, BatchSize: *c.batch, MinReps: *c.minReps, MaxReps: *c.maxReps,
		Budget: *c.budget, Concurrency: *c.concurrency}
	if !*c.quiet && isTerminal(stderr) {
		bar := &progressBar{w: stderr}
		o.Progress = func(phase string, frac float64) {
			bar.draw(label, phase, frac)
			if phase == "done" {
				bar.clear()
			}
		}
	}
	return o
}

func (c benchCommon) loadWorkload() (*benchmarks.Workload, error) {
	if *c.workload == "" {
		return benchmarks.DefaultWorkload()
	}
	return benchmarks.LoadWorkload(*c.workload)
}

// writeJSON writes v as one line to path ("" writes nothing).
func writeJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(f).Encode(v); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func runBenchEmbed(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench embed", stderr)
	model := fs.String("model", "", "embedding model folder or Hugging Face reference (org/name[@revision]); required")
	ns := fs.String("n", "100", "texts per request, comma-separated: a short set's N (20, 100), or all its documents (120)")
	c := addBenchCommon(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: crossrank bench embed --model MODEL [flags]")
		fmt.Fprintln(stderr, "\nEmbeds the benchmark workload's short-set documents (their text: tokenization is")
		fmt.Fprintln(stderr, "timed, as in every peer's encode) with the embed package and prints latency of one")
		fmt.Fprintln(stderr, "request (all N texts in one call), texts/s and peak RSS.")
		fs.PrintDefaults()
	}
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if *model == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	sizes, ok := parseSizes(*ns)
	if !ok {
		fmt.Fprintf(stderr, "crossrank bench embed: --n %q: want positive integers\n", *ns)
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(stderr, "crossrank bench embed:", err); return 1 }
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	w, err := c.loadWorkload()
	if err != nil {
		return fail(err)
	}
	dir, err := weights.Resolve(ctx, *model, weights.ResolveOptions{})
	if err != nil {
		return fail(err)
	}
	var results []*benchmarks.EmbedResult
	for _, n := range sizes {
		texts, _, err := w.EmbedTexts("bert", n)
		if err != nil {
			return fail(err)
		}
		r, err := benchmarks.RunEmbed(ctx, dir, texts, c.options(stderr, fmt.Sprintf("embed n=%d", n)))
		if err != nil {
			return fail(fmt.Errorf("n=%d: %w", n, err))
		}
		results = append(results, r)
	}
	if *c.jsonOut != "" {
		f, err := os.Create(*c.jsonOut)
		if err != nil {
			return fail(err)
		}
		enc := json.NewEncoder(f)
		for _, r := range results {
			if err := enc.Encode(r); err != nil {
				f.Close()
				return fail(err)
			}
		}
		if err := f.Close(); err != nil {
			return fail(err)
		}
	}
	fmt.Fprintf(stdout, "model %s; the workload's short-set documents as text (tokenization timed)\n", dir)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "precision\tn\ttokens\ttruncated\tp50 ms\tp95 ms\treps\ttexts/s\tat conc\tload s\tRSS MB\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.1f\t%d\t%.1f\t%d\t%.2f\t%.0f\t\n", r.Precision, r.N, r.Tokens, r.Truncated,
			r.LatencyP50Ms, r.LatencyP95Ms, r.Reps, r.TextsPerS, r.Concurrency, r.LoadS, r.PeakRSSMB)
	}
	tw.Flush()
	return 0
}

func runBenchHybrid(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench hybrid", stderr)
	model := fs.String("model", "", "embedding model folder or Hugging Face reference; required")
	rerankModel := fs.String("rerank-model", "", "cross-encoder folder or Hugging Face reference; required")
	docs := fs.Int("docs", 10000, "documents in the synthetic corpus")
	queries := fs.Int("queries", 50, "distinct queries, cycled through")
	retrievalK := fs.Int("retrieval-k", 20, "candidates retrieval gives the re-ranker")
	rerankK := fs.Int("rerank-k", 5, "results the re-ranker keeps")
	seed := fs.Uint64("seed", benchmarks.HybridSeed, "seed of the corpus and the queries")
	cacheFile := fs.String("embed-cache", "", "keep the corpus's vectors in this `file` between runs (the indexing time then reads it)")
	c := addBenchCommon(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: crossrank bench hybrid --model EMBED_MODEL --rerank-model CROSS_ENCODER [flags]")
		fmt.Fprintln(stderr, "\nHybrid search over a synthetic corpus (seeded, whole vocabulary words): the one-off")
		fmt.Fprintln(stderr, "indexing (BM25, the corpus's vectors), then per query, one at a time: BM25, dense,")
		fmt.Fprintln(stderr, "fused retrieval (RRF k = 60) and re-ranking of its candidates, each timed alone.")
		fs.PrintDefaults()
	}
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if *model == "" || *rerankModel == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if *docs < 1 || *queries < 1 || *retrievalK < 1 || *rerankK < 1 {
		fmt.Fprintln(stderr, "crossrank bench hybrid: --docs, --queries, --retrieval-k and --rerank-k must be at least 1")
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(stderr, "crossrank bench hybrid:", err); return 1 }
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	w, err := c.loadWorkload()
	if err != nil {
		return fail(err)
	}
	edir, err := weights.Resolve(ctx, *model, weights.ResolveOptions{})
	if err != nil {
		return fail(err)
	}
	rdir, err := weights.Resolve(ctx, *rerankModel, weights.ResolveOptions{})
	if err != nil {
		return fail(err)
	}
	o := benchmarks.HybridOptions{Options: c.options(stderr, "hybrid"), Docs: *docs, Queries: *queries,
		RetrievalK: *retrievalK, RerankK: *rerankK, Seed: *seed, CacheFile: *cacheFile}
	r, err := benchmarks.RunHybrid(ctx, w, edir, rdir, o)
	if err != nil {
		return fail(err)
	}
	if err := writeJSON(*c.jsonOut, r); err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "embedder %s, re-ranker %s, %s; corpus: %s\n", edir, rdir, r.Precision, r.Corpus)
	cached := ""
	if r.FromCache {
		cached = " (read from the cache)"
	}
	fmt.Fprintf(stdout, "indexing, once: BM25 %.2f s, dense vectors %.1f s%s\n", r.BM25IndexS, r.DenseIndexS, cached)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "per query\tp50 ms\tp95 ms\t")
	for _, l := range []struct {
		name     string
		p50, p95 float64
	}{
		{"BM25", r.BM25P50Ms, r.BM25P95Ms}, {"dense (query embedded)", r.DenseP50Ms, r.DenseP95Ms},
		{"retrieval (BM25 + dense + RRF)", r.RetrieveP50Ms, r.RetrieveP95Ms},
		{fmt.Sprintf("re-ranking %d candidates", r.RetrievalK), r.RerankP50Ms, r.RerankP95Ms},
		{"retrieval then re-ranking", r.TotalP50Ms, r.TotalP95Ms},
	} {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t\n", l.name, l.p50, l.p95)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d samples a phase; peak RSS %.0f MB\n", r.Reps, r.PeakRSSMB)
	return 0
}

func parseSizes(s string) ([]int, bool) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, false
		}
		out = append(out, n)
	}
	return out, len(out) > 0
}
