package weights

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tinyRepo is a whole (tiny) cross-encoder repo written by the test: a BERT
// config, a safetensors checkpoint large enough to be cut mid-file, and the
// tokenizer files, plus a README that must not be downloaded.
func tinyRepo(t *testing.T) map[string][]byte {
	return map[string][]byte{
		"config.json": []byte(`{"architectures": ["BertForSequenceClassification"], "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 16, "vocab_size": 10, "id2label": {"0": "LABEL_0"}}`),
		"model.safetensors": safetensorsBytes([]testTensor{
			{"bert.embeddings.word_embeddings.weight", F32, []int{10, 8}, seq(80, 0.5)},
			{"classifier.weight", F32, []int{1, 8}, seq(8, 1)},
			{"classifier.bias", F32, []int{1}, []float32{0.5}},
			{"big", F32, []int{64, 64}, seq(4096, 0.25)},
		}, map[string]string{"format": "pt"}),
		"tokenizer.json":          []byte(`{"model": {"type": "WordPiece"}}`),
		"tokenizer_config.json":   []byte(`{"do_lower_case": true}`),
		"special_tokens_map.json": []byte(`{}`),
		"vocab.txt":               []byte("[PAD]\n[UNK]\n"),
		"README.md":               []byte("# tiny"),
		"pytorch_model.bin":       []byte("pickle bytes that must not be fetched"),
	}
}

func hubOpts(h *fakeHub, cache string) ResolveOptions {
	return ResolveOptions{CacheDir: cache, Endpoint: h.hub.URL, Token: "-", Client: h.hub.Client()}
}

