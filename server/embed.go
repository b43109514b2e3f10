package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/crossrank/crossrank/embed"
	"github.com/crossrank/crossrank/rerank"
	"github.com/prometheus/client_golang/prometheus"
)

// The embedding routes, served beside the re-rank routes from the same
// process (as TEI and infinity do):
//
//	POST /embed          text-embeddings-inference: {inputs, normalize, truncate, truncation_direction, prompt_name, dimensions} -> [[float]]
//	POST /v1/embeddings  OpenAI: {input, model, encoding_format, dimensions} -> {object: list, data: [{object, index, embedding}], model, usage}
//	POST /embeddings     infinity: the OpenAI form, plus id and created in the answer
//
// They share the admission queue, limits, auth and request metrics with the
// re-rank routes; a text counts as one pair in the queue.

// Embedder is what the server needs of a loaded embedding model.
// *embed.Embedder satisfies it.
type Embedder interface {
	Embed(ctx context.Context, texts []string, o embed.EmbedOptions) ([]embed.Embedding, error)
	Info() embed.Info
}

var _ Embedder = (*embed.Embedder)(nil)

// embedders are the embedding models a server serves.
type embedders struct {
	mu     sync.RWMutex
	models map[string]Embedder
	names  []string // in the order added; names[0] is the default

	once      sync.Once
	texts     *prometheus.CounterVec
	tokens    *prometheus.CounterVec
	truncated *prometheus.CounterVec
}

// AddEmbedder serves e under name on the embedding routes. The first added
// is the default embedding model.
func (s *Server) AddEmbedder(name string, e Embedder) {
	s.emb.mu.Lock()
	defer s.emb.mu.Unlock()
	if s.emb.models == nil {
		s.emb.models = map[string]Embedder{}
	}
	if _, ok := s.emb.models[name]; !ok {
		s.emb.names = append(s.emb.names, name)
	}
	s.emb.models[name] = e
}

// OnEmbedBatch is OnBatch for an embedding model: its forward passes show
// in /metrics beside the re-rankers'.
func (s *Server) OnEmbedBatch(model string) func(embed.BatchStats) {
	on := s.OnBatch(model)
	return func(b embed.BatchStats) {
		on(rerank.BatchStats{Pairs: b.Texts, Tokens: b.Tokens, Callers: b.Callers, Wait: b.Wait, Duration: b.Duration, Retried: b.Retried})
	}
}

func (s *Server) embedMetrics() *embedders {
	e := &s.emb
	e.once.Do(func() {
		e.texts = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crossrank_embedded_texts_total", Help: "Texts embedded.",
		}, []string{"model"})
		e.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crossrank_embedded_tokens_total", Help: "Tokens of the embedded texts, special tokens and prompts included.",
		}, []string{"model"})
		e.truncated = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crossrank_embedded_truncated_total", Help: "Texts cut to fit the embedding model's maximum length.",
		}, []string{"model"})
		s.metrics.reg.MustRegister(e.texts, e.tokens, e.truncated)
	})
	return e
}

// embedEndpoint is one of the embedding routes.
type embedEndpoint int

const (
	embTEI embedEndpoint = iota
	embOpenAI
	embInfinity
)

var embedPaths = map[embedEndpoint]string{embTEI: "/embed", embOpenAI: "/v1/embeddings", embInfinity: "/embeddings"}

func (ep embedEndpoint) form() Form {
	if ep == embTEI {
		return FormTEI
	}
	return FormInfinity // OpenAI's error shape
}

func (ep embedEndpoint) formName() string {
	return map[embedEndpoint]string{embTEI: "tei", embOpenAI: "openai", embInfinity: "infinity"}[ep]
}

// embedRequest is an embedding request in any of the forms.
type embedRequest struct {
	Inputs     []string
	field      string // the input field's name, for errors: inputs or input
	Model      string
	Base64     bool
	Dimensions int
	Opts       embed.EmbedOptions
}

