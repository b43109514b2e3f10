package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crossrank/crossrank/rerank"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Ranker is what the server needs of a loaded model. *rerank.Reranker
// satisfies it; tests also use a fake.
type Ranker interface {
	Rerank(ctx context.Context, query string, docs []rerank.Document, o rerank.RerankOptions) ([]rerank.Result, error)
	Info() rerank.Info
}

var _ Ranker = (*rerank.Reranker)(nil)

// Config configures a Server. The zero value is usable: default limits, no
// authentication, slog.Default().
type Config struct {
	Limits Limits
	// MaxPairsInFlight is how many (query, document) pairs admitted requests
	// may hold at once (default 1024, and never below Limits.MaxDocuments).
	// The re-ranker batches all of them together.
	MaxPairsInFlight int
	// MaxQueuedRequests and MaxQueuedPairs bound the requests waiting for
	// admission (defaults 512 and 16 * MaxPairsInFlight). A request that
	// finds the queue full, or whose wait the measured throughput says
	// would outlast RequestTimeout, is refused at once with 429 and
	// Retry-After.
	MaxQueuedRequests int
	MaxQueuedPairs    int
	// MaxOpenRequests bounds the re-rank requests inside the server at
	// once, from the first byte of their body to their answer (default
	// MaxQueuedRequests + 512). Past it a request gets 429 before its body
	// is read, so that memory for bodies is bounded by about
	// MaxOpenRequests * Limits.MaxBodyBytes.
	MaxOpenRequests int
	// RequestTimeout bounds a request's queueing and scoring (default 60s);
	// a request that runs out gets 503 with Retry-After.
	RequestTimeout time.Duration
	// APIKey, if set, is the bearer token every endpoint except the
	// probes requires (/health, /livez, /readyz, /v2/health/live and
	// /ready, /weaviate/.well-known/live and /ready). It is compared in
	// constant time and never logged.
	APIKey string
	// StrictModelNames refuses a model name that is not served with 404
	// even when only one model of the kind is served, on the re-rank and
	// the embedding routes. By default a server with one re-ranking model
	// answers every name with it (and names it in the answer), as
	// text-embeddings-inference and llama.cpp do: the Cohere SDK and most
	// RAG frameworks always send some name ("rerank-v3.5"); one embedding
	// model likewise answers OpenAI clients' "text-embedding-3-small".
	StrictModelNames bool
	// Logger receives one line per request; nil means slog.Default().
	Logger *slog.Logger
	// Version is reported by /info.
	Version string
	// ReleaseMemoryAfter is how long the server must have been idle (no
	// re-rank request open) after a burst before it returns the memory the
	// burst used to the operating system (default 10s; negative: never).
	// Without it the Go runtime keeps freed heap for minutes, and the
	// process's RSS stays at the burst's peak.
	ReleaseMemoryAfter time.Duration
}

// Server answers re-rank requests for one or more models.
type Server struct {
	cfg     Config
	log     *slog.Logger
	queue   *admission
	metrics *metrics
	handler http.Handler
	keyHash [sha256.Size]byte // of the API key; the key itself is not kept

	emb embedders // embed.go

	mu       sync.RWMutex
	models   map[string]Ranker
	names    []string // in the order added; names[0] is the default model
	ready    atomic.Bool
	draining atomic.Bool
	inFlight atomic.Int64 // rank requests being handled
	// lastDone is when the last re-rank request finished (UnixNano), and
	// dirty says that one has run since memory was last released.
	lastDone atomic.Int64
	dirty    atomic.Bool
}

