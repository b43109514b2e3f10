package server

import (
	"encoding/json"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
)

// The drop-in forms: single-model leniency, Weaviate's reranker-transformers
// container, the Open Inference Protocol v2, the model lists and probes.

func TestSingleModelLeniency(t *testing.T) {
	q, docs := "what is a cross-encoder", testDocs[:3]
	body := func(model string) map[string]any {
		return map[string]any{"model": model, "query": q, "documents": docs}
	}
	// The names the Cohere SDK and RAG frameworks send by default.
	for _, name := range []string{"rerank-v3.5", "rerank-english-v3.0", "jina-reranker-v2-base-multilingual"} {
		_, ts := newTestServer(t, Config{}, "BAAI/bge-reranker-base", &fakeRanker{})
		r := post(t, ts.URL+"/v2/rerank", body(name))
		if r.status != 200 {
			t.Fatalf("%s on /v2/rerank: %d %s", name, r.status, r.body)
		}
		r = post(t, ts.URL+"/v1/rerank", body(name))
		var jina wantJina
		strict(t, r.body, &jina)
		if r.status != 200 || jina.Model != "BAAI/bge-reranker-base" {
			t.Errorf("%s on /v1/rerank: %d, model %q (want the served one)", name, r.status, jina.Model)
		}
		r = post(t, ts.URL+"/rerank", body(name))
		var inf wantInfinity
		strict(t, r.body, &inf)
		if r.status != 200 || inf.Model != "BAAI/bge-reranker-base" {
			t.Errorf("%s on /rerank: %d, model %q", name, r.status, inf.Model)
		}
		r = post(t, ts.URL+"/v2/models/"+name+"/infer", oipBody("", q, docs, nil))
		var oip wantOIP
		strict(t, r.body, &oip)
		if r.status != 200 || oip.ModelName != "BAAI/bge-reranker-base" {
			t.Errorf("%s on OIP: %d, model %q", name, r.status, oip.ModelName)
		}
	}
	_, strictTS := newTestServer(t, Config{StrictModelNames: true}, "m", &fakeRanker{})
	r := post(t, strictTS.URL+"/v2/rerank", body("rerank-v3.5"))
	if r.status != 404 || !strings.Contains(errorMessage(t, "/v2/rerank", "", r.body), `model "rerank-v3.5" is not served here; served: m`) {
		t.Errorf("strict: %d %s", r.status, r.body)
	}
	if r := post(t, strictTS.URL+"/v2/rerank", body("m")); r.status != 200 {
		t.Errorf("strict, the served name: %d %s", r.status, r.body)
	}
	_, two := newTestServer(t, Config{}, "a", &fakeRanker{}, "b", &fakeRanker{})
	r = post(t, two.URL+"/v1/rerank", body("rerank-v3.5"))
	if r.status != 404 || !strings.Contains(errorMessage(t, "/v1/rerank", "", r.body), "served: a, b") {
		t.Errorf("two models: %d %s", r.status, r.body)
	}
	r = post(t, two.URL+"/v2/models/c/infer", oipBody("", q, docs, nil))
	if r.status != 404 || !strings.Contains(errorMessage(t, "/v2/models/c/infer", "", r.body), "served: a, b") {
		t.Errorf("two models, OIP: %d %s", r.status, r.body)
	}
}

// wantWeaviate is RankResponse of weaviate/weaviate's
// modules/reranker-transformers/clients/ranker.go, the client that reads
// this answer, with the fields of CrossEncoderResponse of
// weaviate/reranker-transformers' crossencoder.py (the container it was
// written for; FastAPI writes its unset optional fields as null). The
// client's RankInput (same file) is {query, documents, property}; it sends
// property "" and at most 32 documents per request, and pairs scores[i]
// with its i-th document (additional/rank/rank_result.go), so the scores
// must be in document order.
type wantWeaviate struct {
	Query  string `json:"query"`
	Scores []struct {
		Document string  `json:"document"`
		Score    float64 `json:"score"`
	} `json:"scores"`
	Property *string  `json:"property"`
	Score    *float64 `json:"score"`
}

