package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/crossrank/crossrank/rerank"
)

// config is one load run.
type config struct {
	Server        string // crossrank binary; "" builds one
	Root          string // repository root; "" finds it above the working directory
	Duration      time.Duration
	Factor        float64
	Rate          float64 // if > 0, offered instead of Factor x saturation
	SatDuration   time.Duration
	SatWorkers    int
	ClientTimeout time.Duration
	ServerTimeout time.Duration
	MaxQueued     int
	MaxPairs      int
	// ReleaseAfter is the server's --release-memory-after.
	ReleaseAfter time.Duration
	IdleWait     time.Duration
	RSSLimitMB   int64
	Seed         int64
	Templates    int
	Log          io.Writer
}

func defaultConfig() config {
	return config{
		Root:          "",
		Duration:      5 * time.Minute,
		Factor:        2,
		SatDuration:   20 * time.Second,
		SatWorkers:    32,
		ClientTimeout: 30 * time.Second,
		ServerTimeout: 10 * time.Second,
		MaxQueued:     64,
		MaxPairs:      1024,
		ReleaseAfter:  2 * time.Second,
		IdleWait:      30 * time.Second,
		Seed:          1,
		Templates:     96,
		Log:           io.Discard,
	}
}

// The fixture models the server serves; TEI requests, which name no model,
// go to the first (the default).
var fixtureModels = []string{"bert", "xlmr"}

// template is one request of the mix, with the answer the library gives.
type template struct {
	path  string
	form  string
	model string
	body  []byte
	docs  int
	want  []ranked // best first, top_n applied
}

type ranked struct {
	Index int
	Score float64
}

// Report is what a run measured.
type Report struct {
	Models          []string `json:"models"`
	ModelBytes      int64    `json:"model_bytes"`
	Templates       int      `json:"templates"`
	SaturationRPS   float64  `json:"saturation_rps"`
	SaturationPairs float64  `json:"saturation_pairs_per_s"`
	OfferedRPS      float64  `json:"offered_rps"`
	DurationS       float64  `json:"duration_s"`

	Sent        int64 `json:"sent"`
	Answered    int64 `json:"answered"`
	OK          int64 `json:"ok"`
	Rejected429 int64 `json:"rejected_429"`
	Rejected503 int64 `json:"rejected_503"`
	// Failures: none of these may be above zero.
	Wrong         int64    `json:"wrong_answers"`
	BadStatus     int64    `json:"bad_status"`
	NoRetryAfter  int64    `json:"rejections_without_retry_after"`
	Hung          int64    `json:"hung"`
	Dropped       int64    `json:"dropped"`
	FirstProblems []string `json:"first_problems,omitempty"`

	AcceptedRPS    float64 `json:"accepted_rps"`
	P50ms          float64 `json:"p50_ms"`
	P99ms          float64 `json:"p99_ms"`
	MaxMs          float64 `json:"max_ms"`
	RejectP99ms    float64 `json:"reject_p99_ms"`
	MaxQueuedReqs  float64 `json:"max_queued_requests_seen"`
	QueueBound     int     `json:"queue_bound"`
	MaxPairsSeen   float64 `json:"max_pairs_in_flight_seen"`
	PairsBound     int     `json:"pairs_bound"`
	BaselineRSSMB  float64 `json:"baseline_rss_mib"`
	PeakRSSMB      float64 `json:"peak_rss_mib"`
	RSSLimitMB     float64 `json:"rss_limit_mib"`
	ActivationsMB  float64 `json:"activations_estimate_mib"`
	AfterRSSMB     float64 `json:"after_rss_mib"`
	BaselineHeapMB float64 `json:"baseline_heap_mib"`
	PeakHeapMB     float64 `json:"peak_heap_mib"`
	AfterHeapMB    float64 `json:"after_heap_mib"`
	IdleAfterS     float64 `json:"idle_after_s"` // -1: never came back
	QueueEmptied   bool    `json:"queue_emptied"`
	ServerErrors   int     `json:"server_error_log_lines"`
	ExitCode       int     `json:"server_exit_code"`
	ExitS          float64 `json:"server_exit_s"`
}

