package server

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/embed"
)

// fakeEmbedder gives text t the vector (len(t), words(t), 1, 0...) of dim
// components; a "token" is a byte, plus 2.
type fakeEmbedder struct {
	dim, maxLen int
}

func (f *fakeEmbedder) Info() embed.Info {
	return embed.Info{Model: "fake-embed", Architecture: "BertModel", Dim: f.dim, MaxLength: f.maxLen, Pooling: []string{"mean"}}
}

func (f *fakeEmbedder) Embed(ctx context.Context, texts []string, o embed.EmbedOptions) ([]embed.Embedding, error) {
	out := make([]embed.Embedding, len(texts))
	for i, t := range texts {
		n := len(t) + 2
		if o.PromptName != "" && o.PromptName != "query" {
			return nil, embed.ErrUnknownPrompt
		}
		if f.maxLen > 0 && n > f.maxLen {
			if o.Truncation == embed.NoTruncation {
				return nil, &embed.InputError{Index: i, Err: embed.ErrTooLong}
			}
			n, out[i].Truncated = f.maxLen, true
		}
		v := make([]float32, f.dim)
		v[0], v[1], v[2] = float32(len(t)), float32(len(strings.Fields(t))), 1
		if o.Dimensions > 0 {
			v = v[:o.Dimensions]
		}
		if o.Normalize {
			s := 0.0
			for _, x := range v {
				s += float64(x) * float64(x)
			}
			for j := range v {
				v[j] = float32(float64(v[j]) / math.Sqrt(s))
			}
		}
		out[i].Vector, out[i].Tokens = v, n
	}
	return out, ctx.Err()
}

func newEmbedServer(t *testing.T) (*Server, string) {
	s, ts := newTestServer(t, Config{Limits: Limits{MaxDocuments: 4, MaxDocumentBytes: 100}}, "ranker", &fakeRanker{})
	s.AddEmbedder("emb", &fakeEmbedder{dim: 4, maxLen: 10})
	return s, ts.URL
}