func TestWeaviate(t *testing.T) {
	s := New(Config{Logger: quiet})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	// The module polls ready at startup (clients/startup.go: any status
	// above 299 is "not ready").
	if r := get(t, ts.URL+"/weaviate/.well-known/ready"); r.status != 503 {
		t.Fatalf("ready while loading: %d %s", r.status, r.body)
	}
	if r := get(t, ts.URL+"/weaviate/.well-known/live"); r.status != 204 {
		t.Fatalf("live while loading: %d", r.status)
	}
	s.AddModel("cross-encoder/ms-marco-MiniLM-L-6-v2", &fakeRanker{})
	s.SetReady()
	if r := get(t, ts.URL+"/weaviate/.well-known/ready"); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("ready: %d %q", r.status, r.body)
	}

	q := "what is a cross-encoder"
	docs := append([]string{""}, testDocs...) // an object without the property is sent as ""
	in, _ := json.Marshal(map[string]any{"query": q, "documents": docs, "property": ""})
	r := post(t, ts.URL+"/weaviate/rerank", in)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got wantWeaviate
	strict(t, r.body, &got)
	if got.Query != q || len(got.Scores) != len(docs) || got.Property != nil || got.Score != nil {
		t.Fatalf("got %s", r.body)
	}
	if !strings.Contains(string(r.body), `"property":null,"score":null`) {
		t.Errorf("unset fields are not null: %s", r.body)
	}
	for i, d := range docs {
		want := 1 / (1 + math.Exp(-float64(fakeLogit(q, d))))
		if got.Scores[i].Document != d || got.Scores[i].Score != want {
			t.Errorf("score %d: got %+v, want document %q score %v", i, got.Scores[i], d, want)
		}
	}

	// The container's single-pair form: {query, property} -> {query, property, score}.
	r = post(t, ts.URL+"/weaviate/rerank", `{"query":"q","property":"a document"}`)
	var one wantWeaviate
	strict(t, r.body, &one)
	if r.status != 200 || one.Scores != nil || one.Property == nil || *one.Property != "a document" ||
		one.Score == nil || *one.Score != 1/(1+math.Exp(-float64(fakeLogit("q", "a document")))) {
		t.Errorf("single pair: %d %s", r.status, r.body)
	}

	r = get(t, ts.URL+"/weaviate/meta")
	var meta struct {
		Model map[string]any `json:"model"`
	}
	strict(t, r.body, &meta)
	if r.status != 200 || meta.Model["name"] != "cross-encoder/ms-marco-MiniLM-L-6-v2" {
		t.Errorf("meta: %d %s", r.status, r.body)
	}
}

func TestWeaviateErrors(t *testing.T) {
	cfg := Config{Limits: Limits{MaxBodyBytes: 4096, MaxDocuments: 4, MaxDocumentBytes: 100}}
	_, ts := newTestServer(t, cfg, "m", &fakeRanker{})
	for _, c := range []struct {
		name, body string
		status     int
		inMessage  string
	}{
		{"not json", `{"query":`, 400, "not valid JSON"},
		{"array body", `["a"]`, 422, "must be a JSON object"},
		{"no documents, no property", `{"query":"q"}`, 422, "`documents` is required"},
		{"null documents", `{"query":"q","documents":null}`, 422, "`documents` is required"},
		{"empty documents", `{"query":"q","documents":[],"property":""}`, 422, "`documents` must not be empty"},
		{"empty query", `{"query":"","documents":["a"]}`, 422, "`query` must not be empty"},
		{"number as document", `{"query":"q","documents":["a",1]}`, 422, "`documents[1]` must be a string"},
		{"object as document", `{"query":"q","documents":[{"text":"a"}]}`, 422, "`documents[0]` must be a string"},
		{"number as property", `{"query":"q","documents":["a"],"property":3}`, 422, "`property` must be a string"},
		{"too many documents", `{"query":"q","documents":["a","b","c","d","e"]}`, 422, "more than the limit of 4"},
		{"document too big", `{"query":"q","documents":["` + strings.Repeat("x", 101) + `"]}`, 422, "`documents[0]` is 101 bytes"},
		{"NUL", `{"query":"q","documents":["a\u0000"]}`, 422, "NUL"},
		{"invalid UTF-8", "{\"query\":\"q\",\"documents\":[\"\xff\"]}", 400, "UTF-8"},
		{"body too big", `{"query":"q","documents":["` + strings.Repeat("x", 5000) + `"]}`, 413, "larger than the limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := post(t, ts.URL+"/weaviate/rerank", c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			// The module reads the message from `error` (RankResponse.Error).
			if msg := errorMessage(t, "/weaviate/rerank", c.body, r.body); !strings.Contains(msg, c.inMessage) {
				t.Errorf("message %q does not contain %q", msg, c.inMessage)
			}
		})
	}
}

