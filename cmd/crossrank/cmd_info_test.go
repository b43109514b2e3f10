package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func fixtureDir(t *testing.T, name string) string {
	dir := filepath.Join("..", "..", "testdata", "models", name)
	if _, err := os.Stat(dir); err != nil {
		t.Fatal("fixture missing (make fixtures):", err)
	}
	return dir
}

func TestInfoSharded(t *testing.T) {
	dir := fixtureDir(t, "xlmr-sharded")
	var out, errb bytes.Buffer
	if rc := runMain([]string{"info", "-json", dir}, nil, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	var got modelInfo
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	// The reference: what transformers wrote in the index when it saved the model.
	var idx struct {
		Metadata struct {
			TotalParameters int64 `json:"total_parameters"`
			TotalSize       int64 `json:"total_size"`
		} `json:"metadata"`
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "model.safetensors.index.json"))
	json.Unmarshal(raw, &idx)
	if got.Parameters != idx.Metadata.TotalParameters || got.WeightBytes != idx.Metadata.TotalSize {
		t.Errorf("parameters %d, %d bytes; transformers says %d, %d", got.Parameters, got.WeightBytes, idx.Metadata.TotalParameters, idx.Metadata.TotalSize)
	}
	if got.Architecture != "XLMRobertaForSequenceClassification" || !strings.HasPrefix(got.Tokenizer, "Unigram") ||
		got.TokenizerMaxLength != 512 || got.MaxLength != 512 || len(got.Files) != 7 || len(got.Problems) != 0 {
		t.Errorf("info = %+v", got)
	}
}