// Failures lists the broken promises; empty is a pass.
func (r *Report) Failures() []string {
	var f []string
	add := func(cond bool, format string, a ...any) {
		if cond {
			f = append(f, fmt.Sprintf(format, a...))
		}
	}
	add(r.Sent != r.Answered, "sent %d, answered %d", r.Sent, r.Answered)
	add(r.Wrong > 0, "%d answers differ from the library's", r.Wrong)
	add(r.BadStatus > 0, "%d answers with a status other than 200/429/503", r.BadStatus)
	add(r.NoRetryAfter > 0, "%d 429/503 without Retry-After", r.NoRetryAfter)
	add(r.Hung > 0, "%d requests hung past the client timeout", r.Hung)
	add(r.Dropped > 0, "%d requests dropped (connection error)", r.Dropped)
	add(r.OK == 0, "no request succeeded")
	add(r.MaxQueuedReqs > float64(r.QueueBound), "queue reached %v requests, bound %d", r.MaxQueuedReqs, r.QueueBound)
	add(r.MaxPairsSeen > float64(r.PairsBound), "pairs in flight reached %v, bound %d", r.MaxPairsSeen, r.PairsBound)
	add(r.PeakRSSMB > r.RSSLimitMB, "peak RSS %.1f MiB over the limit %.1f MiB", r.PeakRSSMB, r.RSSLimitMB)
	add(!r.QueueEmptied, "the queue did not empty after the load")
	add(r.IdleAfterS < 0, "memory did not return near idle (RSS %.1f MiB vs %.1f, heap %.1f MiB vs %.1f)",
		r.AfterRSSMB, r.BaselineRSSMB, r.AfterHeapMB, r.BaselineHeapMB)
	add(r.ServerErrors > 0, "%d ERROR lines in the server log", r.ServerErrors)
	add(r.ExitCode != 0, "server exit code %d after SIGTERM", r.ExitCode)
	return f
}

func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "models %v (%.1f MiB of weights), %d request templates (infinity/TEI/Jina/Cohere, 1-128 documents)\n",
		r.Models, float64(r.ModelBytes)/(1<<20), r.Templates)
	fmt.Fprintf(&b, "saturation (closed loop): %.1f requests/s, %.0f pairs/s\n", r.SaturationRPS, r.SaturationPairs)
	fmt.Fprintf(&b, "offered %.1f requests/s for %.0f s (open loop, Poisson)\n", r.OfferedRPS, r.DurationS)
	fmt.Fprintf(&b, "sent %d, answered %d (saturation and load); wrong %d, other status %d, no Retry-After %d, hung %d, dropped %d\n",
		r.Sent, r.Answered, r.Wrong, r.BadStatus, r.NoRetryAfter, r.Hung, r.Dropped)
	fmt.Fprintf(&b, "load: 200 %d (%.1f/s), 429 %d, 503 %d\n", r.OK, r.AcceptedRPS, r.Rejected429, r.Rejected503)
	fmt.Fprintf(&b, "accepted latency: p50 %.0f ms, p99 %.0f ms, max %.0f ms; rejections p99 %.1f ms\n",
		r.P50ms, r.P99ms, r.MaxMs, r.RejectP99ms)
	fmt.Fprintf(&b, "queue: at most %.0f requests waiting (bound %d), %.0f pairs in flight (bound %d); emptied after: %v\n",
		r.MaxQueuedReqs, r.QueueBound, r.MaxPairsSeen, r.PairsBound, r.QueueEmptied)
	fmt.Fprintf(&b, "RSS limit %.1f MiB: 2 x (weights x4 + bodies + %.1f MiB of forward-pass arenas, from the configs) + 64 MiB\n", r.RSSLimitMB, r.ActivationsMB)
	fmt.Fprintf(&b, "RSS: idle %.1f MiB, peak %.1f MiB (limit %.1f), after %.1f MiB; Go heap in use: idle %.1f, peak %.1f, after %.1f MiB; back near idle after %.1f s\n",
		r.BaselineRSSMB, r.PeakRSSMB, r.RSSLimitMB, r.AfterRSSMB, r.BaselineHeapMB, r.PeakHeapMB, r.AfterHeapMB, r.IdleAfterS)
	fmt.Fprintf(&b, "server: %d ERROR log lines; SIGTERM: exit %d after %.2f s\n", r.ServerErrors, r.ExitCode, r.ExitS)
	for _, p := range r.FirstProblems {
		fmt.Fprintf(&b, "  problem: %s\n", p)
	}
	return b.String()
}