// New returns a server with no models. It answers /health with 503 until
// SetReady is called; add the models first with AddModel.
func New(cfg Config) *Server {
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.MaxPairsInFlight <= 0 {
		cfg.MaxPairsInFlight = 1024
	}
	cfg.MaxPairsInFlight = max(cfg.MaxPairsInFlight, cfg.Limits.MaxDocuments)
	if cfg.MaxQueuedRequests <= 0 {
		cfg.MaxQueuedRequests = 512
	}
	if cfg.MaxQueuedPairs <= 0 {
		cfg.MaxQueuedPairs = 16 * cfg.MaxPairsInFlight
	}
	if cfg.MaxOpenRequests <= 0 {
		cfg.MaxOpenRequests = cfg.MaxQueuedRequests + 512
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 60 * time.Second
	}
	if cfg.ReleaseMemoryAfter == 0 {
		cfg.ReleaseMemoryAfter = 10 * time.Second
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		queue:  newAdmission(cfg.MaxPairsInFlight, cfg.MaxQueuedRequests, cfg.MaxQueuedPairs, cfg.RequestTimeout),
		models: map[string]Ranker{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if cfg.APIKey != "" {
		s.keyHash = sha256.Sum256([]byte(cfg.APIKey))
	}
	s.cfg.APIKey = ""
	s.metrics = newMetrics(s)
	s.handler = s.routes()
	return s
}

// AddModel serves r under name (what requests put in their model field).
// The first model added is the default, used when a request names none.
func (s *Server) AddModel(name string, r Ranker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.models[name]; !ok {
		s.names = append(s.names, name)
	}
	s.models[name] = r
}

// SetReady marks every model loaded: /health answers 200 and re-rank
// requests are served.
func (s *Server) SetReady() { s.ready.Store(true) }

// Ready reports whether the server takes requests: its models are loaded
// and it is not shutting down.
func (s *Server) Ready() bool { return s.ready.Load() && !s.draining.Load() }

// Drain starts a graceful shutdown: /health answers 503, new re-rank
// requests get 503 with Retry-After, and the requests already admitted
// finish.
func (s *Server) Drain() { s.draining.Store(true) }

// InFlight is the number of re-rank requests being handled now.
func (s *Server) InFlight() int { return int(s.inFlight.Load()) }

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers HTTP on ln until ctx ends, then shuts down gracefully: it
// drains (new requests get 503 while the listener stays open, so that
// clients and load balancers are told rather than refused), waits up to
// grace for the requests in flight, then closes. It returns nil after a
// clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	hs := &http.Server{
		Handler: s.handler,
		// Slow clients must not hold connections forever: headers within
		// 10 s, the whole body within the request timeout.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.RequestTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if s.cfg.ReleaseMemoryAfter > 0 {
		idleCtx, stopIdle := context.WithCancel(ctx)
		defer stopIdle()
		go s.releaseWhenIdle(idleCtx, s.cfg.ReleaseMemoryAfter)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Drain()
	s.log.Info("shutting down", "in_flight", s.InFlight(), "grace", grace)
	deadline := time.Now().Add(grace)
	for s.InFlight() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	left := s.InFlight()
	sctx, cancel := context.WithDeadline(context.Background(), deadline.Add(time.Second))
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		hs.Close()
	}
	if left > 0 {
		return fmt.Errorf("server: %d requests still running after the %v grace period", left, grace)
	}
	if err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	return nil
}

