package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// quiet is a logger for tests that would otherwise print a line per request.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newTestServer(t *testing.T, cfg Config, models ...any) (*Server, *httptest.Server) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	s := New(cfg)
	for i := 0; i+1 < len(models); i += 2 {
		s.AddModel(models[i].(string), models[i+1].(Ranker))
	}
	s.SetReady()
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func post(t *testing.T, url string, body any, hdr ...string) reply {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(t, req)
}

func get(t *testing.T, url string, hdr ...string) reply {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

// strict decodes b into v, failing on fields v does not declare: the
// response must have exactly the peer's schema.
func strict(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("response %s does not fit %T: %v", b, v, err)
	}
}

// The peers' response schemas, written from their sources (infinity's
// pymodels.py ReRankResult, TEI's types.rs Rank, Jina's and Cohere's API
// references), independently of response.go.
type (
	wantInfinity struct {
		Object  string `json:"object"`
		Results []struct {
			RelevanceScore float64 `json:"relevance_score"`
			Index          int     `json:"index"`
			Document       *string `json:"document"`
		} `json:"results"`
		Model string `json:"model"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
		ID      string `json:"id"`
		Created int64  `json:"created"`
	}
	wantTEI []struct {
		Index int     `json:"index"`
		Text  *string `json:"text"`
		Score float64 `json:"score"`
	}
	wantJina struct {
		Model string `json:"model"`
		Usage struct {
			TotalTokens int `json:"total_tokens"`
		} `json:"usage"`
		Results []struct {
			Index    int `json:"index"`
			Document *struct {
				Text string `json:"text"`
			} `json:"document"`
			RelevanceScore float64 `json:"relevance_score"`
		} `json:"results"`
	}
	wantCohere struct {
		ID      string `json:"id"`
		Results []struct {
			Index          int     `json:"index"`
			RelevanceScore float64 `json:"relevance_score"`
			Document       *struct {
				Text string `json:"text"`
			} `json:"document"`
		} `json:"results"`
		Meta struct {
			APIVersion struct {
				Version string `json:"version"`
			} `json:"api_version"`
			BilledUnits struct {
				SearchUnits int `json:"search_units"`
			} `json:"billed_units"`
			Tokens struct {
				InputTokens  int `json:"input_tokens"`
				OutputTokens int `json:"output_tokens"`
			} `json:"tokens"`
		} `json:"meta"`
	}
)

// ranked is what a request should come back as: (index, score) best first.
type ranked struct {
	index int
	score float64
}

func fakeRanking(query string, docs []string, raw bool) []ranked {
	out := make([]ranked, len(docs))
	for i, d := range docs {
		l := fakeLogit(query, d)
		s := 1 / (1 + math.Exp(-float64(l)))
		if raw {
			s = float64(l)
		}
		out[i] = ranked{i, s}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].score > out[b].score })
	return out
}

var testDocs = []string{
	"Munich is in Germany.",
	"The sky is blue.",
	"Cross-encoders read the query and the document together.",
	"Bananas are yellow.",
	"BM25 is a bag-of-words retrieval function.",
}

func TestForms(t *testing.T) {
	f := &fakeRanker{}
	_, ts := newTestServer(t, Config{}, "m1", f)
	q := "what is a cross-encoder"

	t.Run("infinity", func(t *testing.T) {
		for _, raw := range []bool{false, true} {
			r := post(t, ts.URL+"/rerank", map[string]any{"query": q, "documents": testDocs, "model": "m1",
				"top_n": 3, "return_documents": true, "raw_scores": raw})
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var got wantInfinity
			strict(t, r.body, &got)
			want := fakeRanking(q, testDocs, raw)[:3]
			if got.Object != "rerank" || got.Model != "m1" || len(got.Results) != 3 || got.ID == "" || got.Created == 0 {
				t.Fatalf("got %s", r.body)
			}
			for i, w := range want {
				g := got.Results[i]
				if g.Index != w.index || !scoreEq(g.RelevanceScore, w.score, raw) || g.Document == nil || *g.Document != testDocs[w.index] {
					t.Errorf("raw=%v result %d: got %+v, want index %d score %v", raw, i, g, w.index, w.score)
				}
			}
			if got.Usage.TotalTokens == 0 || got.Usage.PromptTokens != got.Usage.TotalTokens {
				t.Errorf("usage %+v", got.Usage)
			}
		}
	})
	t.Run("tei", func(t *testing.T) {
		r := post(t, ts.URL+"/rerank", map[string]any{"query": q, "texts": testDocs, "truncate": true,
			"truncation_direction": "Right", "return_text": false})
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var got wantTEI
		strict(t, r.body, &got)
		want := fakeRanking(q, testDocs, false)
		if len(got) != len(want) {
			t.Fatalf("got %s", r.body)
		}
		for i, w := range want {
			if got[i].Index != w.index || got[i].Score != w.score || got[i].Text != nil {
				t.Errorf("result %d: got %+v, want %+v", i, got[i], w)
			}
		}
	})
	t.Run("jina", func(t *testing.T) {
		docs := []any{testDocs[0], map[string]any{"text": testDocs[1]}, testDocs[2]}
		r := post(t, ts.URL+"/v1/rerank", map[string]any{"model": "m1", "query": q, "documents": docs, "top_n": 2})
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var got wantJina
		strict(t, r.body, &got)
		want := fakeRanking(q, testDocs[:3], false)[:2]
		if got.Model != "m1" || len(got.Results) != 2 || got.Usage.TotalTokens == 0 {
			t.Fatalf("got %s", r.body)
		}
		for i, w := range want {
			g := got.Results[i]
			// Jina returns documents unless asked not to.
			if g.Index != w.index || g.RelevanceScore != w.score || g.Document == nil || g.Document.Text != testDocs[w.index] {
				t.Errorf("result %d: got %+v, want %+v", i, g, w)
			}
		}
	})
	t.Run("cohere", func(t *testing.T) {
		r := post(t, ts.URL+"/v2/rerank", map[string]any{"model": "m1", "query": q, "documents": testDocs, "max_tokens_per_doc": 2})
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var got wantCohere
		strict(t, r.body, &got)
		// The fake cuts each document to its first two words.
		cut := make([]string, len(testDocs))
		for i, d := range testDocs {
			cut[i] = strings.Join(strings.Fields(d)[:2], " ")
		}
		want := fakeRanking(q, cut, false)
		if got.ID == "" || got.Meta.APIVersion.Version != "2" || got.Meta.BilledUnits.SearchUnits != 1 || len(got.Results) != len(want) {
			t.Fatalf("got %s", r.body)
		}
		for i, w := range want {
			g := got.Results[i]
			if g.Index != w.index || g.RelevanceScore != w.score || g.Document != nil {
				t.Errorf("result %d: got %+v, want %+v", i, g, w)
			}
		}
	})
}

// scoreEq compares a score read from JSON with the ranker's: exactly for
// the float64 score, at float32 for a raw logit (sent with float32 digits).
func scoreEq(got, want float64, raw bool) bool {
	if raw {
		return float32(got) == float32(want)
	}
	return got == want
}

// TestSeedClient sends the exact JSON the seed's rerank_remote sends with
// httpx (json= serialises with ", " and ": " separators and ASCII escapes)
// and reads the answer the way it does.
func TestSeedClient(t *testing.T) {
	f := &fakeRanker{}
	_, ts := newTestServer(t, Config{}, "BAAI/bge-reranker-base", f)
	chunks := []string{"Paris is the capital of France.", "Caf\u00e9 culture in Paris.", "Berlin is in Germany."}
	body := `{"query": "capital of France", "documents": ["Paris is the capital of France.", "Caf\u00e9 culture in Paris.", "Berlin is in Germany."], "model": "BAAI/bge-reranker-base"}`
	r := post(t, ts.URL+"/rerank", body)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	// results = resp.json()["results"]; sorted by relevance_score; chunks[r["index"]]
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	var results []map[string]any
	if err := json.Unmarshal(resp["results"], &results); err != nil {
		t.Fatal(err)
	}
	want := fakeRanking("capital of France", chunks, false)
	if len(results) != len(want) {
		t.Fatalf("got %s", r.body)
	}
	for i, w := range want {
		idx, _ := results[i]["index"].(float64)
		score, _ := results[i]["relevance_score"].(float64)
		if int(idx) != w.index || score != w.score {
			t.Errorf("result %d: got %v, want %+v", i, results[i], w)
		}
		if _, ok := results[i]["document"]; ok {
			t.Errorf("result %d has a document though return_documents was not set", i)
		}
	}
}

func TestErrors(t *testing.T) {
	f := &fakeRanker{maxLen: 8}
	cfg := Config{Limits: Limits{MaxBodyBytes: 4096, MaxDocuments: 4, MaxDocumentBytes: 100}}
	_, ts := newTestServer(t, cfg, "m1", f, "m2", &fakeRanker{})
	long := strings.Repeat("word ", 10)
	for _, c := range []struct {
		name, path, body string
		status           int
		inMessage        string
	}{
		{"not json", "/rerank", `{"query": `, 400, "not valid JSON"},
		{"array body", "/rerank", `["a"]`, 422, "must be a JSON object"},
		{"null body", "/rerank", `null`, 422, "must be a JSON object"},
		{"trailing data", "/rerank", `{"query":"q","documents":["a"]} {}`, 400, "after its JSON object"},
		{"invalid utf-8", "/rerank", "{\"query\":\"q\xff\",\"documents\":[\"a\"]}", 400, "UTF-8"},
		{"no documents field", "/rerank", `{"query":"q"}`, 422, "`documents` is required"},
		{"both forms", "/rerank", `{"query":"q","documents":["a"],"texts":["a"]}`, 422, "not both"},
		{"empty query", "/rerank", `{"query":"","documents":["a"]}`, 422, "`query` must not be empty"},
		{"blank query", "/v1/rerank", `{"query":"  ","documents":["a"]}`, 422, "`query` must not be empty"},
		{"missing query", "/v2/rerank", `{"documents":["a"]}`, 422, "`query` is required"},
		{"empty documents", "/rerank", `{"query":"q","documents":[]}`, 422, "`documents` must not be empty"},
		{"empty texts", "/rerank", `{"query":"q","texts":[]}`, 422, "`texts` must not be empty"},
		{"number as query", "/rerank", `{"query":3,"documents":["a"]}`, 422, "`query` must be a string, got a number"},
		{"number as document", "/rerank", `{"query":"q","documents":["a",7]}`, 422, "`documents[1]` must be a string, got a number"},
		{"object document in infinity form", "/rerank", `{"query":"q","documents":[{"text":"a"}]}`, 422, "`documents[0]` must be a string"},
		{"bad jina object", "/v1/rerank", `{"query":"q","documents":[{"txt":"a"}]}`, 422, "object with a string `text`"},
		{"string top_n", "/rerank", `{"query":"q","documents":["a"],"top_n":"2"}`, 422, "`top_n` must be an integer, got a string"},
		{"fractional top_n", "/v2/rerank", `{"query":"q","documents":["a"],"top_n":1.5}`, 422, "`top_n` must be an integer"},
		{"zero top_n", "/rerank", `{"query":"q","documents":["a"],"top_n":0}`, 422, "`top_n` must be at least 1"},
		{"bad max_tokens_per_doc", "/v2/rerank", `{"query":"q","documents":["a"],"max_tokens_per_doc":-1}`, 422, "`max_tokens_per_doc` must be at least 1"},
		{"string bool", "/rerank", `{"query":"q","documents":["a"],"raw_scores":"yes"}`, 422, "`raw_scores` must be true or false"},
		{"left truncation", "/rerank", `{"query":"q","texts":["a"],"truncation_direction":"left"}`, 422, "not supported"},
		{"bad direction", "/rerank", `{"query":"q","texts":["a"],"truncation_direction":"up"}`, 422, "must be \"right\" or \"left\""},
		{"too many documents", "/rerank", `{"query":"q","documents":["a","b","c","d","e"]}`, 422, "more than the limit of 4"},
		{"document too big", "/rerank", `{"query":"q","documents":["` + strings.Repeat("x", 101) + `"]}`, 422, "`documents[0]` is 101 bytes"},
		{"query too big", "/rerank", `{"query":"` + strings.Repeat("x", 101) + `","documents":["a"]}`, 422, "`query` is 101 bytes"},
		{"nul in document", "/rerank", `{"query":"q","documents":["a\u0000b"]}`, 422, "NUL"},
		{"body too big", "/rerank", `{"query":"q","documents":["` + strings.Repeat("x", 5000) + `"]}`, 413, "larger than the limit of 4096 bytes"},
		{"unknown model", "/rerank", `{"query":"q","documents":["a"],"model":"nope"}`, 404, `model "nope" is not served here; served: m1, m2`},
		{"too long without truncation", "/rerank", `{"query":"q","texts":["a","` + long + `"],"truncate":false}`, 422, "`texts[1]`"},
		{"deep nesting", "/rerank", `{"query":` + strings.Repeat("[", 1500) + strings.Repeat("]", 1500) + `,"documents":["a"]}`, 422, "`query` must be a string, got a list"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := post(t, ts.URL+c.path, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			msg := errorMessage(t, c.path, c.body, r.body)
			if !strings.Contains(msg, c.inMessage) {
				t.Errorf("message %q does not contain %q", msg, c.inMessage)
			}
		})
	}
}

// errorMessage reads an error body in the shape the request's form expects.
func errorMessage(t *testing.T, path, reqBody string, body []byte) string {
	t.Helper()
	switch {
	case strings.HasPrefix(path, "/weaviate/") || strings.HasPrefix(path, "/v2/models/"):
		var e struct {
			Error string `json:"error"`
		}
		strict(t, body, &e)
		return e.Error
	case path == "/v1/rerank":
		var e struct {
			Detail string `json:"detail"`
		}
		strict(t, body, &e)
		return e.Detail
	case path == "/v2/rerank":
		var e struct {
			Message string `json:"message"`
		}
		strict(t, body, &e)
		return e.Message
	case strings.Contains(reqBody, `"texts"`) && !strings.Contains(reqBody, `"documents"`):
		var e struct {
			Error     string `json:"error"`
			ErrorType string `json:"error_type"`
		}
		strict(t, body, &e)
		if e.ErrorType == "" {
			t.Errorf("TEI error without error_type: %s", body)
		}
		return e.Error
	}
	var e struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    int     `json:"code"`
		} `json:"error"`
	}
	strict(t, body, &e)
	if e.Error.Code < 400 {
		t.Errorf("error without code: %s", body)
	}
	return e.Error.Message
}

// TestDeepNesting: JSON nested past encoding/json's depth limit (10000) is a
// 400, not a stack overflow.
func TestDeepNesting(t *testing.T) {
	_, ts := newTestServer(t, Config{}, "m", &fakeRanker{})
	body := `{"query":"q","documents":["a"],"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`
	r := post(t, ts.URL+"/v1/rerank", body)
	if r.status != 400 || !strings.Contains(errorMessage(t, "/v1/rerank", body, r.body), "depth") {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

func TestModelChoice(t *testing.T) {
	a, b := &fakeRanker{}, &fakeRanker{}
	_, ts := newTestServer(t, Config{}, "a", a, "b", b)
	for _, c := range []struct {
		body string
		want *fakeRanker
	}{
		{`{"query":"q","documents":["x"]}`, a},
		{`{"query":"q","documents":["x"],"model":"default/not-specified"}`, a},
		{`{"query":"q","documents":["x"],"model":"b"}`, b},
		{`{"query":"q","texts":["x"]}`, a},
	} {
		before := c.want.calls.Load()
		if r := post(t, ts.URL+"/rerank", c.body); r.status != 200 {
			t.Fatalf("%s: status %d: %s", c.body, r.status, r.body)
		}
		if c.want.calls.Load() != before+1 {
			t.Errorf("%s went to the wrong model", c.body)
		}
	}
}

func TestBackendError(t *testing.T) {
	_, ts := newTestServer(t, Config{}, "m", &fakeRanker{fail: errFake})
	r := post(t, ts.URL+"/rerank", `{"query":"q","texts":["a"]}`)
	if r.status != 500 || !strings.Contains(errorMessage(t, "/rerank", `"texts"`, r.body), "fake: boom") {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

func TestAuth(t *testing.T) {
	const key = "s3cret-key"
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil))
	_, ts := newTestServer(t, Config{APIKey: key, Logger: logger}, "m", &fakeRanker{})
	body := `{"query":"q","documents":["a"]}`
	for _, path := range []string{"/rerank", "/v1/rerank", "/v2/rerank"} {
		for _, hdr := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", key}, {"Authorization", "Bearer " + key + "x"}} {
			if r := post(t, ts.URL+path, body, hdr...); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s with %v: status %d", path, hdr, r.status)
			}
		}
		if r := post(t, ts.URL+path, body, "Authorization", "Bearer "+key); r.status != 200 {
			t.Errorf("%s with the key: status %d: %s", path, r.status, r.body)
		}
	}
	for _, path := range []string{"/metrics", "/openapi.json", "/info", "/nothing"} {
		if r := get(t, ts.URL+path); r.status != 401 {
			t.Errorf("GET %s without the key: status %d", path, r.status)
		}
		if r := get(t, ts.URL+path, "Authorization", "Bearer "+key); r.status == 401 {
			t.Errorf("GET %s with the key: status %d", path, r.status)
		}
	}
	if r := get(t, ts.URL+"/health"); r.status != 200 {
		t.Errorf("/health must not need the key: status %d", r.status)
	}
	m := get(t, ts.URL+"/metrics", "Authorization", "Bearer "+key)
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), key) || strings.Contains(string(m.body), key) {
		t.Error("the API key appears in the logs or metrics")
	}
	if !strings.Contains(logs.String(), `"status":401`) {
		t.Errorf("requests are not logged: %s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestHealthAndReadiness(t *testing.T) {
	s := New(Config{Logger: quiet})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	if r := get(t, ts.URL+"/health"); r.status != 503 || !strings.Contains(string(r.body), "loading") {
		t.Fatalf("before load: %d %s", r.status, r.body)
	}
	r := post(t, ts.URL+"/rerank", `{"query":"q","texts":["a"]}`)
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("rerank before load: %d %s", r.status, r.body)
	}
	s.AddModel("m", &fakeRanker{})
	s.SetReady()
	if r := get(t, ts.URL+"/health"); r.status != 200 {
		t.Fatalf("after load: %d %s", r.status, r.body)
	}
	r = get(t, ts.URL+"/info")
	var info struct {
		Models []struct {
			Name    string `json:"name"`
			Default bool   `json:"default"`
		} `json:"models"`
	}
	if err := json.Unmarshal(r.body, &info); err != nil || len(info.Models) != 1 || info.Models[0].Name != "m" || !info.Models[0].Default {
		t.Fatalf("/info: %s", r.body)
	}
	s.Drain()
	if r := get(t, ts.URL+"/health"); r.status != 503 {
		t.Fatalf("draining: %d", r.status)
	}
	r = post(t, ts.URL+"/v2/rerank", `{"query":"q","documents":["a"]}`)
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("rerank while draining: %d %s", r.status, r.body)
	}
}

func TestOpenAPI(t *testing.T) {
	_, ts := newTestServer(t, Config{}, "m", &fakeRanker{})
	r := get(t, ts.URL+"/openapi.json")
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || r.status != 200 {
		t.Fatalf("status %d, %v", r.status, err)
	}
	// Every route the server registers, and nothing else.
	routes := map[string]string{
		"/rerank": "post", "/v1/rerank": "post", "/v2/rerank": "post",
		"/health": "get", "/info": "get", "/metrics": "get", "/openapi.json": "get",
		"/embed": "post", "/v1/embeddings": "post", "/embeddings": "post",
		"/livez": "get", "/readyz": "get", "/v1/models": "get", "/models": "get",
		"/weaviate/rerank": "post", "/weaviate/.well-known/live": "get", "/weaviate/.well-known/ready": "get", "/weaviate/meta": "get",
		"/v2": "get", "/v2/health/live": "get", "/v2/health/ready": "get", "/v2/models/{name}": "get",
		"/v2/models/{name}/ready": "get", "/v2/models/{name}/infer": "post", "/v2/models/{name}/versions/{version}/infer": "post",
	}
	if len(doc.Paths) != len(routes) {
		t.Errorf("openapi.json has %d paths, the server %d", len(doc.Paths), len(routes))
	}
	for p, m := range routes {
		if _, ok := doc.Paths[p][m]; !ok {
			t.Errorf("openapi.json lacks %s %s", m, p)
		}
		path := strings.NewReplacer("{name}", "m", "{version}", "1").Replace(p)
		if r := do(t, mustReq(strings.ToUpper(m), ts.URL+path, `{"query":"q","documents":["a"]}`)); r.status == 404 {
			t.Errorf("%s %s is in openapi.json but not served", m, p)
		}
	}
}

func mustReq(method, url, body string) *http.Request {
	r, _ := http.NewRequest(method, url, strings.NewReader(body))
	return r
}

func TestMetrics(t *testing.T) {
	_, ts := newTestServer(t, Config{}, "m", &fakeRanker{})
	post(t, ts.URL+"/rerank", `{"query":"q","documents":["a","b"]}`)
	post(t, ts.URL+"/rerank", `{"query":"","documents":["a"]}`)
	m := string(get(t, ts.URL+"/metrics").body)
	for _, want := range []string{
		`crossrank_requests_total{code="200",endpoint="/rerank",form="infinity"} 1`,
		`crossrank_requests_total{code="422",endpoint="/rerank",form="infinity"} 1`,
		`crossrank_pairs_total{model="m"} 2`,
		`crossrank_tokens_total{model="m"} 10`,
		`crossrank_queue_wait_seconds_count 1`,
		`crossrank_request_duration_seconds_bucket`,
		`crossrank_queue_pairs_waiting 0`,
		`crossrank_ready 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestQueueFull fills the server and checks that the overflow is refused at
// once with 429 and Retry-After, and that everything admitted completes.
func TestQueueFull(t *testing.T) {
	f := &fakeRanker{gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	cfg := Config{Limits: Limits{MaxDocuments: 2}, MaxPairsInFlight: 2, MaxQueuedRequests: 2, MaxQueuedPairs: 100}
	s, ts := newTestServer(t, cfg, "m", f)
	body := `{"query":"q","documents":["a","b"]}`
	var wg sync.WaitGroup
	codes := make(chan int, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- post(t, ts.URL+"/rerank", body).status
		}()
	}
	<-f.entered // one is scoring, so the other two wait
	waitFor(t, func() bool { _, _, n := s.queue.stats(); return n == 2 })
	r := post(t, ts.URL+"/rerank", body)
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("overflow: status %d, Retry-After %q: %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	close(f.gate)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("an admitted request got %d", c)
		}
	}
}

// TestOpenRequests: past MaxOpenRequests a request is refused before its
// body is read.
func TestOpenRequests(t *testing.T) {
	f := &fakeRanker{gate: make(chan struct{}), entered: make(chan struct{}, 10)}
	_, ts := newTestServer(t, Config{MaxOpenRequests: 2}, "m", f)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := post(t, ts.URL+"/rerank", `{"query":"q","documents":["a"]}`); r.status != 200 {
				t.Errorf("admitted request: %d %s", r.status, r.body)
			}
		}()
	}
	<-f.entered
	<-f.entered
	r := post(t, ts.URL+"/v1/rerank", `{"query":"q","documents":["a"]}`)
	if r.status != 429 || r.header.Get("Retry-After") == "" || !strings.Contains(errorMessage(t, "/v1/rerank", "", r.body), "too many requests open") {
		t.Errorf("third request: %d %s", r.status, r.body)
	}
	close(f.gate)
	wg.Wait()
}

func TestTimeout(t *testing.T) {
	f := &fakeRanker{gate: make(chan struct{})}
	_, ts := newTestServer(t, Config{RequestTimeout: 50 * time.Millisecond}, "m", f)
	r := post(t, ts.URL+"/v2/rerank", `{"query":"q","documents":["a"]}`)
	if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "timed out") {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if f.cancels.Load() != 1 {
		t.Errorf("the scoring was not cancelled")
	}
}

// TestClientDisconnect checks that a client going away cancels its work and
// frees its place in the queue.
func TestClientDisconnect(t *testing.T) {
	f := &fakeRanker{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	s, ts := newTestServer(t, Config{}, "m", f)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/rerank", strings.NewReader(`{"query":"q","documents":["a","b","c"]}`))
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-f.entered
	if u, _, _ := s.queue.stats(); u != 3 {
		t.Fatalf("in flight %d pairs, want 3", u)
	}
	cancel()
	<-done
	waitFor(t, func() bool { return f.cancels.Load() == 1 })
	waitFor(t, func() bool { u, _, _ := s.queue.stats(); return u == 0 && s.InFlight() == 0 })
	m := string(get(t, ts.URL+"/metrics").body)
	if !strings.Contains(m, "crossrank_canceled_total 1") {
		t.Errorf("the cancel is not counted")
	}
}

// TestGracefulShutdown: in-flight requests finish, new ones get 503 while
// draining, and Serve returns once the in-flight work is done.
func TestGracefulShutdown(t *testing.T) {
	f := &fakeRanker{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	s := New(Config{Logger: quiet})
	s.AddModel("m", f)
	s.SetReady()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, 5*time.Second) }()

	first := make(chan reply, 1)
	go func() { first <- post(t, url+"/rerank", `{"query":"q","documents":["a"]}`) }()
	<-f.entered
	stop() // SIGTERM
	waitFor(t, func() bool { return !s.Ready() })
	if r := post(t, url+"/rerank", `{"query":"q","documents":["a"]}`); r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("new request while draining: %d %s", r.status, r.body)
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned with a request in flight: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(f.gate)
	if r := <-first; r.status != 200 {
		t.Errorf("in-flight request: %d %s", r.status, r.body)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestConcurrent sends 200 requests at once, in every form, and checks each
// answer.
func TestConcurrent(t *testing.T) {
	_, ts := newTestServer(t, Config{}, "m", &fakeRanker{})
	checkConcurrent(t, ts.URL, 200, func(query string, docs []string) []ranked { return fakeRanking(query, docs, false) })
}

func checkConcurrent(t *testing.T, url string, n int, want func(query string, docs []string) []ranked) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			query := fmt.Sprintf("query number %d about %s", i, testDocs[i%len(testDocs)])
			docs := testDocs[:1+i%len(testDocs)]
			var path string
			var body map[string]any
			switch i % 4 {
			case 0:
				path, body = "/rerank", map[string]any{"query": query, "documents": docs}
			case 1:
				path, body = "/rerank", map[string]any{"query": query, "texts": docs}
			case 2:
				path, body = "/v1/rerank", map[string]any{"query": query, "documents": docs}
			case 3:
				path, body = "/v2/rerank", map[string]any{"query": query, "documents": docs}
			}
			b, _ := json.Marshal(body)
			resp, err := client.Post(url+path, "application/json", bytes.NewReader(b))
			if err != nil {
				errs <- err
				return
			}
			rb, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("request %d: status %d: %s", i, resp.StatusCode, rb)
				return
			}
			got, err := rankingOf(i%4, rb)
			if err != nil {
				errs <- fmt.Errorf("request %d: %v", i, err)
				return
			}
			w := want(query, docs)
			if len(got) != len(w) {
				errs <- fmt.Errorf("request %d: %d results, want %d", i, len(got), len(w))
				return
			}
			for j := range w {
				if got[j] != w[j] {
					errs <- fmt.Errorf("request %d result %d: got %+v, want %+v", i, j, got[j], w[j])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// rankingOf reads (index, score) pairs from any form's answer.
func rankingOf(form int, b []byte) ([]ranked, error) {
	var items []struct {
		Index          int      `json:"index"`
		Score          *float64 `json:"score"`
		RelevanceScore *float64 `json:"relevance_score"`
	}
	if form == 1 {
		if err := json.Unmarshal(b, &items); err != nil {
			return nil, err
		}
	} else {
		var wrap struct {
			Results json.RawMessage `json:"results"`
		}
		if err := json.Unmarshal(b, &wrap); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(wrap.Results, &items); err != nil {
			return nil, err
		}
	}
	out := make([]ranked, len(items))
	for i, it := range items {
		s := it.RelevanceScore
		if s == nil {
			s = it.Score
		}
		if s == nil {
			return nil, fmt.Errorf("result %d has no score: %s", i, b)
		}
		out[i] = ranked{it.Index, *s}
	}
	return out, nil
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestHostileSizes: the default limits answer a 1 MB document and 100,000
// documents with 422 and a message, before any scoring.
func TestHostileSizes(t *testing.T) {
	f := &fakeRanker{}
	_, ts := newTestServer(t, Config{}, "m", f)
	big, _ := json.Marshal(map[string]any{"query": "q", "documents": []string{"ok", strings.Repeat("x", 1<<20)}})
	r := post(t, ts.URL+"/rerank", big)
	if r.status != 422 || !strings.Contains(errorMessage(t, "/rerank", "", r.body), "`documents[1]` is 1048576 bytes") {
		t.Errorf("1 MB document: %d %s", r.status, r.body)
	}
	many := make([]string, 100000)
	for i := range many {
		many[i] = "d"
	}
	lots, _ := json.Marshal(map[string]any{"query": "q", "texts": many})
	r = post(t, ts.URL+"/rerank", lots)
	if r.status != 422 || !strings.Contains(errorMessage(t, "/rerank", `"texts"`, r.body), "100000 entries, more than the limit of 1000") {
		t.Errorf("100,000 documents: %d %s", r.status, r.body)
	}
	if f.calls.Load() != 0 {
		t.Error("an oversized request reached the model")
	}
}

// TestTimeoutThroughServe: a request that times out while scoring gets its
// 503 with Retry-After through Serve's real http.Server (ReadTimeout,
// keep-alive, the background read net/http starts once the body is read),
// not only through httptest's.
func TestTimeoutThroughServe(t *testing.T) {
	f := &fakeRanker{gate: make(chan struct{})}
	s := New(Config{RequestTimeout: 300 * time.Millisecond, Logger: quiet})
	s.AddModel("m", f)
	s.SetReady()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, time.Second) }()
	defer func() { cancel(); <-done }()
	for _, path := range []string{"/rerank", "/v2/rerank"} {
		r := post(t, "http://"+ln.Addr().String()+path, `{"query":"q","documents":["a"]}`)
		if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "timed out") {
			t.Errorf("%s: status %d, body %q; want 503 timed out with Retry-After", path, r.status, r.body)
		}
	}
}

// TestClientGoneStillAnswers: a request the server takes for abandoned
// (its context canceled) is still answered with a retryable 503, so that a
// client that is in fact still reading never gets net/http's empty 200.
func TestClientGoneStillAnswers(t *testing.T) {
	s := New(Config{Logger: quiet})
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/v2/rerank", strings.NewReader(`{}`))
	s.serveCounted(w, r, "/v2/rerank", &reqState{form: formOf(epCohere)}, func() *apiError { return clientGone })
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "canceled") {
		t.Errorf("status %d, Retry-After %q, body %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
}