func run(ctx context.Context, cfg config) (*Report, error) {
	logf := func(format string, a ...any) { fmt.Fprintf(cfg.Log, "crossrank-load: "+format+"\n", a...) }
	root, err := findRoot(cfg.Root)
	if err != nil {
		return nil, err
	}
	rep := &Report{Models: fixtureModels, QueueBound: cfg.MaxQueued, PairsBound: cfg.MaxPairs}
	dirs := map[string]string{}
	for _, m := range fixtureModels {
		dirs[m] = filepath.Join(root, "testdata", "models", m)
		files, _ := filepath.Glob(filepath.Join(dirs[m], "*.safetensors"))
		if len(files) == 0 {
			return nil, fmt.Errorf("no safetensors in %s", dirs[m])
		}
		for _, f := range files {
			if st, err := os.Stat(f); err == nil {
				rep.ModelBytes += st.Size()
			}
		}
	}

	// Build the server while the library computes the answers.
	bin := cfg.Server
	built := make(chan error, 1)
	if bin == "" {
		tmp, err := os.MkdirTemp("", "crossrank-load")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		bin = filepath.Join(tmp, "crossrank")
		logf("building %s", bin)
		go func() {
			goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
			if _, err := os.Stat(goBin); err != nil {
				goBin = "go" // a moved toolchain: the one on PATH
			}
			build := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./cmd/crossrank")
			build.Dir = root
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				built <- fmt.Errorf("building the server: %v\n%s", err, out)
				return
			}
			built <- nil
		}()
	} else {
		built <- nil
	}

	logf("precomputing the answers with the library")
	pre := time.Now()
	tpls, maxBody, maxDoc, err := makeTemplates(ctx, root, dirs, cfg.Templates, cfg.Seed)
	if err := <-built; err != nil {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	rep.Templates = len(tpls)
	logf("%d templates in %v", len(tpls), time.Since(pre).Round(time.Millisecond))
	// The memory bound follows what the server keeps live at once, times
	// two for the garbage collector's headroom (GOGC=100 lets the heap
	// grow to twice the live data between collections), plus the runtime:
	//   - the weights, mapped then prepared (at most a few copies);
	//   - request bodies: the queued requests whole, and the documents of
	//     the pairs in flight, each twice (raw body and decoded strings);
	//   - the forward pass's activation arenas, one pass per model
	//     (rerank's default of one worker): a full batch of 32 pairs of the
	//     model's maximum length, two size classes of it pooled (see
	//     activationBytes). Measured with a heap profile under this load,
	//     the arenas are 90% of the live heap (bert's fastRun.newTensor).
	var activations int64
	for _, m := range fixtureModels {
		a, err := activationBytes(dirs[m], 32)
		if err != nil {
			return nil, err
		}
		activations += a
	}
	live := 4*rep.ModelBytes + 2*(int64(cfg.MaxQueued)*int64(maxBody)+int64(cfg.MaxPairs)*int64(maxDoc)) + activations
	limit := 2*live + 64<<20
	if cfg.RSSLimitMB > 0 {
		limit = cfg.RSSLimitMB << 20
	}
	rep.ActivationsMB = mib(activations)
	rep.RSSLimitMB = mib(limit)

	srv, err := startServer(ctx, bin, dirs, cfg)
	if err != nil {
		return nil, err
	}
	defer srv.kill()
	logf("server pid %d on %s", srv.cmd.Process.Pid, srv.url)

	client := &http.Client{
		Timeout: cfg.ClientTimeout,
		Transport: &http.Transport{
			MaxIdleConns: 2048, MaxIdleConnsPerHost: 2048, IdleConnTimeout: time.Minute,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		},
	}
	st := &stats{}

	// Warm-up and correctness on an idle server: every template once.
	for _, t := range tpls {
		if o := send(ctx, client, srv.url, t); o.kind != kindOK {
			return nil, fmt.Errorf("warm-up %s %s (%d documents): %s", t.path, t.form, t.docs, o.problem)
		}
	}
	// Idle baseline: after the server's idle release.
	sleep(ctx, cfg.ReleaseAfter+time.Second)
	rep.BaselineRSSMB = mib(srv.rss())
	rep.BaselineHeapMB = mib(int64(srv.metric(client, "go_memstats_heap_inuse_bytes")))

	// Saturation: closed loop.
	logf("measuring saturation for %v with %d clients", cfg.SatDuration, cfg.SatWorkers)
	sat := &stats{}
	var satPairs atomic.Int64
	satCtx, satStop := context.WithTimeout(ctx, cfg.SatDuration)
	var wg sync.WaitGroup
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 2))
	picks := make([][]int, cfg.SatWorkers)
	for w := range picks {
		for range 10000 {
			picks[w] = append(picks[w], rng.IntN(len(tpls)))
		}
	}
	satStart := time.Now()
	for w := range cfg.SatWorkers {
		wg.Go(func() {
			for i := 0; satCtx.Err() == nil; i++ {
				t := tpls[picks[w][i%len(picks[w])]]
				o := send(ctx, client, srv.url, t)
				if o.kind == kindOK {
					satPairs.Add(int64(t.docs))
				}
				sat.add(o)
			}
		})
	}
	wg.Wait()
	satStop()
	satElapsed := time.Since(satStart).Seconds()
	rep.SaturationRPS = float64(sat.count[kindOK]) / satElapsed
	rep.SaturationPairs = float64(satPairs.Load()) / satElapsed
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	rep.OfferedRPS = cfg.Factor * rep.SaturationRPS
	if cfg.Rate > 0 {
		rep.OfferedRPS = cfg.Rate
	}
	if rep.OfferedRPS <= 0 {
		return nil, errors.New("saturation rate is zero: no request succeeded")
	}

	// The load: open loop, Poisson arrivals at the offered rate.
	logf("offering %.1f requests/s for %v", rep.OfferedRPS, cfg.Duration)
	var peakRSS, peakHeap, maxQ, maxPairs atomic.Int64
	peakRSS.Store(srv.rss())
	sampleCtx, sampleStop := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		mc := &http.Client{Timeout: 5 * time.Second}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-sampleCtx.Done():
				return
			case <-tick.C:
			}
			storeMax(&peakRSS, srv.rss())
			if i%3 == 0 {
				m := srv.metrics(mc)
				storeMax(&peakHeap, int64(m["go_memstats_heap_inuse_bytes"]))
				storeMax(&maxQ, int64(m["crossrank_queue_requests_waiting"]))
				storeMax(&maxPairs, int64(m["crossrank_queue_pairs_in_flight"]))
			}
		}
	}()
	loadCtx, loadStop := context.WithTimeout(ctx, cfg.Duration)
	var sent atomic.Int64
	loadStart := time.Now()
	next := loadStart
	for loadCtx.Err() == nil {
		next = next.Add(time.Duration(rng.ExpFloat64() / rep.OfferedRPS * float64(time.Second)))
		if d := time.Until(next); d > 0 {
			sleep(loadCtx, d)
		}
		if loadCtx.Err() != nil {
			break
		}
		t := tpls[rng.IntN(len(tpls))]
		sent.Add(1)
		wg.Go(func() { st.add(send(ctx, client, srv.url, t)) })
	}
	loadStop()
	elapsed := time.Since(loadStart).Seconds()
	wg.Wait() // every request answered, or timed out on the client
	sampleStop()
	<-sampled
	rep.DurationS = elapsed
	// Sent and answered count both phases; so do the failures. The
	// successes and latencies are the open-loop load's.
	rep.Sent = sent.Load() + sat.total()
	rep.Answered = st.answered() + sat.answered()
	rep.OK, rep.Rejected429, rep.Rejected503 = st.count[kindOK], st.count[kind429], st.count[kind503]
	all := &stats{count: st.count, problems: st.problems}
	all.merge(sat)
	rep.Wrong, rep.BadStatus, rep.NoRetryAfter = all.count[kindWrong], all.count[kindStatus], all.count[kindNoRetry]
	rep.Hung, rep.Dropped = all.count[kindHung], all.count[kindDropped]
	rep.FirstProblems = all.problems
	rep.AcceptedRPS = float64(rep.OK) / elapsed
	rep.P50ms, rep.P99ms, rep.MaxMs = pct(st.okLat, 0.5), pct(st.okLat, 0.99), pct(st.okLat, 1)
	rep.RejectP99ms = pct(st.rejLat, 0.99)
	rep.PeakRSSMB = mib(max(peakRSS.Load(), srv.hwm()))
	rep.PeakHeapMB = mib(peakHeap.Load())
	rep.MaxQueuedReqs, rep.MaxPairsSeen = float64(maxQ.Load()), float64(maxPairs.Load())

	// After the load: the queue empties, then memory returns near idle.
	// "Near": RSS within a quarter of idle plus 16 MiB (the runtime keeps
	// some spans and the allocator's arenas), the heap within half plus
	// 8 MiB.
	idleStart := time.Now()
	rep.IdleAfterS = -1
	for time.Since(idleStart) < cfg.IdleWait && ctx.Err() == nil {
		m := srv.metrics(client)
		q := m["crossrank_queue_pairs_in_flight"] + m["crossrank_queue_pairs_waiting"] + m["crossrank_queue_requests_waiting"]
		if q == 0 {
			rep.QueueEmptied = true
		}
		rss, heap := srv.rss(), int64(m["go_memstats_heap_inuse_bytes"])
		rep.AfterRSSMB, rep.AfterHeapMB = mib(rss), mib(heap)
		if rep.QueueEmptied && rep.AfterRSSMB <= rep.BaselineRSSMB*1.25+16 && rep.AfterHeapMB <= rep.BaselineHeapMB*1.5+8 {
			rep.IdleAfterS = time.Since(idleStart).Seconds()
			break
		}
		sleep(ctx, 250*time.Millisecond)
	}

	rep.ServerErrors = srv.errorLines()
	exitStart := time.Now()
	rep.ExitCode = srv.stop(30 * time.Second)
	rep.ExitS = time.Since(exitStart).Seconds()
	return rep, nil
}