// checkSnapshot verifies the cache layout huggingface_hub expects: the
// snapshot's files are relative symlinks into blobs/ with the served bytes.
func checkSnapshot(t *testing.T, cache, repo, dir string, files map[string][]byte, want []string) {
	t.Helper()
	wantDir := filepath.Join(cache, "models--"+strings.ReplaceAll(repo, "/", "--"), "snapshots")
	if filepath.Dir(dir) != wantDir {
		t.Fatalf("snapshot %s is not under %s", dir, wantDir)
	}
	entries, _ := os.ReadDir(dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || filepath.IsAbs(link) || !strings.HasPrefix(link, "../../blobs/") {
			t.Errorf("%s: link %q, %v; want a relative link into ../../blobs/", e.Name(), link, err)
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || !bytes.Equal(b, files[e.Name()]) {
			t.Errorf("%s: content differs from what the Hub served (%v)", e.Name(), err)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("snapshot holds %v, want %v", got, want)
	}
}

func TestDownloadAndCache(t *testing.T) {
	h := newFakeHub(t)
	files := tinyRepo(t)
	repo := h.addRepo("cross-encoder/tiny", files)
	cache := t.TempDir()
	opts := hubOpts(h, cache)
	opts.Token = "secret"
	var logs []string
	opts.Logf = func(f string, a ...any) { logs = append(logs, f) }

	dir, err := Resolve(context.Background(), "cross-encoder/tiny", opts)
	if err != nil {
		t.Fatal(err)
	}
	// vocab.txt is left out because tokenizer.json is there; README and the
	// pickle are never fetched.
	checkSnapshot(t, cache, "cross-encoder/tiny", dir, files,
		[]string{"config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"})
	if tag, err := os.ReadFile(filepath.Join(cache, "CACHEDIR.TAG")); err != nil || !strings.HasPrefix(string(tag), "Signature: 8a477f597d28d172789f06886806bc55") {
		t.Errorf("CACHEDIR.TAG: %q, %v", tag, err)
	}
	ref, err := os.ReadFile(filepath.Join(cache, "models--cross-encoder--tiny", "refs", "main"))
	if err != nil || string(ref) != repo.commit {
		t.Errorf("refs/main = %q, %v; want %s", ref, err, repo.commit)
	}
	blob := filepath.Join(cache, "models--cross-encoder--tiny", "blobs", sha256Hex(files["model.safetensors"]))
	if _, err := os.Stat(blob); err != nil {
		t.Errorf("LFS blob not named by its sha256: %v", err)
	}
	if h.cdnAuth != 0 {
		t.Errorf("the token was sent to the CDN %d times", h.cdnAuth)
	}
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckHead(Bert); err != nil {
		t.Error(err)
	}
	c.Close()

	// Second resolve: one API call to learn the commit, no file traffic.
	n := len(h.requestLog())
	dir2, err := Resolve(context.Background(), "cross-encoder/tiny", opts)
	if err != nil || dir2 != dir {
		t.Fatalf("second Resolve = %s, %v", dir2, err)
	}
	if extra := h.requestLog()[n:]; len(extra) != 1 || !strings.HasPrefix(extra[0], "GET /api/models/") {
		t.Errorf("second Resolve made requests %v, want only the model-info call", extra)
	}
	// A pinned commit that is cached needs no network at all.
	n = len(h.requestLog())
	if _, err := Resolve(context.Background(), "cross-encoder/tiny@"+repo.commit, opts); err != nil {
		t.Fatal(err)
	}
	if extra := h.requestLog()[n:]; len(extra) != 0 {
		t.Errorf("Resolve of a cached commit made requests %v", extra)
	}

	// Offline: the cache only, and not a single request.
	t.Setenv("HF_HUB_OFFLINE", "1")
	n = len(h.requestLog())
	dir3, err := Resolve(context.Background(), "cross-encoder/tiny", opts)
	if err != nil || dir3 != dir {
		t.Errorf("offline Resolve = %s, %v", dir3, err)
	}
	_, err = Resolve(context.Background(), "cross-encoder/other", opts)
	if !errors.Is(err, ErrOffline) {
		t.Errorf("offline Resolve of an uncached model: %v, want ErrOffline", err)
	}
	if extra := h.requestLog()[n:]; len(extra) != 0 {
		t.Errorf("offline Resolve made requests %v", extra)
	}
	t.Setenv("HF_HUB_OFFLINE", "")

	// The Hub unreachable: the cached snapshot stands in.
	down := opts
	down.Endpoint = "http://127.0.0.1:1"
	if dir4, err := Resolve(context.Background(), "cross-encoder/tiny", down); err != nil || dir4 != dir {
		t.Errorf("Resolve with the Hub down = %s, %v; want the cache", dir4, err)
	}
	if len(logs) == 0 {
		t.Error("falling back to the cache was not reported")
	}
}

func TestDownloadResumesAfterDrop(t *testing.T) {
	h := newFakeHub(t)
	files := tinyRepo(t)
	h.addRepo("org/m", files)
	h.dropAfter["model.safetensors"] = 5000
	h.dropTimes["model.safetensors"] = 2 // two drops in a row, each after progress
	cache := t.TempDir()
	dir, err := Download(context.Background(), Ref{"org/m", "main"}, hubOpts(h, cache))
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, cache, "org/m", dir, files,
		[]string{"config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"})
	var gets []string
	for _, r := range h.requestLog() {
		if strings.HasPrefix(r, "GET /blobs/org/m/model.safetensors") {
			gets = append(gets, r)
		}
	}
	want := []string{"GET /blobs/org/m/model.safetensors", "GET /blobs/org/m/model.safetensors bytes=5000-", "GET /blobs/org/m/model.safetensors bytes=10000-"}
	if strings.Join(gets, "|") != strings.Join(want, "|") {
		t.Errorf("GETs of the checkpoint: %q, want %q", gets, want)
	}
	matches, _ := filepath.Glob(filepath.Join(cache, "models--org--m", "blobs", "*.incomplete"))
	if len(matches) != 0 {
		t.Errorf("left behind %v", matches)
	}
}

// A download killed in an earlier run left blobs/<sha>.incomplete: the next
// run asks only for the rest.
func TestDownloadResumesAcrossRuns(t *testing.T) {
	h := newFakeHub(t)
	files := tinyRepo(t)
	h.addRepo("org/m", files)
	cache := t.TempDir()
	st := files["model.safetensors"]
	blob := filepath.Join(cache, "models--org--m", "blobs", sha256Hex(st))
	writeFile(t, blob+".incomplete", st[:7000])
	if _, err := Download(context.Background(), Ref{"org/m", "main"}, hubOpts(h, cache)); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range h.requestLog() {
		found = found || r == "GET /blobs/org/m/model.safetensors bytes=7000-"
	}
	if !found {
		t.Errorf("no ranged GET from byte 7000 in %v", h.requestLog())
	}
	if b, err := os.ReadFile(blob); err != nil || !bytes.Equal(b, st) {
		t.Errorf("blob after resume differs (%v)", err)
	}
}

func TestDownloadChecksum(t *testing.T) {
	for _, file := range []string{"model.safetensors", "config.json"} { // sha256 (LFS) and git sha1
		t.Run(file, func(t *testing.T) {
			h := newFakeHub(t)
			h.addRepo("org/m", tinyRepo(t))
			h.corrupt[file] = true
			cache := t.TempDir()
			_, err := Download(context.Background(), Ref{"org/m", "main"}, hubOpts(h, cache))
			if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), file) {
				t.Fatalf("err = %v, want a checksum error naming %s", err, file)
			}
			// Nothing that looks complete: every blob is a whole, correct
			// file, no .incomplete is left, no pointer names the corrupt file.
			good := tinyRepo(t)
			blobs, _ := filepath.Glob(filepath.Join(cache, "models--org--m", "blobs", "*"))
			for _, b := range blobs {
				got, _ := os.ReadFile(b)
				ok := false
				for _, c := range good {
					ok = ok || bytes.Equal(got, c)
				}
				if !ok {
					t.Errorf("a corrupt or partial file is left in the cache: %s", b)
				}
			}
			pointers, _ := filepath.Glob(filepath.Join(cache, "models--org--m", "snapshots", "*", file))
			if len(pointers) != 0 {
				t.Errorf("snapshot points at the corrupt file: %v", pointers)
			}
		})
	}
}

