package server

import (
	"net/http"
	"time"
)

// The probes and metadata of the drop-in forms: Kubernetes' /livez and
// /readyz, the model lists OpenAI-style clients read, Weaviate's
// reranker-transformers container and the Open Inference Protocol v2.

// started is when the process began serving, for the model list's created.
var started = time.Now().Unix()

// livez answers 200 while the process runs, loading included: a liveness
// probe must not restart a server that is still loading a large model.
func (s *Server) livez(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// servedNames is the model names in the order added (the first is the
// default).
func (s *Server) servedNames() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]string(nil), s.names...)
}

// modelEntry is one model of GET /v1/models, in OpenAI's list shape (what
// infinity, vLLM and llama.cpp answer).
type modelEntry struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	names := s.servedNames()
	s.emb.mu.RLock()
	names = append(names, s.emb.names...) // the embedding models are served too
	s.emb.mu.RUnlock()
	data := make([]modelEntry, len(names))
	for i, n := range names {
		data[i] = modelEntry{ID: n, Object: "model", Created: started, OwnedBy: "crossrank"}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// notReady is the 503 of a probe while loading or draining.
func (s *Server) notReady(form Form) *apiError {
	msg := "the server is loading its models"
	if s.draining.Load() {
		msg = "the server is shutting down"
	}
	e := newErr(form, http.StatusServiceUnavailable, kindUnhealthy, "%s", msg)
	e.RetryAfter = 1
	return e
}

// weaviateLive and weaviateReady answer 204 with no body, as the container
// the module was written for does; the module waits for ready at startup.
func (s *Server) weaviateLive(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) weaviateReady(w http.ResponseWriter, r *http.Request) {
	if !s.Ready() {
		writeError(w, s.notReady(FormWeaviate))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// weaviateMeta is the module's GET /meta: Weaviate shows the object under
// its modules' metadata and reads nothing in it.
func (s *Server) weaviateMeta(w http.ResponseWriter, r *http.Request) {
	name, ranker, aerr := s.model(FormWeaviate, "")
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	in := ranker.Info()
	writeJSON(w, http.StatusOK, map[string]any{"model": map[string]any{
		"name": name, "architectures": []string{in.Architecture}, "max_length": in.MaxLength,
		"num_labels": in.NumLabels, "device": in.Device, "precision": in.Precision,
	}})
}

// oipServerMetadata is GET /v2.
func (s *Server) oipServerMetadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"name": "crossrank", "version": s.cfg.Version, "extensions": []string{}})
}

// oipLive and oipReady are the protocol's server health; KServe's own
// server answers {"live": true} and {"ready": true}.
func (s *Server) oipLive(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"live": true})
}

func (s *Server) oipReady(w http.ResponseWriter, r *http.Request) {
	if !s.Ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]bool{"ready": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
}

// oipModel answers GET /v2/models/{name} (metadata) and
// GET /v2/models/{name}/ready.
func (s *Server) oipModel(w http.ResponseWriter, r *http.Request) {
	name, action := oipPath(r.URL.Path)
	if name == "" || action == "infer" {
		writeError(w, newErr(FormOIP, http.StatusNotFound, kindNotFound,
			"no endpoint %s %s; see GET /openapi.json", r.Method, r.URL.Path))
		return
	}
	served, _, aerr := s.model(FormOIP, name)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if action == "ready" {
		ready := s.Ready()
		code := http.StatusOK
		if !ready {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"name": served, "ready": ready})
		return
	}
	writeJSON(w, http.StatusOK, oipMetadataOf(served))
}

// oipInfer answers POST /v2/models/{name}[/versions/V]/infer.
func (s *Server) oipInfer() http.Handler {
	infer := s.rankHandler(epOIP)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, action := oipPath(r.URL.Path); name == "" || action != "infer" {
			writeError(w, newErr(FormOIP, http.StatusNotFound, kindNotFound,
				"no endpoint %s %s; see GET /openapi.json", r.Method, r.URL.Path))
			return
		}
		infer.ServeHTTP(w, r)
	})
}