// findRoot returns dir, or when dir is "" the nearest folder above the
// working directory whose go.mod is crossrank's.
func findRoot(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/crossrank/crossrank\n") {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", errors.New("not inside the crossrank repository: pass --root")
		}
		d = up
	}
}

// makeTemplates builds n requests from the corpus, in every form, against
// both models, with 1 to 128 documents of one to many sentences (some cut
// to the model's length), and computes each answer with the library.
func makeTemplates(ctx context.Context, root string, dirs map[string]string, n int, seed int64) (tpls []*template, maxBody, maxDoc int, err error) {
	corpus, err := readCorpus(filepath.Join(root, "testdata", "corpus.jsonl"))
	if err != nil {
		return nil, 0, 0, err
	}
	libs := map[string]*rerank.Reranker{}
	for _, m := range fixtureModels {
		r, err := rerank.New(ctx, dirs[m], rerank.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return nil, 0, 0, fmt.Errorf("loading %s with the library: %w", m, err)
		}
		defer r.Close()
		libs[m] = r
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	sizes := []int{1, 2, 4, 8, 8, 16, 16, 32, 64, 128}
	line := func() string { return corpus[rng.IntN(len(corpus))] }
	var out []*template
	for i := range n {
		form := []string{"infinity", "tei", "jina", "cohere"}[i%4]
		model := fixtureModels[(i/4)%len(fixtureModels)]
		if form == "tei" {
			model = fixtureModels[0] // TEI names no model: the default
		}
		query := line()
		docs := make([]string, sizes[rng.IntN(len(sizes))])
		for d := range docs {
			k := 1 + rng.IntN(3)
			if rng.IntN(8) == 0 {
				k = 10 + rng.IntN(30) // longer than the model takes: truncated
			}
			parts := make([]string, k)
			for j := range parts {
				parts[j] = line()
			}
			docs[d] = strings.Join(parts, " ")
			maxDoc = max(maxDoc, len(docs[d]))
		}
		topN := 0
		if rng.IntN(2) == 0 {
			topN = 1 + rng.IntN(len(docs))
		}
		var opts rerank.RerankOptions
		t := &template{form: form, model: model, docs: len(docs)}
		var body map[string]any
		switch form {
		case "infinity":
			t.path = "/rerank"
			body = map[string]any{"query": query, "documents": docs, "model": model, "return_documents": rng.IntN(2) == 0, "raw_scores": false}
			if topN > 0 {
				body["top_n"] = topN
			}
		case "tei":
			t.path = "/rerank"
			body = map[string]any{"query": query, "texts": docs, "truncate": true, "truncation_direction": "Right", "raw_scores": false, "return_text": rng.IntN(2) == 0}
			topN = 0
		case "jina":
			t.path = "/v1/rerank"
			ds := make([]any, len(docs))
			for d, s := range docs {
				if d%2 == 0 {
					ds[d] = s
				} else {
					ds[d] = map[string]string{"text": s}
				}
			}
			body = map[string]any{"model": model, "query": query, "documents": ds, "return_documents": rng.IntN(2) == 0}
			if topN > 0 {
				body["top_n"] = topN
			}
		case "cohere":
			t.path = "/v2/rerank"
			body = map[string]any{"model": model, "query": query, "documents": docs}
			if topN > 0 {
				body["top_n"] = topN
			}
			if rng.IntN(2) == 0 {
				body["max_tokens_per_doc"] = 8 + rng.IntN(64)
				opts.MaxDocTokens = body["max_tokens_per_doc"].(int)
			}
		}
		if t.body, err = json.Marshal(body); err != nil {
			return nil, 0, 0, err
		}
		maxBody = max(maxBody, len(t.body))
		res, err := libs[model].RerankStrings(ctx, query, docs, opts)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("library on template %d: %w", i, err)
		}
		for _, r := range res {
			t.want = append(t.want, ranked{r.Index, r.Score})
		}
		if topN > 0 && topN < len(t.want) {
			t.want = t.want[:topN]
		}
		out = append(out, t)
	}
	return out, maxBody, maxDoc, nil
}