func TestDownloadRepoShapes(t *testing.T) {
	h := newFakeHub(t)
	ctx := context.Background()
	cache := t.TempDir()
	opts := hubOpts(h, cache)

	// Pickle only: a clear refusal, saying why.
	h.addRepo("org/pickle", map[string][]byte{"config.json": []byte(`{}`), "pytorch_model.bin": []byte("x"), "vocab.txt": []byte("a\n")})
	_, err := Download(ctx, Ref{"org/pickle", "main"}, opts)
	if err == nil || !strings.Contains(err.Error(), "pytorch_model.bin") || !strings.Contains(err.Error(), "safetensors") || !strings.Contains(err.Error(), "arbitrary code") {
		t.Errorf("pickle-only repo: %v", err)
	}

	// No tokenizer.json: the vocab.txt / sentencepiece fallbacks are fetched.
	files := tinyRepo(t)
	delete(files, "tokenizer.json")
	files["sentencepiece.bpe.model"] = []byte("spm")
	h.addRepo("org/vocab", files)
	dir, err := Download(ctx, Ref{"org/vocab", "main"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, cache, "org/vocab", dir, files,
		[]string{"config.json", "model.safetensors", "sentencepiece.bpe.model", "special_tokens_map.json", "tokenizer_config.json", "vocab.txt"})

	// Errors the user can act on.
	_, err = Download(ctx, Ref{"org/missing", "main"}, opts)
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing repo: %v", err)
	}
	_, err = Download(ctx, Ref{"org/vocab", "v9"}, opts)
	if err == nil || !strings.Contains(err.Error(), "org/vocab@v9") {
		t.Errorf("missing revision: %v", err)
	}
	h.token = "secret"
	_, err = Download(ctx, Ref{"org/gated", "main"}, opts)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "token") {
		t.Errorf("gated repo: %v", err)
	}
}

func TestDownloadSharded(t *testing.T) {
	dir := filepath.Join("..", "testdata", "models", "xlmr-sharded")
	if _, err := os.Stat(dir); err != nil {
		t.Fatal("fixture missing (make fixtures):", err)
	}
	h := newFakeHub(t)
	repo := h.addDir(t, "BAAI/sharded", dir)
	cache := t.TempDir()
	snap, err := Resolve(context.Background(), "BAAI/sharded@"+repo.commit, hubOpts(h, cache))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for n := range repo.files {
		if n != "vocab.txt" && n != "sentencepiece.bpe.model" && n != "README.md" {
			want = append(want, n)
		}
	}
	sortStrings(want)
	checkSnapshot(t, cache, "BAAI/sharded", snap, repo.files, want)
	c, err := Open(snap)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Files()) != 2 || c.CheckHead(XLMRoberta) != nil {
		t.Errorf("sharded checkpoint from the cache: files %v, head %v", c.Files(), c.CheckHead(XLMRoberta))
	}
	// A commit given as the revision writes no ref.
	if _, err := os.Stat(filepath.Join(cache, "models--BAAI--sharded", "refs")); err == nil {
		t.Error("refs/ written for a commit revision")
	}
}

