package server

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"testing"

	"github.com/crossrank/crossrank/embed"
)

func fixtureEmbedder(t *testing.T) *embed.Embedder {
	t.Helper()
	e, err := embed.New(context.Background(), "../testdata/models/embed-bert", embed.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestRealEmbedRoutes: the routes answer what the library computes, bit for
// bit, in every form.
func TestRealEmbedRoutes(t *testing.T) {
	e := fixtureEmbedder(t)
	s, ts := newTestServer(t, Config{})
	s.AddEmbedder("minilm", e)
	texts := corpusTexts(t, 5)
	want, err := e.EmbedStrings(context.Background(), texts, embed.EmbedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"input": texts})
	r := post(t, ts.URL+"/v1/embeddings", body)
	var oa struct {
		Data []struct {
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &oa); err != nil || r.status != 200 || len(oa.Data) != len(texts) {
		t.Fatalf("%d %s %v", r.status, r.body, err)
	}
	for i := range want {
		for j := range want[i] {
			if oa.Data[i].Embedding[j] != want[i][j] {
				t.Fatalf("text %d component %d: %v over HTTP, %v from the library", i, j, oa.Data[i].Embedding[j], want[i][j])
			}
		}
	}
}

// TestPeerOpenAIClient runs the OpenAI Python client (client.embeddings.create,
// base64 by default, float and dimensions) and TEI's request form (httpx)
// against the server. It needs a Python with openai and httpx, named by
// CROSSRANK_PEER_PYTHON (make test-peers).
func TestPeerOpenAIClient(t *testing.T) {
	py := os.Getenv("CROSSRANK_PEER_PYTHON")
	if py == "" {
		t.Skip("CROSSRANK_PEER_PYTHON (a python with openai and httpx) is not set; see make test-peers")
	}
	e := fixtureEmbedder(t)
	s, ts := newTestServer(t, Config{})
	s.AddEmbedder("all-MiniLM-L6-v2", e)
	texts := corpusTexts(t, 12)
	in, _ := json.Marshal(map[string]any{"texts": texts, "model": "all-MiniLM-L6-v2"})
	cmd := exec.Command(py, "testdata/openai_client.py", ts.URL)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openai client: %v", err)
	}
	var got struct {
		OpenAI      [][]float64 `json:"openai"`
		OpenAIFloat [][]float64 `json:"openai_float"`
		OpenAIDims  [][]float64 `json:"openai_dims"`
		TEI         [][]float64 `json:"tei"`
		Usage       int         `json:"usage"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("openai client printed %q: %v", out, err)
	}
	res, err := e.Embed(context.Background(), texts, embed.EmbedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tokens := 0
	for _, r := range res {
		tokens += r.Tokens
	}
	if got.Usage != tokens {
		t.Errorf("usage %d tokens, library %d", got.Usage, tokens)
	}
	for name, vecs := range map[string][][]float64{"openai (base64)": got.OpenAI, "openai float": got.OpenAIFloat, "tei": got.TEI} {
		if len(vecs) != len(res) {
			t.Fatalf("%s: %d vectors for %d texts", name, len(vecs), len(res))
		}
		for i, r := range res {
			for j, w := range r.Vector {
				if float32(vecs[i][j]) != w {
					t.Fatalf("%s: text %d component %d: %v, library %v", name, i, j, vecs[i][j], w)
				}
			}
		}
	}
	dims, _ := e.Embed(context.Background(), texts[:1], embed.EmbedOptions{Dimensions: 8})
	n := 0.0
	for j, w := range dims[0].Vector {
		n += float64(w) * float64(w)
		if len(got.OpenAIDims) != 1 || float32(got.OpenAIDims[0][j]) != w {
			t.Fatalf("dimensions 8: %v, library %v", got.OpenAIDims, dims[0].Vector)
		}
	}
	if math.Abs(math.Sqrt(n)-1) > 1e-6 {
		t.Errorf("dimensions 8 of a normalized model: norm %v", math.Sqrt(n))
	}
}