// activationBytes bounds the activation arenas of one forward pass of
// batch pairs of the model's maximum length, from its config.json: per
// token about 16 hidden-wide and 4 intermediate-wide float32 buffers are
// live in a run (attention works block by block and never builds a
// len x len matrix), and the arenas are pooled by size class, so a mix of
// batch sizes keeps about two full batches' worth.
func activationBytes(dir string, batch int) (int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return 0, err
	}
	var c struct {
		Hidden int `json:"hidden_size"`
		Inter  int `json:"intermediate_size"`
		MaxPos int `json:"max_position_embeddings"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return 0, fmt.Errorf("%s/config.json: %w", dir, err)
	}
	l := int64(min(c.MaxPos, 512))
	return 2 * int64(batch) * l * (16*int64(c.Hidden) + 4*int64(c.Inter)) * 4, nil
}

func readCorpus(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		// The corpus has hostile lines (NUL characters) that the server
		// refuses by design; the load is about valid requests.
		if strings.TrimSpace(rec.Text) != "" && !strings.ContainsRune(rec.Text, 0) {
			out = append(out, rec.Text)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no texts", path)
	}
	return out, sc.Err()
}

type kind int

const (
	kindOK kind = iota
	kind429
	kind503
	kindWrong
	kindStatus
	kindNoRetry
	kindHung
	kindDropped
	nKinds
)

type outcome struct {
	kind    kind
	latency time.Duration
	problem string
}

// send posts t and checks the answer against the library's.
func send(ctx context.Context, c *http.Client, url string, t *template) outcome {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, "POST", url+t.path, bytes.NewReader(t.body))
	if err != nil {
		return outcome{kind: kindDropped, problem: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return outcome{kind: kindHung, latency: time.Since(start), problem: err.Error()}
		}
		return outcome{kind: kindDropped, latency: time.Since(start), problem: err.Error()}
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	lat := time.Since(start)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return outcome{kind: kindHung, latency: lat, problem: "reading the answer: " + err.Error()}
		}
		return outcome{kind: kindDropped, latency: lat, problem: "reading the answer: " + err.Error()}
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
			return outcome{kind: kindNoRetry, latency: lat, problem: fmt.Sprintf("%d with Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)}
		}
		if resp.StatusCode == 429 {
			return outcome{kind: kind429, latency: lat}
		}
		return outcome{kind: kind503, latency: lat}
	default:
		return outcome{kind: kindStatus, latency: lat, problem: fmt.Sprintf("%s %s: status %d: %.200s", t.path, t.form, resp.StatusCode, body)}
	}
	type result struct {
		Index          int         `json:"index"`
		Score          json.Number `json:"score"`
		RelevanceScore json.Number `json:"relevance_score"`
	}
	var got []result
	if t.form == "tei" {
		err = json.Unmarshal(body, &got)
	} else {
		var r struct {
			Results []result `json:"results"`
		}
		err = json.Unmarshal(body, &r)
		got = r.Results
	}
	wrong := func(format string, a ...any) outcome {
		return outcome{kind: kindWrong, latency: lat, problem: fmt.Sprintf("%s %s %s: ", t.path, t.form, t.model) + fmt.Sprintf(format, a...)}
	}
	if err != nil {
		return wrong("decoding %.200s: %v", body, err)
	}
	if len(got) != len(t.want) {
		return wrong("%d results, library %d", len(got), len(t.want))
	}
	for i, w := range t.want {
		s := got[i].RelevanceScore
		if t.form == "tei" {
			s = got[i].Score
		}
		f, err := s.Float64()
		if err != nil || got[i].Index != w.Index || f != w.Score {
			return wrong("result %d: index %d score %s, library index %d score %v", i, got[i].Index, s, w.Index, w.Score)
		}
	}
	return outcome{kind: kindOK, latency: lat}
}

// stats collects outcomes.
type stats struct {
	mu       sync.Mutex
	count    [nKinds]int64
	okLat    []float64 // ms
	rejLat   []float64
	problems []string
}

func (s *stats) add(o outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count[o.kind]++
	switch o.kind {
	case kindOK:
		s.okLat = append(s.okLat, ms(o.latency))
	case kind429, kind503:
		s.rejLat = append(s.rejLat, ms(o.latency))
	}
	if o.problem != "" && len(s.problems) < 5 {
		s.problems = append(s.problems, o.problem)
	}
}

// merge adds o's failures (not its successes: saturation is not the load).
func (s *stats) merge(o *stats) {
	for k := kindWrong; k < nKinds; k++ {
		s.count[k] += o.count[k]
	}
	s.problems = append(s.problems, o.problems...)
}

func (s *stats) total() int64 {
	var n int64
	for _, c := range s.count {
		n += c
	}
	return n
}

func (s *stats) answered() int64 { return s.total() - s.count[kindHung] - s.count[kindDropped] }

// server is the crossrank serve process under test.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}

	mu       sync.Mutex
	errLines int
	tail     []string
}

func startServer(ctx context.Context, bin string, dirs map[string]string, cfg config) (*server, error) {
	args := []string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json",
		"--max-queued-requests", fmt.Sprint(cfg.MaxQueued), "--max-pairs-in-flight", fmt.Sprint(cfg.MaxPairs),
		"--timeout", cfg.ServerTimeout.String(), "--grace", "20s", "--release-memory-after", cfg.ReleaseAfter.String()}
	for _, m := range fixtureModels {
		args = append(args, "--model", m+"="+dirs[m])
	}
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rec struct {
				Level string `json:"level"`
				Msg   string `json:"msg"`
				Addr  string `json:"addr"`
			}
			json.Unmarshal(sc.Bytes(), &rec)
			s.mu.Lock()
			if rec.Level == "ERROR" {
				s.errLines++
			}
			if rec.Msg != "request" {
				s.tail = append(s.tail, sc.Text())
				if len(s.tail) > 20 {
					s.tail = s.tail[1:]
				}
			}
			s.mu.Unlock()
			if rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
		cmd.Wait()
		close(s.done)
	}()
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-s.done:
		return nil, fmt.Errorf("the server exited before listening: %s", strings.Join(s.tail, "\n"))
	case <-time.After(30 * time.Second):
		s.kill()
		return nil, errors.New("the server did not say where it listens within 30 s")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.kill()
			return nil, fmt.Errorf("the server was not ready within 60 s: %s", strings.Join(s.tail, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) errorLines() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errLines
}

// stop sends SIGTERM and waits for the exit; it returns the exit code.
func (s *server) stop(wait time.Duration) int {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(wait):
		s.kill()
		return -1
	}
}

func (s *server) kill() {
	select {
	case <-s.done:
	default:
		s.cmd.Process.Kill()
		<-s.done
	}
}

// rss and hwm read the server's current and peak resident set size from
// /proc (Linux); 0 elsewhere.
func (s *server) rss() int64 { return procStatus(s.cmd.Process.Pid, "VmRSS:") }
func (s *server) hwm() int64 { return procStatus(s.cmd.Process.Pid, "VmHWM:") }

func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// metrics scrapes the unlabelled series of /metrics.
func (s *server) metrics(c *http.Client) map[string]float64 {
	out := map[string]float64{}
	resp, err := c.Get(s.url + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") || strings.Contains(l, "{") {
			continue
		}
		if name, v, ok := strings.Cut(l, " "); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				out[name] = f
			}
		}
	}
	return out
}

func (s *server) metric(c *http.Client, name string) float64 { return s.metrics(c)[name] }

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func mib(b int64) float64        { return float64(b) / (1 << 20) }