// A hostile or broken Hub cannot make us write outside the cache.
func TestDownloadHostileHub(t *testing.T) {
	h := newFakeHub(t)
	files := tinyRepo(t)
	delete(files, "model.safetensors")
	files[SafetensorsIndex] = []byte(`{"weight_map": {"a": "../../../../evil.safetensors"}}`)
	h.addRepo("org/evil", files)
	cache := t.TempDir()
	_, err := Download(context.Background(), Ref{"org/evil", "main"}, hubOpts(h, cache))
	if err == nil || !strings.Contains(err.Error(), "evil.safetensors") {
		t.Errorf("index naming a shard outside the folder: %v", err)
	}
	h.mu.Lock()
	h.repos["org/evil"].commit = "../../../../tmp"
	h.mu.Unlock()
	_, err = Download(context.Background(), Ref{"org/evil", "main"}, hubOpts(h, cache))
	if err == nil || !strings.Contains(err.Error(), "not a 40-digit hash") {
		t.Errorf("hub giving a path as commit: %v", err)
	}
}

func TestParseRef(t *testing.T) {
	good := map[string]Ref{
		"cross-encoder/ms-marco-MiniLM-L-6-v2": {"cross-encoder/ms-marco-MiniLM-L-6-v2", "main"},
		"BAAI/bge-reranker-v2-m3@main":         {"BAAI/bge-reranker-v2-m3", "main"},
		"gpt2":                                 {"gpt2", "main"},
		"org/m@refs/pr/1":                      {"org/m", "refs/pr/1"},
		"org/m@v1.0":                           {"org/m", "v1.0"},
		"org/m@0123456789abcdef0123456789abcdef01234567": {"org/m", "0123456789abcdef0123456789abcdef01234567"},
	}
	for s, want := range good {
		got, err := ParseRef(s)
		if err != nil || got != want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{
		"", "/", "org/", "/abs/path", "../x", "org/..", "org/../x", "a/b/c", "org/m@", "org/m@../../x",
		"org/m@refs/../x", "org/m@/abs", "https://evil.example/org/m", "org/m?x=1", "org/m#frag",
		`org\m`, "org/m%2F..", "org--x/m", ".org/m", "org/m-", "org/m.git", "org/m@a b", "org/m@.hidden",
		"c:/x", "org/" + strings.Repeat("a", 97),
	} {
		if r, err := ParseRef(s); err == nil {
			t.Errorf("ParseRef(%q) = %+v, want an error", s, r)
		}
	}
}

func TestCacheDirEnv(t *testing.T) {
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HUGGINGFACE_HUB_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HF_HOME", "/h")
	if got := HubCacheDir(); got != "/h/hub" {
		t.Errorf("HF_HOME: %s", got)
	}
	t.Setenv("HF_HUB_CACHE", "/c")
	if got := HubCacheDir(); got != "/c" {
		t.Errorf("HF_HUB_CACHE: %s", got)
	}
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HF_HOME", "")
	t.Setenv("XDG_CACHE_HOME", "/x")
	if got := HubCacheDir(); got != "/x/huggingface/hub" {
		t.Errorf("XDG_CACHE_HOME: %s", got)
	}
	for v, want := range map[string]bool{"1": true, "true": true, "ON": true, "yes": true, "0": false, "": false, "no": false} {
		t.Setenv("HF_HUB_OFFLINE", v)
		if OfflineFromEnv() != want {
			t.Errorf("HF_HUB_OFFLINE=%q: offline %v", v, !want)
		}
	}
}

// While another process (huggingface_hub, or a second crossrank) holds the
// blob's lock, a download waits, and a cancelled context ends the wait.
func TestDownloadWaitsForLock(t *testing.T) {
	h := newFakeHub(t)
	files := tinyRepo(t)
	h.addRepo("org/m", files)
	cache := t.TempDir()
	lock := filepath.Join(cache, ".locks", "models--org--m", sha256Hex(files["model.safetensors"])+".lock")
	unlock, err := lockFile(context.Background(), lock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = Download(ctx, Ref{"org/m", "main"}, hubOpts(h, cache))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), ".lock") {
		t.Errorf("download under a held lock: %v", err)
	}
	unlock()
	if _, err := Download(context.Background(), Ref{"org/m", "main"}, hubOpts(h, cache)); err != nil {
		t.Errorf("after unlock: %v", err)
	}
}