// wantOIP is the Open Inference Protocol's inference response, as
// https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol
// gives it: {model_name, model_version (optional), id, parameters
// (optional), outputs: [{name, shape, datatype, parameters (optional), data}]}.
type wantOIP struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version"`
	ID           string         `json:"id"`
	Parameters   map[string]any `json:"parameters"`
	Outputs      []struct {
		Name     string    `json:"name"`
		Shape    []int     `json:"shape"`
		Datatype string    `json:"datatype"`
		Data     []float64 `json:"data"`
	} `json:"outputs"`
}

// oipBody is an inference request in the shape of the protocol's own
// example (KServe's page above: {"id": "42", "inputs": [{"name",
// "shape", "datatype", "data"}], "outputs": [{"name"}]}), with the two
// BYTES inputs of a re-ranker.
func oipBody(id, query string, docs []string, params map[string]any, outputs ...string) map[string]any {
	b := map[string]any{"inputs": []map[string]any{
		{"name": "query", "shape": []int{1}, "datatype": "BYTES", "data": []string{query}},
		{"name": "documents", "shape": []int{len(docs)}, "datatype": "BYTES", "data": docs},
	}}
	if id != "" {
		b["id"] = id
	}
	if params != nil {
		b["parameters"] = params
	}
	if len(outputs) > 0 {
		var o []map[string]string
		for _, n := range outputs {
			o = append(o, map[string]string{"name": n})
		}
		b["outputs"] = o
	}
	return b
}

func (w wantOIP) output(name string) []float64 {
	for _, o := range w.Outputs {
		if o.Name == name {
			return o.Data
		}
	}
	return nil
}

