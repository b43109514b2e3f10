package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/crossrank/crossrank/rerank"
	"github.com/crossrank/crossrank/server"
)

func init() {
	register(&command{
		name:  "serve",
		short: "serve re-ranking over HTTP (infinity, TEI, Jina and Cohere request forms)",
		run:   runServe,
	})
}

const serveUsage = `usage: crossrank serve [--model [NAME=]MODEL]... [--addr 127.0.0.1:7998] [flags]

Serves the models over HTTP. Existing clients work unchanged:
  POST /rerank      infinity's form {query, documents, model, top_n, return_documents,
                    raw_scores} (what the seed's rerank_remote sends), or
                    text-embeddings-inference's {query, texts, truncate, raw_scores, return_text}
  POST /v1/rerank   Jina's form;   POST /v2/rerank   Cohere v2's form
  POST /weaviate/rerank   Weaviate's reranker-transformers module
                    (RERANKER_INFERENCE_API=http://HOST:PORT/weaviate)
  POST /v2/models/NAME/infer   the Open Inference Protocol v2 (KServe, Triton)
  POST /v1/embeddings  OpenAI's form {input, model, encoding_format, dimensions};
  POST /embed       TEI's {inputs, normalize, truncate, truncation_direction, prompt_name};
  POST /embeddings  infinity's (the OpenAI form): for embedding models
  GET  /health, /readyz   200 once every model is loaded, 503 before and while shutting down
  GET  /livez       200 while the process runs;   GET /v1/models, /models   the served models
  GET  /metrics     Prometheus;    GET /openapi.json   every endpoint;   GET /info
Each --model is served under NAME (default: MODEL as written; without --model,
$CROSSRANK_MODEL, a comma-separated list, else ` + defaultModel + `); a request's
"model" field picks one, and the first of each kind is the default. The kind
is read from the checkpoint: a sentence-transformers folder (modules.json) or
a BertModel / XLMRobertaModel checkpoint is an embedding model, served on the
embedding routes; a cross-encoder is served on the re-rank routes. With one
re-ranking model, any name is answered by it, and likewise with one
embedding model (--strict-model-names: 404 instead, on both). Requests over
the limits get 413/422; a full queue 429, a timeout 503, both with
Retry-After. SIGTERM drains: new requests get 503, those in flight finish
within --grace.
With --api-key (or CROSSRANK_API_KEY) every endpoint but the probes needs
"Authorization: Bearer KEY".

flags:
`

// modelList is the repeatable --model flag.
type modelList []string

func (m *modelList) String() string { return strings.Join(*m, ",") }
func (m *modelList) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("empty model")
	}
	*m = append(*m, v)
	return nil
}