func TestEmbedForms(t *testing.T) {
	_, url := newEmbedServer(t)
	// TEI: a bare array, normalized by default.
	r := post(t, url+"/embed", `{"inputs": ["ab cd", "x"]}`)
	var tei [][]float32
	strict(t, r.body, &tei)
	if r.status != 200 || len(tei) != 2 || math.Abs(float64(tei[0][0])-5/math.Sqrt(30)) > 1e-6 {
		t.Fatalf("TEI: %d %s", r.status, r.body)
	}
	r = post(t, url+"/embed", `{"inputs": "ab cd", "normalize": false}`)
	strict(t, r.body, &tei)
	if len(tei) != 1 || tei[0][0] != 5 || tei[0][1] != 2 {
		t.Errorf("TEI string input, normalize false: %s", r.body)
	}
	// OpenAI: float and base64.
	type openAI struct {
		Object string `json:"object"`
		Data   []struct {
			Object    string `json:"object"`
			Index     int    `json:"index"`
			Embedding any    `json:"embedding"`
		} `json:"data"`
		Model string `json:"model"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}
	var oa openAI
	r = post(t, url+"/v1/embeddings", `{"input": ["hello world", "hi"], "model": "emb"}`)
	strict(t, r.body, &oa)
	if r.status != 200 || oa.Object != "list" || len(oa.Data) != 2 || oa.Data[1].Index != 1 || oa.Model != "emb" || oa.Usage.TotalTokens != 10+4 {
		t.Fatalf("OpenAI: %d %s", r.status, r.body)
	}
	if v := oa.Data[0].Embedding.([]any); len(v) != 4 || v[0].(float64) != 11 {
		t.Errorf("OpenAI float embedding %v", v)
	}
	r = post(t, url+"/v1/embeddings", `{"input": "hello world", "encoding_format": "base64", "dimensions": 3}`)
	strict(t, r.body, &oa)
	b, err := base64.StdEncoding.DecodeString(oa.Data[0].Embedding.(string))
	if err != nil || len(b) != 12 || math.Float32frombits(binary.LittleEndian.Uint32(b)) != 11 || r.header.Get("X-Crossrank-Truncated-Documents") != "1" {
		t.Errorf("base64: %v %v %v", b, err, r.header)
	}
	// infinity: the OpenAI form plus id and created.
	var inf struct {
		openAI
		ID      string `json:"id"`
		Created int64  `json:"created"`
	}
	r = post(t, url+"/embeddings", `{"input": ["a"], "model": "emb"}`)
	strict(t, r.body, &inf)
	if r.status != 200 || inf.ID == "" || inf.Created == 0 || len(inf.Data) != 1 {
		t.Errorf("infinity: %d %s", r.status, r.body)
	}
	if r := get(t, url+"/metrics"); !strings.Contains(string(r.body), `crossrank_embedded_texts_total{model="emb"} 7`) ||
		!strings.Contains(string(r.body), `crossrank_requests_total{code="200",endpoint="/v1/embeddings",form="openai"} 2`) {
		t.Errorf("metrics lack the embedding counts:\n%s", r.body)
	}
}

func TestEmbedErrors(t *testing.T) {
	_, url := newEmbedServer(t)
	for _, c := range []struct {
		path, body string
		status     int
		says       string
	}{
		{"/v1/embeddings", `{"input": []}`, 422, "`input` is an empty list"},
		{"/v1/embeddings", `{"input": ["a", ""]}`, 422, "`input[1]` is empty"},
		{"/v1/embeddings", `{"input": ["a", "  "]}`, 422, "`input[1]` is empty or blank"},
		{"/v1/embeddings", `{"input": ["a","b","c","d","e"]}`, 422, "at most 4"},
		{"/v1/embeddings", `{"input": [[1, 2, 3]]}`, 422, "token ids are not accepted"},
		{"/v1/embeddings", `{"input": 5}`, 422, "a string or a list of strings"},
		{"/v1/embeddings", `{}`, 422, "`input` is required"},
		{"/v1/embeddings", `{"input": "a", "encoding_format": "int8"}`, 422, "`encoding_format`"},
		{"/v1/embeddings", `{"input": "a", "dimensions": 9}`, 422, "`dimensions`: 9"},
		{"/v1/embeddings", `{"input": "a", "dimensions": 0}`, 422, "`dimensions` must be a positive"},
		{"/v1/embeddings", `{"input": "a", "model": "ranker"}`, 422, "re-ranking model"},
		{"/v1/embeddings", `{"input": "a", "prompt_name": "nope"}`, 422, "`prompt_name`"},
		{"/v1/embeddings", `{"input": "` + strings.Repeat("x", 101) + `"}`, 422, "more than the limit of 100"},
		{"/v1/embeddings", "{\"input\": \"\xff\"}", 400, "not valid UTF-8"},
		{"/v1/embeddings", `{"input": "a"`, 400, "not valid JSON"},
		{"/embed", `{"inputs": "a very long text", "truncate": false}`, 422, "`inputs[0]`"},
		{"/embed", `{"inputs": "a", "truncation_direction": "middle"}`, 422, "`truncation_direction`"},
		{"/embed", `{"inputs": []}`, 422, "`inputs` is an empty list"},
		{"/rerank", `{"query": "q", "documents": ["a"], "model": "emb"}`, 422, "is an embedding model"},
	} {
		r := post(t, url+c.path, c.body)
		var msg string
		if c.path == "/embed" {
			var e struct {
				Error     string `json:"error"`
				ErrorType string `json:"error_type"`
			}
			strict(t, r.body, &e)
			msg = e.Error
		} else {
			msg = errorMessage(t, c.path, c.body, r.body)
		}
		if r.status != c.status || !strings.Contains(msg, c.says) {
			t.Errorf("%s %s: %d %q, want %d saying %q", c.path, c.body, r.status, msg, c.status, c.says)
		}
	}
	// TEI errors have TEI's shape.
	r := post(t, url+"/embed", `{"inputs": []}`)
	var tei struct {
		Error     string `json:"error"`
		ErrorType string `json:"error_type"`
	}
	strict(t, r.body, &tei)
	if tei.ErrorType != "Validation" {
		t.Errorf("TEI error %s", r.body)
	}
	// One embedding model answers any other name and names itself; with
	// two, an unknown name is a 404 listing them.
	r = post(t, url+"/v1/embeddings", `{"input": "a", "model": "text-embedding-3-small"}`)
	if r.status != 200 || !strings.Contains(string(r.body), `"model":"emb"`) {
		t.Errorf("one embedder, another name: %d %s", r.status, r.body)
	}
	s2, url2 := newEmbedServer(t)
	s2.AddEmbedder("emb2", &fakeEmbedder{dim: 4})
	if r := post(t, url2+"/v1/embeddings", `{"input": "a", "model": "nope"}`); r.status != 404 || !strings.Contains(string(r.body), "embedding models served: emb, emb2") {
		t.Errorf("two embedders, unknown name: %d %s", r.status, r.body)
	}
	// --strict-model-names holds on the embedding routes too: the one
	// embedding model answers only its own name.
	strictS, strictTS := newTestServer(t, Config{StrictModelNames: true}, "ranker", &fakeRanker{})
	strictS.AddEmbedder("emb", &fakeEmbedder{dim: 4})
	for _, path := range []string{"/v1/embeddings", "/embeddings"} {
		r := post(t, strictTS.URL+path, `{"input": "a", "model": "text-embedding-3-small"}`)
		if r.status != 404 {
			t.Errorf("strict, one embedder, another name on %s: %d %s, want 404", path, r.status, r.body)
		} else if msg := errorMessage(t, path, "", r.body); !strings.Contains(msg, "`model`: \"text-embedding-3-small\" is not served here; embedding models served: emb") {
			t.Errorf("strict, one embedder, another name on %s: %q", path, msg)
		}
		if r := post(t, strictTS.URL+path, `{"input": "a", "model": "emb"}`); r.status != 200 {
			t.Errorf("strict, the served name on %s: %d %s", path, r.status, r.body)
		}
	}
	// A server without embedders says so.
	_, ts := newTestServer(t, Config{}, "ranker", &fakeRanker{})
	if r := post(t, ts.URL+"/v1/embeddings", `{"input": "a"}`); r.status != 404 || !strings.Contains(string(r.body), "no embedding model") {
		t.Errorf("no embedder: %d %s", r.status, r.body)
	}
}

func FuzzDecodeEmbedRequest(f *testing.F) {
	for _, s := range []string{`{"inputs": ["a", "b"], "normalize": false, "truncate": true, "truncation_direction": "Left"}`,
		`{"input": "x", "model": "m", "encoding_format": "base64", "dimensions": 3}`, `{"input": [[1]]}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, ep := range []embedEndpoint{embTEI, embOpenAI, embInfinity} {
			r, aerr := decodeEmbedRequest(ep, b, DefaultLimits)
			if aerr != nil {
				if aerr.Status < 400 || aerr.Status > 499 {
					t.Fatalf("status %d for a bad body", aerr.Status)
				}
				continue
			}
			if len(r.Inputs) == 0 || len(r.Inputs) > DefaultLimits.MaxDocuments || r.Dimensions < 0 {
				t.Fatalf("accepted %+v", r)
			}
			for _, s := range r.Inputs {
				if strings.TrimSpace(s) == "" || len(s) > DefaultLimits.MaxDocumentBytes {
					t.Fatalf("accepted input %q", s)
				}
			}
		}
	})
}

// GET /v1/models lists the embedding models beside the re-rankers.
func TestModelsListEmbedders(t *testing.T) {
	_, url := newEmbedServer(t)
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range got.Data {
		ids = append(ids, m.ID)
	}
	if len(ids) != 2 || ids[0] != "ranker" || ids[1] != "emb" {
		t.Errorf("/v1/models lists %v, want [ranker emb]", ids)
	}
}