// decodeEmbedRequest parses and checks a request body of endpoint ep.
// Unknown fields are ignored, as TEI (serde) and OpenAI do.
func decodeEmbedRequest(ep embedEndpoint, body []byte, lim Limits) (*embedRequest, *apiError) {
	form := ep.form()
	fields, aerr := decodeObject(form, body)
	if aerr != nil {
		return nil, aerr
	}
	r := &embedRequest{field: "input"}
	if ep == embTEI {
		r.field = "inputs"
	}
	field := func(name string, v any) *apiError {
		raw, ok := fields[name]
		if !ok || string(raw) == "null" {
			return nil
		}
		if err := json.Unmarshal(raw, v); err != nil {
			return invalid(form, "`%s` has the wrong type: %v", name, strings.TrimPrefix(err.Error(), "json: "))
		}
		return nil
	}
	raw, ok := fields[r.field]
	if !ok || string(raw) == "null" {
		return nil, invalid(form, "`%s` is required: a string or a list of strings", r.field)
	}
	switch t := bytes.TrimSpace(raw); {
	case len(t) > 0 && t[0] == '"':
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, invalid(form, "`%s`: %v", r.field, err)
		}
		r.Inputs = []string{s}
	case len(t) > 0 && t[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, invalid(form, "`%s`: %v", r.field, err)
		}
		r.Inputs = make([]string, len(items))
		for i, it := range items {
			if err := json.Unmarshal(it, &r.Inputs[i]); err != nil {
				return nil, invalid(form, "`%s[%d]` must be a string (token ids are not accepted: send the text)", r.field, i)
			}
		}
	default:
		return nil, invalid(form, "`%s` must be a string or a list of strings", r.field)
	}
	switch n := len(r.Inputs); {
	case n == 0:
		return nil, invalid(form, "`%s` is an empty list: send at least one text", r.field)
	case n > lim.MaxDocuments:
		return nil, invalid(form, "`%s` has %d texts, at most %d per request; split the request", r.field, n, lim.MaxDocuments)
	}
	for i, s := range r.Inputs {
		switch {
		case strings.TrimSpace(s) == "":
			return nil, invalid(form, "`%s[%d]` is empty or blank", r.field, i)
		case len(s) > lim.MaxDocumentBytes:
			return nil, invalid(form, "`%s[%d]` is %d bytes, more than the limit of %d", r.field, i, len(s), lim.MaxDocumentBytes)
		}
	}
	if aerr := field("model", &r.Model); aerr != nil {
		return nil, aerr
	}
	if aerr := field("dimensions", &r.Dimensions); aerr != nil {
		return nil, aerr
	}
	if r.Dimensions < 0 || (fields["dimensions"] != nil && string(fields["dimensions"]) != "null" && r.Dimensions == 0) {
		return nil, invalid(form, "`dimensions` must be a positive integer")
	}
	r.Opts.Dimensions = r.Dimensions
	if aerr := field("prompt_name", &r.Opts.PromptName); aerr != nil {
		return nil, aerr
	}
	switch ep {
	case embTEI:
		normalize, truncate, dir := true, true, "right"
		if aerr := field("normalize", &normalize); aerr != nil {
			return nil, aerr
		}
		if aerr := field("truncate", &truncate); aerr != nil {
			return nil, aerr
		}
		if aerr := field("truncation_direction", &dir); aerr != nil {
			return nil, aerr
		}
		r.Opts.Normalize = normalize
		switch strings.ToLower(dir) {
		case "right":
		case "left":
			r.Opts.Truncation = embed.TruncateStart
		default:
			return nil, invalid(form, "`truncation_direction` %q: want Right or Left", dir)
		}
		if !truncate {
			r.Opts.Truncation = embed.NoTruncation
		}
	default:
		format := "float"
		if aerr := field("encoding_format", &format); aerr != nil {
			return nil, aerr
		}
		switch format {
		case "float":
		case "base64":
			r.Base64 = true
		default:
			return nil, invalid(form, "`encoding_format` %q: want float or base64", format)
		}
	}
	return r, nil
}

// embedModel finds the embedding model a request names; "" is the default,
// and with one embedding model served and StrictModelNames unset, any name
// that is not a re-ranker's.
func (s *Server) embedModel(form Form, name string) (string, Embedder, *apiError) {
	s.emb.mu.RLock()
	defer s.emb.mu.RUnlock()
	if name == "" && len(s.emb.names) > 0 {
		name = s.emb.names[0]
	}
	if e, ok := s.emb.models[name]; ok {
		return name, e, nil
	}
	s.mu.RLock()
	_, isRanker := s.models[name]
	s.mu.RUnlock()
	switch {
	case isRanker:
		return "", nil, invalid(form, "`model`: %q is a re-ranking model (a cross-encoder), which gives scores, not embeddings; POST /rerank for it, or name an embedding model", name)
	case len(s.emb.names) == 1 && !s.cfg.StrictModelNames:
		// One embedding model answers every other name, and names itself in
		// the answer: OpenAI clients always send one ("text-embedding-3-small").
		return s.emb.names[0], s.emb.models[s.emb.names[0]], nil
	case len(s.emb.names) == 0:
		return "", nil, newErr(form, http.StatusNotFound, kindNotFound, "no embedding model is served here; start the server with --model naming one (a sentence-transformers folder)")
	}
	names := append([]string(nil), s.emb.names...)
	sort.Strings(names)
	return "", nil, newErr(form, http.StatusNotFound, kindNotFound, "`model`: %q is not served here; embedding models served: %s", name, strings.Join(names, ", "))
}

// embedRoutes adds the embedding routes to mux.
func (s *Server) embedRoutes(mux *http.ServeMux) {
	for ep, path := range embedPaths {
		mux.Handle("POST "+path, s.embedHandler(ep))
	}
}

// embedderInfo is GET /info's list of embedding models.
func (s *Server) embedderInfo() []map[string]any {
	s.emb.mu.RLock()
	defer s.emb.mu.RUnlock()
	out := make([]map[string]any, 0, len(s.emb.names))
	for i, n := range s.emb.names {
		in := s.emb.models[n].Info()
		out = append(out, map[string]any{
			"name": n, "default": i == 0, "architecture": in.Architecture, "dim": in.Dim, "max_length": in.MaxLength,
			"pooling": in.Pooling, "normalized": in.Normalized, "prompts": in.Prompts, "device": in.Device,
			"precision": in.Precision, "dir": in.Dir,
		})
	}
	return out
}