func runServe(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	var models modelList
	fs.Var(&models, "model", "`[NAME=]MODEL`: a model folder or Hugging Face reference, served under NAME (repeatable; default "+defaultModel+")")
	addr := fs.String("addr", "127.0.0.1:7998", "`host:port` to listen on (7998: the seed's infinity port)")
	apiKey := fs.String("api-key", "", "bearer token required on every endpoint but /health (default $CROSSRANK_API_KEY)")
	maxLength := fs.Int("max-length", 0, "most tokens per pair (0: the model's limit)")
	batchSize := fs.Int("batch-size", 0, "pairs per forward pass (0: 32)")
	precision := fs.String("precision", "fp32", precisionUsage)
	backend := fs.String("backend", rerank.BackendAuto, backendUsage)
	longDocs := fs.Bool("long-docs", false, "score long documents window by window instead of cutting them")
	maxDocs := fs.Int("max-documents", server.DefaultLimits.MaxDocuments, "most documents per request (more: 422)")
	maxBody := fs.Int64("max-body-bytes", server.DefaultLimits.MaxBodyBytes, "largest request body (more: 413)")
	maxDocBytes := fs.Int("max-document-bytes", server.DefaultLimits.MaxDocumentBytes, "largest document or query in bytes (more: 422)")
	inFlight := fs.Int("max-pairs-in-flight", 0, "pairs being scored at once, all requests together (0: 1024)")
	queued := fs.Int("max-queued-requests", 0, "requests waiting for their turn before new ones get 429 (0: 512)")
	timeout := fs.Duration("timeout", 60*time.Second, "longest a request may queue and run (then 503)")
	grace := fs.Duration("grace", 30*time.Second, "how long SIGTERM waits for requests in flight")
	release := fs.Duration("release-memory-after", 10*time.Second, "return a burst's memory to the OS after this long idle (negative: never)")
	logFormat := fs.String("log-format", "text", "log `format`: text or json")
	strictNames := fs.Bool("strict-model-names", false, "refuse a model name that is not served (404) even when one model is served")
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fs.PrintDefaults()
	}
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "crossrank serve: "+format+"\n", a...)
		return code
	}
	switch {
	case fs.NArg() > 0:
		return fail(2, "unexpected argument %q", fs.Arg(0))
	case *maxLength < 0 || *batchSize < 0 || *maxDocs < 1 || *maxBody < 1 || *maxDocBytes < 1 || *inFlight < 0 || *queued < 0:
		return fail(2, "limits must be positive (and --max-length, --batch-size, --max-pairs-in-flight, --max-queued-requests 0 or more)")
	case *timeout <= 0 || *grace < 0:
		return fail(2, "--timeout must be positive and --grace not negative")
	}
	var handler slog.Handler
	switch *logFormat {
	case "text":
		handler = slog.NewTextHandler(stderr, nil)
	case "json":
		handler = slog.NewJSONHandler(stderr, nil)
	default:
		return fail(2, "--log-format %q: want text or json", *logFormat)
	}
	log := slog.New(handler)
	if len(models) == 0 {
		// Containers name their model in the environment (the image's
		// with-model variant, a Deployment's env).
		for _, m := range strings.Split(os.Getenv("CROSSRANK_MODEL"), ",") {
			if m = strings.TrimSpace(m); m != "" {
				models = append(models, m)
			}
		}
	}
	if len(models) == 0 {
		models = modelList{defaultModel}
	}
	type servedModel struct{ name, ref string }
	var list []servedModel
	seen := map[string]bool{}
	for _, m := range models {
		name, ref, ok := strings.Cut(m, "=")
		if !ok {
			name, ref = m, m
		}
		if name == "" || ref == "" {
			return fail(2, "--model %q: want MODEL or NAME=MODEL", m)
		}
		if seen[name] {
			return fail(2, "--model: the name %q is given twice", name)
		}
		seen[name] = true
		list = append(list, servedModel{name, ref})
	}
	key := *apiKey
	if key == "" {
		key = os.Getenv("CROSSRANK_API_KEY")
	}

	srv := server.New(server.Config{
		Limits:             server.Limits{MaxBodyBytes: *maxBody, MaxDocuments: *maxDocs, MaxDocumentBytes: *maxDocBytes},
		MaxPairsInFlight:   *inFlight,
		MaxQueuedRequests:  *queued,
		RequestTimeout:     *timeout,
		ReleaseMemoryAfter: *release,
		APIKey:             key,
		StrictModelNames:   *strictNames,
		Logger:             log,
		Version:            version,
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail(1, "%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("listening", "addr", ln.Addr().String(), "auth", map[bool]string{true: "bearer", false: "none"}[key != ""],
		"models", len(list), "version", version)

	// Listen first and load after, so that /health can say "loading" to
	// the orchestrator instead of refusing connections.
	loadErr := make(chan error, 1)
	go func() {
		var loaded []*rerank.Reranker
		for _, m := range list {
			start := time.Now()
			opts := rerank.Options{MaxLength: *maxLength, BatchSize: *batchSize, MaxDocuments: *maxDocs, Precision: *precision, BackendName: *backend,
				OnBatch: srv.OnBatch(m.name), Logger: log}
			if *longDocs {
				opts.LongDocs = &rerank.Windows{}
			}
			// The kind is read from the checkpoint (cmd_serve_embed.go):
			// an embedding model is served on the embedding routes.
			if isEmb, ref, err := servedKind(ctx, m.ref, stderr); err == nil && isEmb {
				if err := serveEmbedder(ctx, srv, m.name, ref, *maxLength, *batchSize, *maxDocs, *precision, log, stderr); err != nil {
					loadErr <- fmt.Errorf("loading %s: %w", m.name, err)
					return
				}
				continue
			}
			r, err := loadModel(ctx, m.ref, opts, stderr)
			if err != nil {
				for _, l := range loaded {
					l.Close()
				}
				loadErr <- fmt.Errorf("loading %s: %w", m.name, err)
				return
			}
			loaded = append(loaded, r)
			in := r.Info()
			log.Info("model loaded", "name", m.name, "dir", in.Dir, "architecture", in.Architecture,
				"max_length", in.MaxLength, "device", in.Device, "precision", in.Precision,
				"seconds", time.Since(start).Seconds())
			srv.AddModel(m.name, r)
		}
		srv.SetReady()
		log.Info("ready")
		loadErr <- nil
	}()

	serveCtx, cancelServe := context.WithCancel(ctx)
	defer cancelServe()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx, ln, *grace) }()
	for {
		select {
		case err := <-loadErr:
			if err != nil {
				cancelServe()
				<-served
				return fail(1, "%v", err)
			}
			loadErr = nil
		case err := <-served:
			if err != nil {
				return fail(1, "%v", err)
			}
			log.Info("stopped")
			return 0
		}
	}
}
