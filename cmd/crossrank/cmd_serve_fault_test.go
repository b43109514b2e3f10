package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crossrank/crossrank/rerank"
)

// startServe runs `crossrank serve args...` on 127.0.0.1:0 in this process
// and waits until it is ready. It returns the base URL and a channel with
// the exit code.
func startServe(t *testing.T, args ...string) (string, chan int) {
	t.Helper()
	logR, logW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- runMain(append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...), nil, io.Discard, logW)
		logW.Close()
	}()
	lines := bufio.NewScanner(logR)
	addr := ""
	for addr == "" && lines.Scan() {
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(lines.Bytes(), &rec) == nil && rec.Msg == "listening" {
			addr = rec.Addr
		}
	}
	if addr == "" {
		t.Fatal("no listening line")
	}
	go io.Copy(io.Discard, logR)
	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url, done
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeSIGTERMUnderLoad: with clients sending requests back to back,
// SIGTERM lets every request already sent finish with the library's
// scores; requests sent after it get 503 with Retry-After (or, once the
// requests in flight are done and the listener has closed, a refused
// connection: never an answer cut off); and the process exits 0 within the
// grace period.
func TestServeSIGTERMUnderLoad(t *testing.T) {
	dir := fixtureDir(t, "bert")
	const grace = 10 * time.Second
	url, done := startServe(t, "--model", dir, "--grace", grace.String())

	r, err := rerank.New(context.Background(), dir, rerank.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	query := "what is a cross-encoder?"
	docs := make([]string, 24)
	for i := range docs {
		docs[i] = strings.Repeat("Cross-encoders read the query and the document together. ", 1+i%6)
	}
	want, err := r.RerankStrings(context.Background(), query, docs, rerank.RerankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"query": query, "documents": docs})

	var (
		mu                             sync.Mutex
		sigAt                          time.Time
		okBefore, okAfter, unavailable int
		problems                       []string
	)
	signalled := func() (bool, time.Time) {
		mu.Lock()
		defer mu.Unlock()
		return !sigAt.IsZero(), sigAt
	}
	client := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				sentAfter, _ := signalled()
				resp, err := client.Post(url+"/rerank", "application/json", strings.NewReader(string(body)))
				mu.Lock()
				if err != nil {
					// Only a request sent after SIGTERM may fail, and only by
					// being refused (the listener closed) or by meeting a
					// keep-alive connection the shutdown closed while idle
					// (net/http's "server closed idle connection": the
					// server never read that request, and HTTP/1.1 gives no
					// way to close an idle connection without this race; a
					// client retries it), never by losing an accepted request.
					// Shutdown closes idle connections only after the signal,
					// so that error counts as "after" when it comes after it,
					// even if the send began just before.
					failedAfter := !sigAt.IsZero() // mu is held: not signalled(), which locks it again
					refused := sentAfter && errors.Is(err, syscall.ECONNREFUSED)
					idleClosed := failedAfter && strings.Contains(err.Error(), "server closed idle connection")
					if !refused && !idleClosed {
						problems = append(problems, "transport error: "+err.Error())
					}
					mu.Unlock()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					var got struct {
						Results []struct {
							Index          int     `json:"index"`
							RelevanceScore float64 `json:"relevance_score"`
						} `json:"results"`
					}
					json.Unmarshal(b, &got)
					if len(got.Results) != len(want) || got.Results[0].Index != want[0].Index || got.Results[0].RelevanceScore != want[0].Score {
						problems = append(problems, "wrong answer: "+string(b))
					}
					if sentAfter {
						okAfter++ // sent just as the signal came: fine either way
					} else {
						okBefore++
					}
				case 503:
					if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
						problems = append(problems, "503 without Retry-After")
					}
					if !sentAfter && !strings.Contains(string(b), "shutting down") {
						problems = append(problems, "503 before SIGTERM: "+string(b))
					}
					unavailable++
					mu.Unlock()
					return
				default:
					problems = append(problems, "status "+strconv.Itoa(resp.StatusCode)+": "+string(b))
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Second)
	mu.Lock()
	sigAt = time.Now()
	mu.Unlock()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case rc := <-done:
		if rc != 0 {
			t.Errorf("exit code %d after SIGTERM under load", rc)
		}
		if d := time.Since(sigAt); d > grace+2*time.Second {
			t.Errorf("exit %v after SIGTERM, grace %v", d, grace)
		}
	case <-time.After(grace + 5*time.Second):
		t.Fatal("serve did not exit within the grace period")
	}
	wg.Wait()
	t.Logf("answered 200 before SIGTERM %d, around it %d; 503 while draining %d", okBefore, okAfter, unavailable)
	for _, p := range problems {
		t.Error(p)
	}
	if okBefore == 0 {
		t.Error("no request was answered before SIGTERM: the load did not start")
	}
}

// TestServeCorruptModel: a model whose files are damaged on disk fails to
// load; serve exits 1 and its message names the file and the reason.
func TestServeCorruptModel(t *testing.T) {
	for _, c := range []struct {
		name   string
		file   string
		damage func(b []byte) []byte
		want   []string
	}{
		{"truncated weights", "model.safetensors", func(b []byte) []byte { return b[:len(b)/2] }, []string{"model.safetensors"}},
		{"truncated header", "model.safetensors", func(b []byte) []byte { return b[:5] }, []string{"model.safetensors", "8-byte header"}},
		{"garbage header", "model.safetensors", func(b []byte) []byte {
			b = append([]byte(nil), b...)
			copy(b[8:], "not json at all")
			return b
		}, []string{"model.safetensors", "JSON"}},
		{"bad config", "config.json", func(b []byte) []byte { return []byte(`{"model_type": "bert", "hidden_size": "big"`) }, []string{"config.json"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bert")
			os.MkdirAll(dir, 0o755)
			src := fixtureDir(t, "bert")
			entries, _ := os.ReadDir(src)
			for _, e := range entries {
				b, _ := os.ReadFile(filepath.Join(src, e.Name()))
				if e.Name() == c.file {
					b = c.damage(b)
				}
				os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
			}
			var errb strings.Builder
			rc := runMain([]string{"serve", "--addr", "127.0.0.1:0", "--model", dir}, nil, io.Discard, &errb)
			t.Log(strings.TrimSpace(errb.String()))
			if rc != 1 {
				t.Errorf("exit code %d, want 1", rc)
			}
			out := errb.String()
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("the error does not say %q:\n%s", w, out)
				}
			}
		})
	}
}