// releaseWhenIdle returns freed heap to the operating system once the
// server has been idle for idle after serving requests, so that a burst's
// memory does not stay with the process. The forced collection this costs
// (milliseconds for a small heap) only ever runs while nothing is served.
func (s *Server) releaseWhenIdle(ctx context.Context, idle time.Duration) {
	t := time.NewTicker(max(idle/4, 50*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.dirty.Load() || s.inFlight.Load() > 0 || time.Since(time.Unix(0, s.lastDone.Load())) < idle {
			continue
		}
		s.dirty.Store(false)
		// Two collections: the first moves sync.Pool contents (the
		// forward pass's scratch buffers) to the pools' victim caches, the
		// second frees them; FreeOSMemory then returns the pages.
		runtime.GC()
		debug.FreeOSMemory()
		s.metrics.memoryReleases.Inc()
	}
}

// rankPaths are the paths of the re-rank routes, for logs and metrics.
var rankPaths = [numEndpoints]string{
	epRerank: "/rerank", epJina: "/v1/rerank", epCohere: "/v2/rerank",
	epWeaviate: weaviatePrefix + "/rerank", epOIP: "/v2/models/{name}/infer",
}

// weaviatePrefix is where Weaviate's reranker-transformers form is served:
// its RERANKER_INFERENCE_API is http://HOST:PORT/weaviate.
const weaviatePrefix = "/weaviate"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /rerank", s.rankHandler(epRerank))
	mux.Handle("POST /v1/rerank", s.rankHandler(epJina))
	mux.Handle("POST /v2/rerank", s.rankHandler(epCohere))
	s.embedRoutes(mux) // embed.go
	mux.Handle("POST "+weaviatePrefix+"/rerank", s.rankHandler(epWeaviate))
	mux.HandleFunc("GET "+weaviatePrefix+"/.well-known/live", s.weaviateLive)
	mux.HandleFunc("GET "+weaviatePrefix+"/.well-known/ready", s.weaviateReady)
	mux.HandleFunc("GET "+weaviatePrefix+"/meta", s.weaviateMeta)
	mux.HandleFunc("GET /v2", s.oipServerMetadata)
	mux.HandleFunc("GET /v2/health/live", s.oipLive)
	mux.HandleFunc("GET /v2/health/ready", s.oipReady)
	mux.HandleFunc("GET /v2/models/", s.oipModel)
	mux.Handle("POST /v2/models/", s.oipInfer())
	mux.HandleFunc("GET /v1/models", s.listModels)
	mux.HandleFunc("GET /models", s.listModels)
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /livez", s.livez)
	mux.HandleFunc("GET /readyz", s.health)
	mux.HandleFunc("GET /info", s.info)
	mux.HandleFunc("GET /openapi.json", serveOpenAPI)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, newErr(formOfPath(r.URL.Path), http.StatusNotFound, kindNotFound,
			"no endpoint %s %s; see GET /openapi.json", r.Method, r.URL.Path))
	})
	return s.auth(mux)
}

// probes answer without the API key: orchestrators and load balancers
// (and Weaviate, whose module sends no credentials) probe without one.
var probes = map[string]bool{
	"/health": true, "/livez": true, "/readyz": true, "/v2/health/live": true, "/v2/health/ready": true,
	weaviatePrefix + "/.well-known/live": true, weaviatePrefix + "/.well-known/ready": true,
}