// isEmbedder says whether name is an embedding model, for the re-rank
// routes' error message.
func (s *Server) isEmbedder(name string) bool {
	s.emb.mu.RLock()
	defer s.emb.mu.RUnlock()
	_, ok := s.emb.models[name]
	return ok
}

func (s *Server) embedHandler(ep embedEndpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{form: ep.form(), formLabel: ep.formName(), itemsKey: "texts"}
		s.serveCounted(w, r, embedPaths[ep], st, func() *apiError { return s.embed(w, r, ep, st) })
	})
}

func (s *Server) embed(w http.ResponseWriter, r *http.Request, ep embedEndpoint, st *reqState) *apiError {
	form := ep.form()
	body, aerr := s.admit(w, r, form)
	if aerr != nil {
		return aerr
	}
	req, aerr := decodeEmbedRequest(ep, body, s.cfg.Limits)
	if aerr != nil {
		return aerr
	}
	name, e, aerr := s.embedModel(form, req.Model)
	if aerr != nil {
		return aerr
	}
	if info := e.Info(); req.Dimensions > info.Dim {
		return invalid(form, "`dimensions`: %d, but %s gives %d-dimensional embeddings", req.Dimensions, name, info.Dim)
	}
	st.model, st.docs = name, len(req.Inputs)

	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	queued := time.Now()
	if err := s.queue.acquire(ctx, len(req.Inputs)); err != nil {
		return s.overloaded(r, form, err, "waiting in the queue")
	}
	s.metrics.queueWait.Observe(time.Since(queued).Seconds())
	res, err := e.Embed(ctx, req.Inputs, req.Opts)
	s.queue.release(len(req.Inputs))
	if err != nil {
		return s.embedError(r, form, req.field, err)
	}
	tokens, truncated := 0, 0
	for _, x := range res {
		tokens += x.Tokens
		if x.Truncated {
			truncated++
		}
	}
	st.tokens = tokens
	m := s.embedMetrics()
	m.texts.WithLabelValues(name).Add(float64(len(res)))
	m.tokens.WithLabelValues(name).Add(float64(tokens))
	m.truncated.WithLabelValues(name).Add(float64(truncated))
	w.Header().Set("X-Crossrank-Truncated-Documents", fmt.Sprint(truncated))
	if ep == embTEI {
		out := make([][]float32, len(res))
		for i := range res {
			out[i] = res[i].Vector
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	type item struct {
		Object    string `json:"object"`
		Index     int    `json:"index"`
		Embedding any    `json:"embedding"`
	}
	data := make([]item, len(res))
	for i, x := range res {
		data[i] = item{Object: "embedding", Index: i, Embedding: x.Vector}
		if req.Base64 {
			data[i].Embedding = base64Floats(x.Vector)
		}
	}
	resp := map[string]any{
		"object": "list", "data": data, "model": name,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	}
	if ep == embInfinity {
		resp["id"] = fmt.Sprintf("crossrank-%x", time.Now().UnixNano())
		resp["created"] = time.Now().Unix()
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// base64Floats is OpenAI's encoding_format "base64": the little-endian
// float32 bytes, base64-encoded (the client decodes them with
// numpy.frombuffer(..., dtype=float32)).
func base64Floats(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// embedError maps an embedder failure to its answer.
func (s *Server) embedError(r *http.Request, form Form, field string, err error) *apiError {
	var ie *embed.InputError
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return s.overloaded(r, form, err, "while embedding")
	case errors.Is(err, embed.ErrClosed):
		e := newErr(form, http.StatusServiceUnavailable, kindUnhealthy, "the model is being unloaded")
		e.RetryAfter = 1
		return e
	case errors.As(err, &ie):
		msg := strings.TrimPrefix(ie.Err.Error(), "embed: ")
		if errors.Is(ie.Err, embed.ErrTooLong) {
			msg += "; send truncate=true (or leave it out) to have it cut instead"
		}
		return invalid(form, "`%s[%d]`: %s", field, ie.Index, msg)
	case errors.Is(err, embed.ErrUnknownPrompt):
		return invalid(form, "`prompt_name`: %s", strings.TrimPrefix(err.Error(), "embed: "))
	case errors.Is(err, embed.ErrDimensions):
		return invalid(form, "`dimensions`: %s", strings.TrimPrefix(err.Error(), "embed: "))
	case errors.Is(err, embed.ErrNoInput), errors.Is(err, embed.ErrTooManyInputs), errors.Is(err, embed.ErrTooLong), errors.Is(err, embed.ErrInvalidUTF8):
		return invalid(form, "`%s`: %s", field, strings.TrimPrefix(err.Error(), "embed: "))
	}
	return newErr(form, http.StatusInternalServerError, kindBackend, "embedding failed: %v", err)
}