func TestOIP(t *testing.T) {
	s := New(Config{Logger: quiet, Version: "test"})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	if r := get(t, ts.URL+"/v2/health/live"); r.status != 200 || string(r.body) != "{\"live\":true}\n" {
		t.Errorf("live while loading: %d %s", r.status, r.body)
	}
	if r := get(t, ts.URL+"/v2/health/ready"); r.status != 503 {
		t.Errorf("ready while loading: %d %s", r.status, r.body)
	}
	const name = "BAAI/bge-reranker-base"
	s.AddModel(name, &fakeRanker{})
	s.AddModel("other", &fakeRanker{})
	s.SetReady()
	if r := get(t, ts.URL+"/v2/health/ready"); r.status != 200 || string(r.body) != "{\"ready\":true}\n" {
		t.Errorf("ready: %d %s", r.status, r.body)
	}
	r := get(t, ts.URL+"/v2")
	var sm struct {
		Name       string   `json:"name"`
		Version    string   `json:"version"`
		Extensions []string `json:"extensions"`
	}
	strict(t, r.body, &sm)
	if r.status != 200 || sm.Name != "crossrank" || sm.Version != "test" || sm.Extensions == nil {
		t.Errorf("server metadata: %d %s", r.status, r.body)
	}
	// A name with a slash, raw or escaped.
	for _, p := range []string{"/v2/models/" + name, "/v2/models/BAAI%2Fbge-reranker-base", "/v2/models/" + name + "/versions/1"} {
		r := get(t, ts.URL+p)
		var md struct {
			Name     string   `json:"name"`
			Versions []string `json:"versions"`
			Platform string   `json:"platform"`
			Inputs   []struct {
				Name     string `json:"name"`
				Datatype string `json:"datatype"`
				Shape    []int  `json:"shape"`
			} `json:"inputs"`
			Outputs []struct {
				Name     string `json:"name"`
				Datatype string `json:"datatype"`
				Shape    []int  `json:"shape"`
			} `json:"outputs"`
		}
		strict(t, r.body, &md)
		if r.status != 200 || md.Name != name || len(md.Inputs) != 2 || md.Inputs[0].Name != "query" || md.Inputs[1].Datatype != "BYTES" ||
			md.Outputs[0].Name != "scores" || md.Outputs[0].Datatype != "FP32" || md.Outputs[0].Shape[0] != -1 {
			t.Errorf("GET %s: %d %s", p, r.status, r.body)
		}
		if r := get(t, ts.URL+p+"/ready"); r.status != 200 || string(r.body) != `{"name":"`+name+`","ready":true}`+"\n" {
			t.Errorf("GET %s/ready: %d %s", p, r.status, r.body)
		}
	}
	if r := get(t, ts.URL+"/v2/models/nope"); r.status != 404 {
		t.Errorf("unknown model's metadata: %d %s", r.status, r.body)
	}

	q := "what is a cross-encoder"
	want := fakeRanking(q, testDocs, false)
	for _, p := range []string{"/v2/models/" + name + "/infer", "/v2/models/BAAI%2Fbge-reranker-base/infer", "/v2/models/" + name + "/versions/3/infer"} {
		r := post(t, ts.URL+p, oipBody("42", q, testDocs, map[string]any{"top_n": 2}))
		if r.status != 200 {
			t.Fatalf("POST %s: %d %s", p, r.status, r.body)
		}
		var got wantOIP
		strict(t, r.body, &got)
		if got.ModelName != name || got.ID != "42" || len(got.Outputs) != 2 {
			t.Fatalf("got %s", r.body)
		}
		scores, indices := got.output("scores"), got.output("indices")
		if got.Outputs[0].Datatype != "FP32" || got.Outputs[0].Shape[0] != len(testDocs) || len(scores) != len(testDocs) ||
			got.Outputs[1].Datatype != "INT64" || got.Outputs[1].Shape[0] != 2 || len(indices) != 2 {
			t.Fatalf("outputs: %s", r.body)
		}
		for i, d := range testDocs {
			w := float32(1 / (1 + math.Exp(-float64(fakeLogit(q, d)))))
			if float32(scores[i]) != w {
				t.Errorf("scores[%d] = %v, want %v (document order)", i, scores[i], w)
			}
		}
		for i := range indices {
			if int(indices[i]) != want[i].index {
				t.Errorf("indices[%d] = %v, want %d", i, indices[i], want[i].index)
			}
		}
		if got.Parameters["tokens"] == nil {
			t.Errorf("no token count: %s", r.body)
		}
	}

	// Nested data as the shape is ([N, 1]), one output asked for, raw scores.
	nested := make([][]string, len(testDocs))
	for i, d := range testDocs {
		nested[i] = []string{d}
	}
	b := oipBody("", q, nil, map[string]any{"raw_scores": true}, "scores")
	b["inputs"].([]map[string]any)[1]["shape"] = []int{len(testDocs), 1}
	b["inputs"].([]map[string]any)[1]["data"] = nested
	r = post(t, ts.URL+"/v2/models/other/infer", b)
	var got wantOIP
	strict(t, r.body, &got)
	if r.status != 200 || got.ModelName != "other" || len(got.Outputs) != 1 || got.Outputs[0].Name != "scores" || got.ID != "" {
		t.Fatalf("nested: %d %s", r.status, r.body)
	}
	for i, d := range testDocs {
		if float32(got.Outputs[0].Data[i]) != fakeLogit(q, d) {
			t.Errorf("raw scores[%d] = %v, want %v", i, got.Outputs[0].Data[i], fakeLogit(q, d))
		}
	}
}