// auth requires the bearer token on every path but the probes.
func (s *Server) auth(next http.Handler) http.Handler {
	if s.keyHash == [sha256.Size]byte{} {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if probes[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		// Comparing fixed-size digests takes the same time whatever the
		// token's length or how much of it is right.
		got := sha256.Sum256([]byte(token))
		if !ok || subtle.ConstantTimeCompare(got[:], s.keyHash[:]) != 1 {
			s.metrics.requests.WithLabelValues(routeLabel(r.URL.Path), "", "401").Inc()
			// Neither the header nor the raw path is logged: a near miss
			// would leak most of the key, and a client that puts the key in
			// the URL (/rerank/KEY) would leak all of it.
			s.log.Info("request", "method", r.Method, "path", routeLabel(r.URL.Path), "status", http.StatusUnauthorized,
				"remote", r.RemoteAddr, "error", "missing or wrong API key")
			writeError(w, newErr(formOfPath(r.URL.Path), http.StatusUnauthorized, kindAuth,
				"missing or wrong API key: send the header `Authorization: Bearer <key>`"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// routeLabel is the endpoint label of a path: one of the served routes or
// "other", so that probing random paths cannot grow the metrics.
func routeLabel(p string) string {
	switch p {
	case "/rerank", "/v1/rerank", "/v2/rerank", "/health", "/info", "/metrics", "/openapi.json",
		"/embed", "/v1/embeddings", "/embeddings",
		"/livez", "/readyz", "/v1/models", "/models", "/v2", "/v2/health/live", "/v2/health/ready",
		weaviatePrefix + "/rerank", weaviatePrefix + "/meta", weaviatePrefix + "/.well-known/live", weaviatePrefix + "/.well-known/ready":
		return p
	}
	if strings.HasPrefix(p, "/v2/models/") {
		switch _, action := oipPath(p); action {
		case "infer":
			return rankPaths[epOIP]
		case "ready":
			return "/v2/models/{name}/ready"
		default:
			return "/v2/models/{name}"
		}
	}
	return "other"
}

func formOfPath(p string) Form {
	switch {
	case p == "/v1/rerank":
		return FormJina
	case p == "/v2/rerank":
		return FormCohere
	case p == "/embed":
		return FormTEI
	case strings.HasPrefix(p, weaviatePrefix+"/"):
		return FormWeaviate
	case p == "/v2" || strings.HasPrefix(p, "/v2/models/") || strings.HasPrefix(p, "/v2/health/"):
		return FormOIP
	}
	return FormInfinity
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.draining.Load():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
	case !s.ready.Load():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "loading"})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}

// modelInfo is one entry of GET /info.
type modelInfo struct {
	Name         string   `json:"name"`
	Default      bool     `json:"default"`
	Architecture string   `json:"architecture"`
	MaxLength    int      `json:"max_length"`
	NumLabels    int      `json:"num_labels"`
	Labels       []string `json:"labels,omitempty"`
	Device       string   `json:"device"`
	Precision    string   `json:"precision"`
	Dir          string   `json:"dir"`
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	models := make([]modelInfo, 0, len(s.names))
	for i, n := range s.names {
		in := s.models[n].Info()
		models = append(models, modelInfo{
			Name: n, Default: i == 0, Architecture: in.Architecture, MaxLength: in.MaxLength,
			NumLabels: in.NumLabels, Labels: in.Labels, Device: in.Device, Precision: in.Precision, Dir: in.Dir,
		})
	}
	s.mu.RUnlock()
	l := s.cfg.Limits
	writeJSON(w, http.StatusOK, map[string]any{
		"version":   s.cfg.Version,
		"ready":     s.Ready(),
		"models":    models,
		"embedders": s.embedderInfo(), // embed.go
		"limits": map[string]any{
			"max_body_bytes":      l.MaxBodyBytes,
			"max_documents":       l.MaxDocuments,
			"max_document_bytes":  l.MaxDocumentBytes,
			"max_pairs_in_flight": s.cfg.MaxPairsInFlight,
			"max_queued_requests": s.cfg.MaxQueuedRequests,
			"max_queued_pairs":    s.cfg.MaxQueuedPairs,
			"max_open_requests":   s.cfg.MaxOpenRequests,
			"request_timeout_s":   s.cfg.RequestTimeout.Seconds(),
		},
	})
}

// model finds the Ranker a request names; "" is the default model. With
// one model served and StrictModelNames unset, every name finds it.
func (s *Server) model(form Form, name string) (string, Ranker, *apiError) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.names) == 0 {
		return "", nil, newErr(form, http.StatusServiceUnavailable, kindUnhealthy, "no model is loaded yet")
	}
	if name == "" {
		name = s.names[0]
	}
	r, ok := s.models[name]
	if !ok && s.isEmbedder(name) {
		return "", nil, invalid(form, "`model`: %q is an embedding model, which gives vectors, not scores; POST /v1/embeddings (or /embed, /embeddings) for it, or name a re-ranking model", name)
	}
	if !ok && len(s.names) == 1 && !s.cfg.StrictModelNames {
		name = s.names[0]
		r, ok = s.models[name]
	}
	if !ok {
		return "", nil, newErr(form, http.StatusNotFound, kindNotFound,
			"model %q is not served here; served: %s", name, strings.Join(sortedNames(s.names), ", "))
	}
	return name, r, nil
}

func (s *Server) rankHandler(ep endpoint) http.Handler {
	path := rankPaths[ep]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{form: formOf(ep)}
		s.serveCounted(w, r, path, st, func() *apiError { return s.rank(w, r, ep, st) })
	})
}

