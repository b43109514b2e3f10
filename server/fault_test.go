package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/rerank"
	"github.com/crossrank/crossrank/weights"
)

// Faults of the model on disk and of clients, against the real re-ranker
// on a copy of the bert fixture.

// copyFixture copies testdata/models/name into a temporary folder.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("..", "testdata", "models", name)
	dst := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

var faultQuery = "what is a cross-encoder?"
var faultDocs = []string{"Cross-encoders read the pair together.", "The sky is blue.", "Bi-encoders embed separately.", "Le ciel est bleu."}

// scoresOver asks the server for faultDocs' scores (index order).
func scoresOver(t *testing.T, url string) ([]float64, int) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": faultQuery, "texts": faultDocs})
	resp, err := http.Post(url+"/rerank", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, resp.StatusCode
	}
	var got []struct {
		Index int     `json:"index"`
		Score float64 `json:"score"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	out := make([]float64, len(faultDocs))
	for _, g := range got {
		out[g.Index] = g.Score
	}
	return out, 200
}

func serveDir(t *testing.T, dir string) (*Server, *httptest.Server, *rerank.Reranker) {
	t.Helper()
	r, err := rerank.New(context.Background(), dir, rerank.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	s, ts := newTestServer(t, Config{}, "bert", r)
	return s, ts, r
}

// TestModelFolderRemovedWhileServing: deleting the model's folder (unlink)
// leaves the mapping and the open files valid; the server keeps serving the
// model it loaded, with the same scores.
func TestModelFolderRemovedWhileServing(t *testing.T) {
	dir := copyFixture(t, "bert")
	_, ts, _ := serveDir(t, dir)
	before, code := scoresOver(t, ts.URL)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	after, code := scoresOver(t, ts.URL)
	if code != 200 {
		t.Fatalf("after removing the folder: status %d", code)
	}
	for i := range before {
		if before[i] != after[i] {
			t.Errorf("document %d: %v before, %v after removing the folder", i, before[i], after[i])
		}
	}
}

// TestModelReplacedByRename: the safe way to update a model on disk, a new
// file renamed over the old one, leaves the running server on the old
// weights (the mapping keeps the old inode).
func TestModelReplacedByRename(t *testing.T) {
	dir := copyFixture(t, "bert")
	_, ts, _ := serveDir(t, dir)
	before, _ := scoresOver(t, ts.URL)
	st := filepath.Join(dir, "model.safetensors")
	b, err := os.ReadFile(st)
	if err != nil {
		t.Fatal(err)
	}
	// The new file: same size, every byte of the tensor data changed.
	for i := len(b) / 2; i < len(b); i++ {
		b[i] ^= 0x55
	}
	if err := os.WriteFile(st+".new", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(st+".new", st); err != nil {
		t.Fatal(err)
	}
	after, code := scoresOver(t, ts.URL)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	for i := range before {
		if before[i] != after[i] {
			t.Errorf("document %d: %v before, %v after the rename", i, before[i], after[i])
		}
	}
}

// TestModelChangedInPlace: truncating the model file of a running server,
// or overwriting it in place (same inode), does not change what it serves:
// the backends copy the weights at load and the mapping is closed then
// (bert.New), so no page of the file is read afterwards. Were a mapping
// kept, truncation would kill the process with SIGBUS on the next access,
// so the scoring runs in a child process, where a crash is observed rather
// than suffered. bf16 is there because its weights are converted, not
// copied as they are.
func TestModelChangedInPlace(t *testing.T) {
	if dir := os.Getenv("CROSSRANK_FAULT_CHILD"); dir != "" {
		changeInPlaceChild(dir)
		return
	}
	for _, model := range []string{"bert", "xlmr-bf16"} {
		for _, how := range []string{"truncate", "overwrite"} {
			exe, _ := os.Executable()
			cmd := exec.Command(exe, "-test.run=^TestModelChangedInPlace$")
			cmd.Env = append(os.Environ(), "CROSSRANK_FAULT_CHILD="+t.TempDir(), "CROSSRANK_FAULT_MODEL="+model, "CROSSRANK_FAULT_HOW="+how)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "SAME SCORES") {
				t.Errorf("%s, %s in place while loaded: %v\n%s", model, how, err, out)
			}
		}
	}
}

func changeInPlaceChild(tmp string) {
	model, how := os.Getenv("CROSSRANK_FAULT_MODEL"), os.Getenv("CROSSRANK_FAULT_HOW")
	dir := filepath.Join(tmp, model)
	os.MkdirAll(dir, 0o755)
	src := filepath.Join("..", "testdata", "models", model)
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(src, e.Name()))
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
	}
	ctx := context.Background()
	r, err := rerank.New(ctx, dir, rerank.Options{})
	if err != nil {
		fmt.Println("load:", err)
		return
	}
	before, err := r.RerankStrings(ctx, faultQuery, faultDocs, rerank.RerankOptions{})
	if err != nil {
		fmt.Println("before:", err)
		return
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	for _, f := range files {
		switch how {
		case "truncate":
			err = os.Truncate(f, 0)
		case "overwrite":
			var fh *os.File
			if fh, err = os.OpenFile(f, os.O_WRONLY, 0); err == nil {
				st, _ := fh.Stat()
				_, err = fh.Write(make([]byte, st.Size())) // zeros over every byte
				fh.Close()
			}
		}
		if err != nil {
			fmt.Println(how, err)
			return
		}
	}
	after, err := r.RerankStrings(ctx, faultQuery, faultDocs, rerank.RerankOptions{})
	if err != nil {
		fmt.Println("after:", err)
		return
	}
	for i := range before {
		if before[i].Index != after[i].Index || before[i].Score != after[i].Score {
			fmt.Println("changed:", before[i], after[i])
			return
		}
	}
	r.Close()
	fmt.Println("SAME SCORES")
}

// TestCheckpointTruncatedWhileOpen: a file truncated between the mapping
// and the copy (while a model loads) must give an error naming the file,
// not kill the process with SIGBUS. It runs in a child process, reading
// the views under weights.Checkpoint.Guard as bert.New does.
func TestCheckpointTruncatedWhileOpen(t *testing.T) {
	if dir := os.Getenv("CROSSRANK_OPEN_CHILD"); dir != "" {
		truncatedWhileOpenChild(dir)
		return
	}
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "-test.run=^TestCheckpointTruncatedWhileOpen$")
	cmd.Env = append(os.Environ(), "CROSSRANK_OPEN_CHILD="+t.TempDir())
	out, err := cmd.CombinedOutput()
	switch {
	case strings.Contains(string(out), "ERROR NAMES THE FILE"):
	default:
		t.Errorf("child: %v\n%s", err, out)
	}
}

func truncatedWhileOpenChild(tmp string) {
	src := filepath.Join("..", "testdata", "models", "bert", "model.safetensors")
	path := filepath.Join(tmp, "model.safetensors")
	b, _ := os.ReadFile(src)
	os.WriteFile(path, b, 0o644)
	c, err := weights.OpenFile(path)
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	defer c.Close()
	if err := os.Truncate(path, 0); err != nil {
		fmt.Println("truncate:", err)
		return
	}
	// bert.New reads the views under c.Guard, as this does.
	var sum float32
	err = c.Guard(func() error {
		for _, name := range c.Names() {
			data, _, err := c.Float32(name)
			if err != nil {
				return err
			}
			for _, v := range data {
				sum += v // an F32 tensor is a view of the mapping: this reads the file
			}
		}
		return nil
	})
	if err != nil {
		if strings.Contains(err.Error(), path) {
			fmt.Println("ERROR NAMES THE FILE:", err)
		} else {
			fmt.Println("error without the file:", err)
		}
		return
	}
	fmt.Println("no error reading a truncated file; sum", sum)
}

// TestClientDisconnectRealModel: a client that goes away while its large
// request is being scored frees its place: the in-flight and queue gauges
// of /metrics go back to 0, its pairs are not counted as scored, and the
// next request is served.
func TestClientDisconnectRealModel(t *testing.T) {
	bert, _ := realModels(t)
	s, ts := newTestServer(t, Config{}, "bert", bert)
	var texts []string
	for _, x := range corpusTexts(t, 500) {
		if !strings.ContainsRune(x, 0) { // the corpus has hostile lines
			texts = append(texts, x)
		}
	}
	docs := make([]string, 200)
	for i := range docs {
		docs[i] = strings.Join(texts[i:i+20], " ") // long: cut at the model's length
	}
	body, _ := json.Marshal(map[string]any{"query": "q", "documents": docs})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/rerank", strings.NewReader(string(body)))
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitFor(t, func() bool { u, _, _ := s.queue.stats(); return u == len(docs) })
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the request finished before the client went away; make it larger")
	}
	gauges := func() map[string]string {
		out := map[string]string{}
		for l := range strings.SplitSeq(string(get(t, ts.URL+"/metrics").body), "\n") {
			if name, v, ok := strings.Cut(l, " "); ok && !strings.HasPrefix(l, "#") {
				out[name] = v
			}
		}
		return out
	}
	waitFor(t, func() bool {
		g := gauges()
		return g["crossrank_queue_pairs_in_flight"] == "0" && g["crossrank_queue_requests_waiting"] == "0" &&
			g["crossrank_queue_pairs_waiting"] == "0" && s.InFlight() == 0
	})
	g := gauges()
	if g["crossrank_canceled_total"] != "1" {
		t.Errorf("crossrank_canceled_total %q, want 1", g["crossrank_canceled_total"])
	}
	if v, ok := g[`crossrank_pairs_total{model="bert"}`]; ok && v != "0" {
		t.Errorf("the abandoned request's pairs were counted as scored: %s", v)
	}
	if _, code := scoresOver(t, ts.URL); code != 200 {
		t.Errorf("the next request: status %d", code)
	}
}
