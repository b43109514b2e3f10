package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/crossrank/crossrank/rerank"
)

// These tests serve the real re-ranker on the fixture checkpoints in
// testdata/models (random weights: the scores mean nothing, but each must
// equal what the library gives for the same input).

var fixtures struct {
	once       sync.Once
	bert, xlmr *rerank.Reranker
	err        error
}

func realModels(t *testing.T) (bert, xlmr *rerank.Reranker) {
	t.Helper()
	fixtures.once.Do(func() {
		ctx := context.Background()
		fixtures.bert, fixtures.err = rerank.New(ctx, "../testdata/models/bert", rerank.Options{})
		if fixtures.err == nil {
			fixtures.xlmr, fixtures.err = rerank.New(ctx, "../testdata/models/xlmr", rerank.Options{})
		}
	})
	if fixtures.err != nil {
		t.Fatalf("loading the fixture models: %v", fixtures.err)
	}
	return fixtures.bert, fixtures.xlmr
}

// corpusTexts returns the first n texts of testdata/corpus.jsonl
// (multilingual sentences).
func corpusTexts(t *testing.T, n int) []string {
	t.Helper()
	f, err := os.Open("../testdata/corpus.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && len(out) < n {
		var rec struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		out = append(out, rec.Text)
	}
	return out
}

// libRanking is what the library itself answers: (index, score) best first.
func libRanking(t *testing.T, r *rerank.Reranker, query string, docs []string, o rerank.RerankOptions, raw bool) []ranked {
	t.Helper()
	res, err := r.RerankStrings(context.Background(), query, docs, o)
	if err != nil {
		// Error, not Fatal: this also runs on the goroutines of checkConcurrent.
		t.Errorf("library: %v", err)
		return nil
	}
	out := make([]ranked, len(res))
	for i, x := range res {
		out[i] = ranked{x.Index, x.Score}
		if raw {
			out[i].score = float64(x.Logit)
		}
	}
	return out
}

func TestRealForms(t *testing.T) {
	bert, xlmr := realModels(t)
	_, ts := newTestServer(t, Config{}, "bert", bert, "xlmr", xlmr)
	docs := corpusTexts(t, 12)
	q := "how does a cross-encoder score a document?"
	compare := func(t *testing.T, got, want []ranked, raw bool) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%d results, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i].index != want[i].index || !scoreEq(got[i].score, want[i].score, raw) {
				t.Errorf("result %d: got %+v, library %+v", i, got[i], want[i])
			}
		}
	}
	for _, model := range []string{"bert", "xlmr"} {
		r := map[string]*rerank.Reranker{"bert": bert, "xlmr": xlmr}[model]
		t.Run(model+"/infinity", func(t *testing.T) {
			for _, raw := range []bool{false, true} {
				resp := post(t, ts.URL+"/rerank", map[string]any{"query": q, "documents": docs, "model": model, "raw_scores": raw, "top_n": 5})
				if resp.status != 200 {
					t.Fatalf("status %d: %s", resp.status, resp.body)
				}
				var got wantInfinity
				strict(t, resp.body, &got)
				want := libRanking(t, r, q, docs, rerank.RerankOptions{}, raw)
				compare(t, rankedOf(got.Results), want[:5], raw)
				if got.Model != model {
					t.Errorf("model %q", got.Model)
				}
			}
		})
		t.Run(model+"/jina", func(t *testing.T) {
			resp := post(t, ts.URL+"/v1/rerank", map[string]any{"query": q, "documents": docs, "model": model})
			var got wantJina
			strict(t, resp.body, &got)
			compare(t, rankedOf(got.Results), libRanking(t, r, q, docs, rerank.RerankOptions{}, false), false)
		})
		t.Run(model+"/cohere", func(t *testing.T) {
			resp := post(t, ts.URL+"/v2/rerank", map[string]any{"query": q, "documents": docs, "model": model, "max_tokens_per_doc": 4})
			var got wantCohere
			strict(t, resp.body, &got)
			compare(t, rankedOf(got.Results), libRanking(t, r, q, docs, rerank.RerankOptions{MaxDocTokens: 4}, false), false)
		})
	}
	t.Run("tei", func(t *testing.T) {
		// TEI has no model field: the default (first) model answers.
		resp := post(t, ts.URL+"/rerank", map[string]any{"query": q, "texts": docs, "return_text": true})
		var got wantTEI
		strict(t, resp.body, &got)
		g := make([]ranked, len(got))
		for i, x := range got {
			g[i] = ranked{x.Index, x.Score}
			if x.Text == nil || *x.Text != docs[x.Index] {
				t.Errorf("result %d: text %v", i, x.Text)
			}
		}
		compare(t, g, libRanking(t, bert, q, docs, rerank.RerankOptions{}, false), false)
	})
	t.Run("tei/truncate=false", func(t *testing.T) {
		long := strings.Repeat(docs[0]+" ", 80) // well past 512 tokens
		body := map[string]any{"query": q, "texts": []string{docs[1], long}, "truncate": false}
		resp := post(t, ts.URL+"/rerank", body)
		if resp.status != 422 {
			t.Fatalf("status %d: %s", resp.status, resp.body)
		}
		if msg := errorMessage(t, "/rerank", `"texts"`, resp.body); !strings.Contains(msg, "`texts[1]`") {
			t.Errorf("message %q does not name the document", msg)
		}
		// With truncation (the default) it is scored, and reported cut.
		body["truncate"] = true
		resp = post(t, ts.URL+"/rerank", body)
		if resp.status != 200 || resp.header.Get("X-Crossrank-Truncated-Documents") != "1" {
			t.Fatalf("status %d, truncated %q: %s", resp.status, resp.header.Get("X-Crossrank-Truncated-Documents"), resp.body)
		}
	})
}