// serveCounted runs serve as one request of path: counted in flight (for
// admission and idle memory release), its error written in the form's
// shape, then its metrics and log line.
func (s *Server) serveCounted(w http.ResponseWriter, r *http.Request, path string, st *reqState, serve func() *apiError) {
	start := time.Now()
	s.inFlight.Add(1)
	defer func() {
		s.lastDone.Store(time.Now().UnixNano())
		s.dirty.Store(true)
		s.inFlight.Add(-1)
	}()
	aerr := serve()
	code := http.StatusOK
	switch {
	case aerr != nil && aerr.Status == 0:
		// The client went away; 499 is the customary log code for it
		// (nginx). An answer is written all the same: if anyone is still
		// reading, a retryable 503 beats the empty 200 net/http sends for
		// a handler that writes nothing (TestLoadShort saw one such 200
		// under heavy load, cause not found).
		code = 499
		s.metrics.canceled.Inc()
		e := newErr(st.form, http.StatusServiceUnavailable, kindOverloaded, "the request was canceled (the client closed the connection)")
		e.RetryAfter = 1
		writeError(w, e)
	case aerr != nil:
		code = aerr.Status
		writeError(w, aerr)
	}
	d := time.Since(start)
	form := st.form.String()
	if st.formLabel != "" {
		form = st.formLabel
	}
	s.metrics.requests.WithLabelValues(path, form, fmt.Sprint(code)).Inc()
	s.metrics.latency.WithLabelValues(path, form).Observe(d.Seconds())
	attrs := []any{"method", r.Method, "path", path, "form", form, "status", code,
		"duration_ms", float64(d.Microseconds()) / 1000, "remote", r.RemoteAddr}
	if st.model != "" {
		items := "documents"
		if st.itemsKey != "" {
			items = st.itemsKey
		}
		attrs = append(attrs, "model", st.model, items, st.docs, "tokens", st.tokens)
	}
	switch {
	case code >= 500 && code != http.StatusServiceUnavailable:
		s.log.Error("request", append(attrs, "error", aerr.Message)...)
	case aerr != nil && aerr.Status != 0:
		s.log.Info("request", append(attrs, "error", aerr.Message)...)
	default:
		s.log.Info("request", attrs...)
	}
}

// reqState is what the request log line reports.
type reqState struct {
	form   Form
	model  string
	docs   int
	tokens int
	// formLabel, if set, names the form in metrics and logs instead of
	// form (the embedding routes: tei, openai, infinity).
	formLabel string
	itemsKey  string // what docs counts in the log line (default "documents")
}

// clientGone is the apiError of a request whose client disconnected.
var clientGone = &apiError{}

func (s *Server) rank(w http.ResponseWriter, r *http.Request, ep endpoint, st *reqState) *apiError {
	form := st.form
	body, aerr := s.admit(w, r, form)
	if aerr != nil {
		return aerr
	}
	if ep == epOIP && r.Header.Get("Inference-Header-Content-Length") != "" {
		return badRequest(form, "the binary tensor extension is not supported; send the tensors' data as JSON")
	}
	req, aerr := decodeRequest(ep, body, s.cfg.Limits)
	if aerr != nil {
		return aerr
	}
	if ep == epOIP {
		req.Model, _ = oipPath(r.URL.Path)
	}
	st.form = req.Form
	form = req.Form
	name, ranker, aerr := s.model(form, req.Model)
	if aerr != nil {
		return aerr
	}
	st.model, st.docs = name, len(req.Docs)

	// The request's context ends when its client disconnects; the timeout
	// covers queueing and scoring.
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	queued := time.Now()
	if err := s.queue.acquire(ctx, len(req.Docs)); err != nil {
		return s.overloaded(r, form, err, "waiting in the queue")
	}
	s.metrics.queueWait.Observe(time.Since(queued).Seconds())
	s.metrics.docsPerReq.Observe(float64(len(req.Docs)))
	docs := make([]rerank.Document, len(req.Docs))
	for i, t := range req.Docs {
		docs[i].Text = t
	}
	opts := rerank.RerankOptions{MaxDocTokens: req.MaxTokensPerDoc, Instruction: req.Instruction}
	if req.NoTruncate {
		no := rerank.NoTruncation
		opts.Truncation = &no
	}
	// top_n is applied here rather than by the re-ranker so that usage and
	// metrics count every scored pair.
	results, err := ranker.Rerank(ctx, req.Query, docs, opts)
	s.queue.release(len(req.Docs))
	if err != nil {
		return s.rankError(r, form, err)
	}
	tokens, truncated := 0, 0
	for _, res := range results {
		tokens += res.Tokens
		if res.Truncated > 0 {
			truncated++
		}
	}
	st.tokens = tokens
	s.metrics.pairs.WithLabelValues(name).Add(float64(len(results)))
	s.metrics.tokens.WithLabelValues(name).Add(float64(tokens))
	s.metrics.truncated.WithLabelValues(name).Add(float64(truncated))
	if req.TopN > 0 && req.TopN < len(results) && req.Form != FormOIP {
		results = results[:req.TopN]
	}
	resp, aerr := encodeResponse(req, name, results, tokens, truncated)
	if aerr != nil {
		return aerr
	}
	// Not part of any peer's schema: how many documents were cut to fit,
	// so that silent truncation is not silent.
	w.Header().Set("X-Crossrank-Truncated-Documents", fmt.Sprint(truncated))
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// admit refuses a request the server cannot take now (too many open,
// draining, still loading) and reads its body within the size limit.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, form Form) ([]byte, *apiError) {
	if s.inFlight.Load() > int64(s.cfg.MaxOpenRequests) {
		s.metrics.rejected.WithLabelValues("too_many_open").Inc()
		e := newErr(form, http.StatusTooManyRequests, kindOverloaded, "the server has too many requests open; retry later")
		e.RetryAfter = s.queue.retryAfter()
		return nil, e
	}
	if s.draining.Load() {
		s.metrics.rejected.WithLabelValues("draining").Inc()
		w.Header().Set("Connection", "close")
		e := newErr(form, http.StatusServiceUnavailable, kindUnhealthy, "the server is shutting down")
		e.RetryAfter = 1
		return nil, e
	}
	if !s.ready.Load() {
		s.metrics.rejected.WithLabelValues("not_ready").Inc()
		e := newErr(form, http.StatusServiceUnavailable, kindUnhealthy, "the server is loading its models")
		e.RetryAfter = 1
		return nil, e
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.Limits.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, newErr(form, http.StatusRequestEntityTooLarge, kindValidation,
				"request body is larger than the limit of %d bytes; split the request", mbe.Limit)
		}
		if r.Context().Err() != nil {
			return nil, clientGone
		}
		return nil, badRequest(form, "reading the request body: %v", err)
	}
	return body, nil
}