func TestOIPErrors(t *testing.T) {
	cfg := Config{Limits: Limits{MaxBodyBytes: 4096, MaxDocuments: 4, MaxDocumentBytes: 100}}
	_, ts := newTestServer(t, cfg, "m", &fakeRanker{})
	tensor := func(name, dtype, shape, data string) string {
		return `{"name":"` + name + `","datatype":"` + dtype + `","shape":` + shape + `,"data":` + data + `}`
	}
	qt := tensor("query", "BYTES", "[1]", `["q"]`)
	dt := tensor("documents", "BYTES", "[2]", `["a","b"]`)
	in := func(ts ...string) string { return `{"inputs":[` + strings.Join(ts, ",") + `]}` }
	for _, c := range []struct {
		name, body string
		status     int
		inMessage  string
	}{
		{"not json", `{"inputs":`, 400, "not valid JSON"},
		{"null body", `null`, 422, "must be a JSON object"},
		{"no inputs", `{}`, 422, "`inputs` is required"},
		{"inputs not a list", `{"inputs":{}}`, 422, "`inputs` must be a list"},
		{"tensor not an object", `{"inputs":[1]}`, 422, "`inputs[0]` must be a tensor object"},
		{"tensor without a name", `{"inputs":[{"datatype":"BYTES","shape":[1],"data":["q"]}]}`, 422, "`inputs[0].name` is required"},
		{"no query", in(dt), 422, "input `query` (BYTES [1]) is required"},
		{"no documents", in(qt), 422, "input `documents` (BYTES [N]) is required"},
		{"unknown input", in(qt, dt, tensor("passages", "BYTES", "[1]", `["a"]`)), 422, `unknown input "passages"`},
		{"repeated input", in(qt, dt, qt), 422, "given twice"},
		{"FP32 query", in(tensor("query", "FP32", "[1]", `[1.0]`), dt), 422, "must have datatype BYTES"},
		{"two queries", in(tensor("query", "BYTES", "[2]", `["a","b"]`), dt), 422, "must hold one string"},
		{"shape mismatch", in(qt, tensor("documents", "BYTES", "[3]", `["a","b"]`)), 422, "`data` has 2 elements, shape [3] needs 3"},
		{"more data than shape", in(qt, tensor("documents", "BYTES", "[1]", `["a","b"]`)), 422, "more elements than its shape"},
		{"too deep", in(qt, tensor("documents", "BYTES", "[2]", `[["a"],["b"]]`)), 422, "nested deeper than its shape"},
		{"negative shape", in(qt, tensor("documents", "BYTES", "[-1]", `["a"]`)), 422, "integers of 0 or more"},
		{"fractional shape", in(qt, tensor("documents", "BYTES", "[1.5]", `["a"]`)), 422, "integers of 0 or more"},
		{"huge shape", in(qt, tensor("documents", "BYTES", "[100000000000, 100000000000]", `["a"]`)), 422, "more than 4 elements"},
		{"no shape", in(qt, `{"name":"documents","datatype":"BYTES","data":["a"]}`), 422, "`shape` is required"},
		{"empty shape", in(qt, tensor("documents", "BYTES", "[]", `["a"]`)), 422, "1 to 8 dimensions"},
		{"numbers as data", in(qt, tensor("documents", "BYTES", "[2]", `[1,2]`)), 422, "must hold strings (BYTES)"},
		{"no data", in(qt, `{"name":"documents","datatype":"BYTES","shape":[1]}`), 422, "`data` is required"},
		{"empty documents", in(qt, tensor("documents", "BYTES", "[0]", `[]`)), 422, "`documents` must not be empty"},
		{"empty query", in(tensor("query", "BYTES", "[1]", `[" "]`), dt), 422, "`query` must not be empty"},
		{"too many documents", in(qt, tensor("documents", "BYTES", "[5]", `["a","b","c","d","e"]`)), 422, "more than 4 elements"},
		{"document too big", in(qt, tensor("documents", "BYTES", "[1]", `["`+strings.Repeat("x", 101)+`"]`)), 422, "`documents[0]` is 101 bytes"},
		{"NUL", in(qt, tensor("documents", "BYTES", "[1]", `["a\u0000"]`)), 422, "NUL"},
		{"zero top_n", `{"parameters":{"top_n":0},"inputs":[` + qt + `,` + dt + `]}`, 422, "`parameters.top_n` must be at least 1"},
		{"parameters not an object", `{"parameters":[],"inputs":[` + qt + `,` + dt + `]}`, 422, "`parameters` must be an object"},
		{"unknown output", `{"outputs":[{"name":"logits"}],"inputs":[` + qt + `,` + dt + `]}`, 422, `unknown output "logits"`},
		{"number as id", `{"id":42,"inputs":[` + qt + `,` + dt + `]}`, 422, "`id` must be a string"},
		{"invalid UTF-8", "{\"inputs\":[{\"name\":\"query\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"\xff\"]}]}", 400, "UTF-8"},
		{"body too big", in(qt, tensor("documents", "BYTES", "[1]", `["`+strings.Repeat("x", 5000)+`"]`)), 413, "larger than the limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := post(t, ts.URL+"/v2/models/m/infer", c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if msg := errorMessage(t, "/v2/models/m/infer", c.body, r.body); !strings.Contains(msg, c.inMessage) {
				t.Errorf("message %q does not contain %q", msg, c.inMessage)
			}
		})
	}
	r := post(t, ts.URL+"/v2/models/m/infer", in(qt, dt), "Inference-Header-Content-Length", "10")
	if r.status != 400 || !strings.Contains(errorMessage(t, "/v2/models/m/infer", "", r.body), "binary tensor extension") {
		t.Errorf("binary extension: %d %s", r.status, r.body)
	}
	for _, p := range []string{"/v2/models/m/explain", "/v2/models//infer", "/v2/models/m/ready"} {
		if r := post(t, ts.URL+p, in(qt, dt)); r.status != 404 && r.status != 405 {
			t.Errorf("POST %s: %d %s", p, r.status, r.body)
		}
	}
}