func rankedOf[T any](results []T) []ranked {
	b, _ := json.Marshal(results)
	var items []struct {
		Index          int     `json:"index"`
		RelevanceScore float64 `json:"relevance_score"`
	}
	json.Unmarshal(b, &items)
	out := make([]ranked, len(items))
	for i, it := range items {
		out[i] = ranked{it.Index, it.RelevanceScore}
	}
	return out
}

// TestRealSeedClient sends byte for byte what the seed's rerank_remote
// sends (httpx's json= body: ", "/": " separators, non-ASCII escaped) to a
// server whose model is called what the seed asks for, and reads the answer
// as rerank_remote does.
func TestRealSeedClient(t *testing.T) {
	bert, _ := realModels(t)
	_, ts := newTestServer(t, Config{}, "BAAI/bge-reranker-base", bert)
	chunks := []string{
		"Cross-encoders see the query and document together.",
		"Bi-encoders embed the query and the document independently.",
		"Caf\u00e9 au lait is coffee with hot milk.",
		"BM25 already handles simple keyword lookups well.",
	}
	body := `{"query": "what is a cross-encoder?", "documents": ["Cross-encoders see the query and document together.", ` +
		`"Bi-encoders embed the query and the document independently.", "Caf\u00e9 au lait is coffee with hot milk.", ` +
		`"BM25 already handles simple keyword lookups well."], "model": "BAAI/bge-reranker-base"}`
	resp := post(t, ts.URL+"/rerank", body, "User-Agent", "python-httpx/0.28.1", "Accept", "*/*", "Accept-Encoding", "gzip, deflate")
	if resp.status != 200 {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	var parsed struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(resp.body, &parsed); err != nil {
		t.Fatal(err)
	}
	// ranked = sorted(results, key=relevance_score, reverse=True)[:top_k]
	want := libRanking(t, bert, "what is a cross-encoder?", chunks, rerank.RerankOptions{}, false)
	if len(parsed.Results) != len(want) {
		t.Fatalf("got %s", resp.body)
	}
	for i, w := range want {
		idx, _ := parsed.Results[i]["index"].(float64)
		score, _ := parsed.Results[i]["relevance_score"].(float64)
		if int(idx) != w.index || score != w.score {
			t.Errorf("result %d: got %v, library %+v", i, parsed.Results[i], w)
		}
		if score < 0 || score > 1 {
			t.Errorf("relevance_score %v is not a sigmoid", score)
		}
	}
}

// TestRealConcurrent: 200 requests at once in every form, each answered
// with exactly the library's scores (a pair's score does not depend on the
// batch it was packed into).
func TestRealConcurrent(t *testing.T) {
	bert, _ := realModels(t)
	_, ts := newTestServer(t, Config{}, "bert", bert)
	checkConcurrent(t, ts.URL, 200, func(query string, docs []string) []ranked {
		return libRanking(t, bert, query, docs, rerank.RerankOptions{}, false)
	})
}

// TestPeerSeedClient runs the seed's own rerank_remote (Python, httpx)
// against the server. It needs a Python with httpx, named by
// CROSSRANK_PEER_PYTHON (make test-peers); TestRealSeedClient covers the
// same request in Go for make test.
func TestPeerSeedClient(t *testing.T) {
	py := os.Getenv("CROSSRANK_PEER_PYTHON")
	if py == "" {
		t.Skip("CROSSRANK_PEER_PYTHON (a python with httpx) is not set; see make test-peers")
	}
	bert, _ := realModels(t)
	_, ts := newTestServer(t, Config{}, "BAAI/bge-reranker-base", bert)
	chunks := corpusTexts(t, 30)
	query := "what is a cross-encoder?"
	in, _ := json.Marshal(map[string]any{"query": query, "chunks": chunks, "top_k": 5})
	cmd := exec.Command(py, "testdata/seed_client.py", ts.URL)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("seed client: %v", err)
	}
	var got []struct {
		Content     string  `json:"content"`
		RerankScore float64 `json:"rerank_score"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("seed client printed %q: %v", out, err)
	}
	want := libRanking(t, bert, query, chunks, rerank.RerankOptions{TopK: 5}, false)
	if len(got) != len(want) {
		t.Fatalf("seed client got %d results, library %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Content != chunks[w.index] || got[i].RerankScore != w.score {
			t.Errorf("result %d: seed client %+v, library %+v", i, got[i], w)
		}
	}
}

// TestRealBatchMetrics: the forward passes of a re-ranker created with
// Server.OnBatch show in /metrics.
func TestRealBatchMetrics(t *testing.T) {
	s := New(Config{Logger: quiet})
	r, err := rerank.New(context.Background(), "../testdata/models/bert", rerank.Options{OnBatch: s.OnBatch("m")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s.AddModel("m", r)
	s.SetReady()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	if resp := post(t, ts.URL+"/rerank", `{"query":"q","documents":["a","b","c"]}`); resp.status != 200 {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	m := string(get(t, ts.URL+"/metrics").body)
	for _, want := range []string{`crossrank_batch_pairs_sum{model="m"} 3`, `crossrank_batch_duration_seconds_count{model="m"}`, `crossrank_batch_tokens_count{model="m"}`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestPeerCohereSDK runs the official Cohere Python SDK, ClientV2.rerank
// (POST /v2/rerank) and the v1 Client.rerank (POST /v1/rerank), against
// the server with a model name it does not serve ("rerank-v3.5", the SDK
// documentation's): one model served answers any name. The SDK sends the
// API key as a bearer token, so auth is on. It needs a Python with cohere,
// named by CROSSRANK_PEER_PYTHON (make test-peers installs it).
func TestPeerCohereSDK(t *testing.T) {
	py := os.Getenv("CROSSRANK_PEER_PYTHON")
	if py == "" {
		t.Skip("CROSSRANK_PEER_PYTHON (a python with cohere) is not set; see make test-peers")
	}
	bert, _ := realModels(t)
	const key = "peer-test-key"
	_, ts := newTestServer(t, Config{APIKey: key}, "BAAI/bge-reranker-base", bert)
	docs := corpusTexts(t, 12)
	query := "what is a cross-encoder?"
	in, _ := json.Marshal(map[string]any{"query": query, "documents": docs, "model": "rerank-v3.5", "top_n": 4})
	cmd := exec.Command(py, "testdata/cohere_client.py", ts.URL, key)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cohere client: %v", err)
	}
	var got struct {
		V2 [][2]float64 `json:"v2"`
		V1 [][3]any     `json:"v1"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("cohere client printed %q: %v", out, err)
	}
	want := libRanking(t, bert, query, docs, rerank.RerankOptions{TopK: 4}, false)
	if len(got.V2) != len(want) || len(got.V1) != len(want) {
		t.Fatalf("v2 %d and v1 %d results, library %d: %s", len(got.V2), len(got.V1), len(want), out)
	}
	for i, w := range want {
		if int(got.V2[i][0]) != w.index || got.V2[i][1] != w.score {
			t.Errorf("ClientV2 result %d: %v, library %+v", i, got.V2[i], w)
		}
		idx, _ := got.V1[i][0].(float64)
		score, _ := got.V1[i][1].(float64)
		text, _ := got.V1[i][2].(string)
		if int(idx) != w.index || score != w.score || text != docs[w.index] {
			t.Errorf("Client (v1) result %d: %v, library %+v", i, got.V1[i], w)
		}
	}
}