func TestInfoText(t *testing.T) {
	dir := fixtureDir(t, "bert-fp16")
	var out, errb bytes.Buffer
	if rc := runMain([]string{"info", dir}, nil, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	for _, want := range []string{"BertForSequenceClassification", "F16", "WordPiece", "model.safetensors"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestInfoNotCached(t *testing.T) {
	var out, errb bytes.Buffer
	rc := runMain([]string{"info", "-cache", t.TempDir(), "org/absent"}, nil, &out, &errb)
	if rc != 1 || !strings.Contains(errb.String(), "crossrank download org/absent") {
		t.Errorf("rc %d, stderr %q", rc, errb.String())
	}
}

// miniHub serves one repo's files from a folder as the Hub does for files
// kept in git (no LFS redirect): the model-info API and resolve/.
func miniHub(t *testing.T, repo, dir string) (*httptest.Server, *atomic.Int32) {
	files := map[string][]byte{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		files[e.Name()] = b
	}
	const commit = "0123456789abcdef0123456789abcdef01234567"
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/api/models/"+repo+"/revision/main" {
			var sib []map[string]string
			for n := range files {
				sib = append(sib, map[string]string{"rfilename": n})
			}
			json.NewEncoder(w).Encode(map[string]any{"sha": commit, "siblings": sib})
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, "/"+repo+"/resolve/"+commit+"/")
		b, found := files[name]
		if !ok || !found {
			http.NotFound(w, r)
			return
		}
		h := sha1.New()
		fmt.Fprintf(h, "blob %d\x00", len(b))
		h.Write(b)
		w.Header().Set("ETag", `"`+hex.EncodeToString(h.Sum(nil))+`"`)
		w.Header().Set("X-Repo-Commit", commit)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if r.Method == http.MethodGet {
			w.Write(b)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestDownloadThenInfo(t *testing.T) {
	srv, hits := miniHub(t, "org/tiny", fixtureDir(t, "bert"))
	cache := t.TempDir()
	t.Setenv("HF_HUB_OFFLINE", "")
	var out, errb bytes.Buffer
	if rc := runMain([]string{"download", "-cache", cache, "-endpoint", srv.URL, "org/tiny"}, nil, &out, &errb); rc != 0 {
		t.Fatalf("download rc %d: %s", rc, errb.String())
	}
	snap := strings.TrimSpace(out.String())
	if filepath.Dir(filepath.Dir(snap)) != filepath.Join(cache, "models--org--tiny") {
		t.Errorf("download printed %q", snap)
	}
	if errb.Len() != 0 {
		t.Errorf("progress or noise on a non-terminal stderr: %q", errb.String())
	}
	out.Reset()
	if rc := runMain([]string{"info", "-cache", cache, "-json", "org/tiny"}, nil, &out, &errb); rc != 0 {
		t.Fatalf("info rc %d: %s", rc, errb.String())
	}
	var got modelInfo
	json.Unmarshal(out.Bytes(), &got)
	if got.Dir != snap || got.Architecture != "BertForSequenceClassification" {
		t.Errorf("info of the downloaded model: %+v", got)
	}

	// Offline, a model not in the cache fails without a request.
	t.Setenv("HF_HUB_OFFLINE", "1")
	before := hits.Load()
	if rc := runMain([]string{"download", "-cache", cache, "-endpoint", srv.URL, "org/other"}, nil, &out, &errb); rc != 1 {
		t.Errorf("offline download of an uncached model: rc %d", rc)
	}
	if hits.Load() != before {
		t.Error("offline download touched the network")
	}
	if rc := runMain([]string{"download", "../etc/passwd"}, nil, &out, &errb); rc != 2 {
		t.Errorf("download of a path: rc %d", rc)
	}
}

func TestInfoEmbeddingModel(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := runMain([]string{"info", "--json", fixtureDir(t, "embed-bert-dense")}, nil, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s %s", rc, out.String(), errb.String())
	}
	var got struct {
		Architecture string `json:"architecture"`
		Problems     []string
		Embedding    *struct {
			Dim        int      `json:"dim"`
			Pooling    []string `json:"pooling"`
			Modules    []string `json:"modules"`
			Normalized bool     `json:"normalized"`
		} `json:"embedding"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Architecture != "BertModel" || got.Embedding == nil || got.Embedding.Dim != 16 || !got.Embedding.Normalized ||
		len(got.Embedding.Modules) != 2 || len(got.Problems) != 0 {
		t.Errorf("got %s", out.String())
	}
}

func TestInfoQwen3(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := runMain([]string{"info", "-json", fixtureDir(t, "qwen3-untied")}, nil, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	var m modelInfo
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Architecture != "Qwen3ForCausalLM" || m.Heads != 4 || m.KVHeads != 2 || m.HeadDim != 16 || m.Layers != 2 ||
		m.Tokenizer != "BPE (tokenizer.json)" || len(m.DTypes) != 1 || m.DTypes[0] != "BF16" {
		t.Errorf("info: %+v", m)
	}
	out.Reset()
	if rc := runMain([]string{"info", fixtureDir(t, "qwen3-seq-cls")}, nil, &out, &errb); rc != 0 || !strings.Contains(out.String(), "heads 4 over 2 key-value heads (head size 16)") {
		t.Errorf("rc %d:\n%s%s", rc, out.String(), errb.String())
	}
}

// ModernBERT has no token type embeddings: info shows its own fields (the
// GeGLU activation, global and local layers, pooling) and no token types;
// a Qwen2 re-ranker's label is its answer tokens, 1-0. The expected values
// are the fixtures' config.json (testdata/gen: layer_types, local_attention,
// classifier_pooling).
func TestInfoModernBERTAndQwen2(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := runMain([]string{"info", fixtureDir(t, "modernbert")}, nil, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	text := out.String()
	for _, want := range []string{"activation gelu (GeGLU)", "attention     2 global, 1 local (window of 16 tokens)", "pooling       cls", "vocabulary    368 tokens\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("info lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "token types") {
		t.Errorf("info shows token types for ModernBERT:\n%s", text)
	}
	out.Reset()
	if rc := runMain([]string{"info", "-json", fixtureDir(t, "modernbert-mean")}, nil, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	var m modelInfo
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Pooling != "mean" || m.TypeVocabSize != 0 {
		t.Errorf("modernbert-mean: %+v", m)
	}
	out.Reset()
	if rc := runMain([]string{"info", "-json", fixtureDir(t, "qwen2-mxbai")}, nil, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	m = modelInfo{}
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m.ModelType != "qwen2" || len(m.Labels) != 1 || m.Labels[0] != "1-0" || m.TypeVocabSize != 0 {
		t.Errorf("qwen2-mxbai: %+v", m)
	}
}
