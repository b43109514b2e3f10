package benchmarks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/internal/gemm"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/reference"
	"github.com/crossrank/crossrank/rerank"
	"github.com/crossrank/crossrank/server"
)

// The crossrank contenders.
const (
	// Library scores the workload's token ids with ml.Model.Forward
	// (ml.LoadWith: every registered architecture) in packed batches of
	// Options.BatchSize pairs: the engine as a Go program
	// embeds it, tokenization excluded like every other contender's.
	Library = "crossrank"
	// HTTP sends the workload's text to crossrank's server (TEI's POST
	// /rerank, raw scores) on a loopback port of the same process: the
	// serving figure, tokenization, JSON and HTTP included.
	HTTP = "crossrank-http"
)

// Options control a run. The zero value takes the defaults.
type Options struct {
	Contender string // Library (default) or HTTP
	// Precision is the engine's arithmetic: "fp32" (default), "bf16" or
	// "int8" (cpu.Options). A precision this CPU has no fast kernel
	// for is refused, so that a row never carries a name that did not run.
	Precision string
	// Backend is "cpu" (the default: package cpu) or "reference" (package
	// reference, fp32 only: plain loops at a few percent of the CPU's peak,
	// to see what the fast backend saves).
	Backend string
	// BatchSize is the most pairs in one forward pass (default 32, the
	// re-ranker's and sentence-transformers' default).
	BatchSize int
	// MinReps and MaxReps bound the latency samples (defaults 5 and 200);
	// between them sampling stops once Budget has passed.
	MinReps, MaxReps int
	// Budget is the time the latency phase and the throughput phase each
	// aim for (default 10s).
	Budget time.Duration
	// Concurrency is how many requests run at once in the throughput
	// phase (default GOMAXPROCS); 1 skips it and takes the throughput of
	// the latency phase.
	Concurrency int
	// PeakTime is how long the FMA peak is measured (default 1s).
	PeakTime time.Duration
	// Progress, if not nil, is told what runs and how far it is (0..1).
	Progress func(phase string, frac float64)
	// Logger receives the server's request lines (HTTP); nil discards them.
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Contender == "" {
		o.Contender = Library
	}
	if o.Precision == "" {
		o.Precision = "fp32"
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 32
	}
	if o.MinReps <= 0 {
		o.MinReps = 5
	}
	if o.MaxReps < o.MinReps {
		o.MaxReps = max(200, o.MinReps)
	}
	if o.Budget <= 0 {
		o.Budget = 10 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = runtime.GOMAXPROCS(0)
	}
	if o.PeakTime <= 0 {
		o.PeakTime = time.Second
	}
	if o.Progress == nil {
		o.Progress = func(string, float64) {}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// scorer scores one request: the set's pairs, logits in workload order.
type scorer interface {
	score(ctx context.Context) ([]float32, error)
	close()
}

// Run loads the model in dir, checks that the set fits it, and measures
// one contender: a warm-up request, then latency at concurrency 1, then
// throughput at Options.Concurrency, then the FMA peak.
func Run(ctx context.Context, dir string, set *Set, opts Options) (*Result, error) {
	opts.defaults()
	ck, err := Describe(dir)
	if err != nil {
		return nil, err
	}
	if int(set.MaxID()) >= ck.VocabSize {
		return nil, fmt.Errorf("bench: set %s has token id %d, beyond %s's vocab_size %d", set.Key(), set.MaxID(), dir, ck.VocabSize)
	}
	if set.Family != ck.SetFamily {
		return nil, fmt.Errorf("bench: set %s is for %s models; %s reads the %s sets", set.Key(), set.Family, dir, ck.SetFamily)
	}
	var be ml.Backend
	switch opts.Backend {
	case "", "cpu":
		pb, err := cpuBackend(opts.Precision)
		if err != nil {
			return nil, err
		}
		opts.Precision = pb.Precision()
		be = pb
	case "reference":
		if opts.Precision != "fp32" {
			return nil, fmt.Errorf("bench: the reference backend runs fp32 only, not %s", opts.Precision)
		}
		be = reference.New()
	default:
		return nil, fmt.Errorf("bench: backend %q: want cpu or reference", opts.Backend)
	}
	opts.Progress("loading "+filepath.Base(dir), 0)
	var sc scorer
	switch opts.Contender {
	case Library:
		sc, err = newLibrary(ctx, ck, set, opts.BatchSize, be)
	case HTTP:
		if ck.qwen3 {
			// The stand-in's tokenizer does not give the workload's text
			// back as its ids, and the card's prompt adds its own tokens
			// around every pair: the row would time other work.
			return nil, fmt.Errorf("bench: %s is not run on Qwen3 stand-ins: their tokenizer does not turn the workload's text into its ids, and the re-ranker's prompt adds tokens", HTTP)
		}
		sc, err = newHTTP(ctx, dir, set, opts, be)
	default:
		return nil, fmt.Errorf("bench: unknown contender %q (%s, %s)", opts.Contender, Library, HTTP)
	}
	if err != nil {
		return nil, err
	}
	defer sc.close()

	res := &Result{
		Contender: opts.Contender,
		Precision: opts.Precision,
		Model:     filepath.Base(filepath.Clean(dir)),
		Backend:   strings.TrimPrefix(opts.Backend, "cpu"),
		N:         set.N,
		Set:       set.Name,
		Tokens:    set.Tokens(),
		Threads:   runtime.GOMAXPROCS(0),
	}
	opts.Progress("warm-up", 0)
	logits, err := sc.score(ctx)
	if err != nil {
		return nil, err
	}
	res.Logits = logits

	// Latency: one request at a time.
	var lat []time.Duration
	start := time.Now()
	for len(lat) < opts.MaxReps && (len(lat) < opts.MinReps || time.Since(start) < opts.Budget) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		if _, err := sc.score(ctx); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
		opts.Progress("latency", max(float64(len(lat))/float64(opts.MinReps), float64(time.Since(start))/float64(opts.Budget)))
	}
	elapsed := time.Since(start)
	res.Reps = len(lat)
	res.LatencyP50Ms = percentile(lat, 50)
	res.LatencyP95Ms = percentile(lat, 95)
	res.PairsPerS = float64(set.N*len(lat)) / elapsed.Seconds()
	res.Concurrency = 1

	// Throughput: Concurrency requests in flight until the budget is spent
	// (each client finishes the request it started).
	if c := opts.Concurrency; c > 1 {
		var mu sync.Mutex
		var done int
		var firstErr error
		var wg sync.WaitGroup
		t0 := time.Now()
		for range c {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Since(t0) < opts.Budget || done < c {
					if _, err := sc.score(ctx); err != nil {
						mu.Lock()
						firstErr = cmpErr(firstErr, err)
						mu.Unlock()
						return
					}
					mu.Lock()
					done++
					mu.Unlock()
					opts.Progress(fmt.Sprintf("throughput x%d", c), float64(time.Since(t0))/float64(opts.Budget))
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return nil, firstErr
		}
		if tp := float64(set.N*done) / time.Since(t0).Seconds(); tp > res.PairsPerS {
			res.PairsPerS, res.Concurrency = tp, c
		}
	}

	opts.Progress("FMA peak", 0)
	peak := MeasurePeak(runtime.GOMAXPROCS(0), opts.PeakTime)
	res.GFLOPS = ck.Shape.FLOPs(set.Lengths()) * res.PairsPerS / float64(set.N) / 1e9
	if peak.GFLOPS > 0 {
		res.PeakGFLOPS = peak.GFLOPS
		res.FractionOfPeak = res.GFLOPS / peak.GFLOPS
	}
	res.PeakRSSMB = PeakRSSMB()
	opts.Progress("done", 1)
	return res, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// library is the Library contender.
type library struct {
	m     ml.Model
	seqs  []ml.Sequence
	batch int
}

// precisionBackend is the fast CPU backend, which says what it runs.
type precisionBackend interface {
	ml.Backend
	Precision() string
}

// cpuBackend is the fast CPU backend in precision prec, or an error when
// prec is unknown or this CPU has no fast kernel for it (the backend would
// run fp32).
func cpuBackend(prec string) (precisionBackend, error) {
	b, err := cpu.New(cpu.Options{Precision: prec, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	pb, ok := b.(precisionBackend)
	if !ok {
		return nil, fmt.Errorf("bench: the CPU backend does not say its precision")
	}
	// cpu.New accepted prec, so it parses.
	if want, _ := gemm.ParsePrecision(prec); pb.Precision() != want.String() {
		return nil, fmt.Errorf("bench: precision %s: the backend would run %s", prec, pb.Name())
	}
	return pb, nil
}

func newLibrary(ctx context.Context, ck *Checkpoint, set *Set, batch int, be ml.Backend) (*library, error) {
	m, err := ck.load(ctx, be)
	if err != nil {
		return nil, err
	}
	return &library{m: m, seqs: set.Sequences(), batch: batch}, nil
}

func (l *library) score(ctx context.Context) ([]float32, error) {
	out := make([]float32, 0, len(l.seqs))
	for i := 0; i < len(l.seqs); i += l.batch {
		logits, err := l.m.Forward(ctx, l.seqs[i:min(i+l.batch, len(l.seqs))])
		if err != nil {
			return nil, err
		}
		for _, lg := range logits {
			out = append(out, lg[0])
		}
	}
	return out, nil
}

func (l *library) close() { l.m.Close() }

// httpContender is the HTTP contender: a server on a loopback port of this
// process, and a client sending it the set's text.
type httpContender struct {
	r      *rerank.Reranker
	cancel context.CancelFunc
	served chan error
	url    string
	body   []byte
	n      int
	client *http.Client
}

func newHTTP(ctx context.Context, dir string, set *Set, opts Options, be ml.Backend) (*httpContender, error) {
	r, err := rerank.New(ctx, dir, rerank.Options{BatchSize: opts.BatchSize, Logger: opts.Logger, Backend: be})
	if err != nil {
		return nil, err
	}
	srv := server.New(server.Config{Logger: opts.Logger, Limits: server.Limits{MaxDocuments: max(set.N, 1000)}})
	srv.AddModel(filepath.Base(dir), r)
	srv.SetReady()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.Close()
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	h := &httpContender{r: r, cancel: cancel, served: make(chan error, 1), n: set.N,
		url:    "http://" + ln.Addr().String() + "/rerank",
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	go func() { h.served <- srv.Serve(sctx, ln, time.Second) }()
	texts := make([]string, len(set.Pairs))
	for i, p := range set.Pairs {
		texts[i] = p.Text
	}
	// TEI's form; raw_scores returns logits, so they compare with the
	// library's; truncate false makes a mismatch in lengths an error, not
	// a silent cut.
	h.body, err = json.Marshal(map[string]any{"query": set.Query, "texts": texts, "raw_scores": true, "truncate": false})
	if err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

func (h *httpContender) score(ctx context.Context) ([]float32, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(h.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: server: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	var got []struct {
		Index int     `json:"index"`
		Score float64 `json:"score"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		return nil, fmt.Errorf("bench: server response: %w", err)
	}
	if len(got) != h.n {
		return nil, fmt.Errorf("bench: server returned %d results for %d documents", len(got), h.n)
	}
	out := make([]float32, h.n)
	seen := make([]bool, h.n)
	for _, g := range got {
		if g.Index < 0 || g.Index >= h.n || seen[g.Index] {
			return nil, fmt.Errorf("bench: server returned index %d twice or out of range", g.Index)
		}
		seen[g.Index] = true
		out[g.Index] = float32(g.Score)
	}
	return out, nil
}

func (h *httpContender) close() {
	h.cancel()
	<-h.served // the benchmark is over: a shutdown error has no one to tell
	h.r.Close()
}