func TestModelListsAndProbes(t *testing.T) {
	s := New(Config{Logger: quiet, APIKey: "k"})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	if r := get(t, ts.URL+"/livez"); r.status != 200 {
		t.Errorf("livez while loading: %d", r.status)
	}
	if r := get(t, ts.URL+"/readyz"); r.status != 503 || !strings.Contains(string(r.body), "loading") {
		t.Errorf("readyz while loading: %d %s", r.status, r.body)
	}
	s.AddModel("a", &fakeRanker{})
	s.AddModel("b", &fakeRanker{})
	s.SetReady()
	// The probes need no key; everything else does.
	for _, p := range []string{"/livez", "/readyz", "/health", "/v2/health/live", "/v2/health/ready", "/weaviate/.well-known/live", "/weaviate/.well-known/ready"} {
		if r := get(t, ts.URL+p); r.status != 200 && r.status != 204 {
			t.Errorf("GET %s without the key: %d", p, r.status)
		}
	}
	for _, p := range []string{"/v1/models", "/models", "/v2", "/v2/models/a", "/v2/models/a/ready", "/weaviate/meta"} {
		if r := get(t, ts.URL+p); r.status != 401 {
			t.Errorf("GET %s without the key: %d", p, r.status)
		}
	}
	for _, p := range []string{"/weaviate/rerank", "/v2/models/a/infer"} {
		r := post(t, ts.URL+p, `{}`)
		if r.status != 401 {
			t.Errorf("POST %s without the key: %d", p, r.status)
		}
		if msg := errorMessage(t, p, "", r.body); !strings.Contains(msg, "API key") {
			t.Errorf("POST %s: 401 in the wrong shape: %s", p, r.body)
		}
	}
	for _, p := range []string{"/v1/models", "/models"} {
		r := get(t, ts.URL+p, "Authorization", "Bearer k")
		var list struct {
			Object string `json:"object"`
			Data   []struct {
				ID      string `json:"id"`
				Object  string `json:"object"`
				Created int64  `json:"created"`
				OwnedBy string `json:"owned_by"`
			} `json:"data"`
		}
		strict(t, r.body, &list)
		if r.status != 200 || list.Object != "list" || len(list.Data) != 2 || list.Data[0].ID != "a" || list.Data[1].ID != "b" ||
			list.Data[0].Object != "model" || list.Data[0].Created == 0 {
			t.Errorf("GET %s: %d %s", p, r.status, r.body)
		}
	}
	s.Drain()
	if r := get(t, ts.URL+"/readyz"); r.status != 503 {
		t.Errorf("readyz while draining: %d", r.status)
	}
	if r := get(t, ts.URL+"/livez"); r.status != 200 {
		t.Errorf("livez while draining: %d", r.status)
	}
}

func TestDropinMetrics(t *testing.T) {
	_, ts := newTestServer(t, Config{}, "m", &fakeRanker{})
	post(t, ts.URL+"/weaviate/rerank", `{"query":"q","documents":["a","b"],"property":""}`)
	post(t, ts.URL+"/v2/models/m/infer", oipBody("", "q", []string{"a"}, nil))
	post(t, ts.URL+"/v2/models/m/infer", `{}`)
	post(t, ts.URL+"/v2/models/anything-at-all/infer", `{}`)
	m := string(get(t, ts.URL+"/metrics").body)
	for _, want := range []string{
		`crossrank_requests_total{code="200",endpoint="/weaviate/rerank",form="weaviate"} 1`,
		`crossrank_requests_total{code="200",endpoint="/v2/models/{name}/infer",form="oip"} 1`,
		`crossrank_requests_total{code="422",endpoint="/v2/models/{name}/infer",form="oip"} 2`,
		`crossrank_pairs_total{model="m"} 3`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