// overloaded turns a failed wait (queue full, timeout, client gone) into
// its answer.
func (s *Server) overloaded(r *http.Request, form Form, err error, during string) *apiError {
	switch {
	case errors.Is(err, errQueueFull):
		s.metrics.rejected.WithLabelValues("queue_full").Inc()
		e := newErr(form, http.StatusTooManyRequests, kindOverloaded, "the server is at capacity; retry later")
		e.RetryAfter = s.queue.retryAfter()
		return e
	case r.Context().Err() != nil:
		return clientGone
	default:
		s.metrics.rejected.WithLabelValues("timeout").Inc()
		e := newErr(form, http.StatusServiceUnavailable, kindOverloaded,
			"the request timed out after %v %s", s.cfg.RequestTimeout, during)
		e.RetryAfter = s.queue.retryAfter()
		return e
	}
}

// rankError maps a re-ranker failure to its answer.
func (s *Server) rankError(r *http.Request, form Form, err error) *apiError {
	var de *rerank.DocumentError
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return s.overloaded(r, form, err, "while scoring")
	case errors.Is(err, rerank.ErrClosed):
		e := newErr(form, http.StatusServiceUnavailable, kindUnhealthy, "the model is being unloaded")
		e.RetryAfter = 1
		return e
	case errors.As(err, &de) && !errors.Is(err, rerank.ErrClosed):
		field := "documents"
		if form == FormTEI {
			field = "texts"
		}
		msg := de.Err.Error()
		if errors.Is(de.Err, rerank.ErrTooLong) {
			msg += "; send truncate=true (or leave it out) to have it cut instead"
		}
		return invalid(form, "`%s[%d]`: %s", field, de.Index, strings.TrimPrefix(msg, "rerank: "))
	case errors.Is(err, rerank.ErrEmptyQuery), errors.Is(err, rerank.ErrInvalidUTF8),
		errors.Is(err, rerank.ErrTooManyDocuments), errors.Is(err, rerank.ErrTooLong), errors.Is(err, rerank.ErrNoInstruction):
		return invalid(form, "%s", strings.TrimPrefix(err.Error(), "rerank: "))
	}
	return newErr(form, http.StatusInternalServerError, kindBackend, "scoring failed: %v", err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"message":"encoding the answer failed","type":"server_error","param":null,"code":500}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
