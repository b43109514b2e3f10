package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crossrank/crossrank/rerank"
)

// TestServeCommand runs `crossrank serve` with two models on 127.0.0.1:0,
// checks readiness, a re-rank request against the library, model choice,
// the API key, and a graceful stop on SIGTERM.
func TestServeCommand(t *testing.T) {
	bertDir, xlmrDir, qwenDir := fixtureDir(t, "bert"), fixtureDir(t, "xlmr"), fixtureDir(t, "qwen3-tied")
	const key = "test-key-123"
	t.Setenv("CROSSRANK_API_KEY", key)
	logR, logW := io.Pipe()
	done := make(chan int, 1)
	args := []string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json",
		"--model", "BAAI/bge-reranker-base=" + bertDir, "--model", "xlmr=" + xlmrDir}
	args = append(args, "--model", "Qwen/Qwen3-Reranker-0.6B="+qwenDir, "--model", "minilm="+fixtureDir(t, "embed-bert"))
	go func() {
		done <- runMain(args, nil, io.Discard, logW)
		logW.Close()
	}()
	// The first log line says where it listens.
	lines := bufio.NewScanner(logR)
	var logs []string
	addr := ""
	for addr == "" && lines.Scan() {
		logs = append(logs, lines.Text())
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(lines.Bytes(), &rec) == nil && rec.Msg == "listening" {
			addr = rec.Addr
		}
	}
	if addr == "" {
		t.Fatalf("no listening line: %v", logs)
	}
	logDone := make(chan struct{})
	go func() {
		for lines.Scan() {
			logs = append(logs, lines.Text())
		}
		close(logDone)
	}()
	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(20 * time.Millisecond)
	}

	query := "what is a cross-encoder?"
	docs := []string{"Cross-encoders read the pair together.", "The sky is blue.", "Bi-encoders embed separately."}
	body, _ := json.Marshal(map[string]any{"query": query, "documents": docs, "model": "BAAI/bge-reranker-base"})
	call := func(path, auth string, body []byte) (int, []byte) {
		req, _ := http.NewRequest("POST", url+path, strings.NewReader(string(body)))
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := call("/rerank", "", body); code != 401 {
		t.Errorf("without the key: %d", code)
	}
	code, b := call("/rerank", key, body)
	if code != 200 {
		t.Fatalf("status %d: %s", code, b)
	}
	var got struct {
		Results []struct {
			Index          int     `json:"index"`
			RelevanceScore float64 `json:"relevance_score"`
		} `json:"results"`
		Model string `json:"model"`
	}
	json.Unmarshal(b, &got)
	r, err := rerank.New(context.Background(), bertDir, rerank.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want, _ := r.RerankStrings(context.Background(), query, docs, rerank.RerankOptions{})
	if got.Model != "BAAI/bge-reranker-base" || len(got.Results) != len(want) {
		t.Fatalf("got %s", b)
	}
	for i, w := range want {
		if got.Results[i].Index != w.Index || got.Results[i].RelevanceScore != w.Score {
			t.Errorf("result %d: got %+v, library index %d score %v", i, got.Results[i], w.Index, w.Score)
		}
	}
	xb, _ := json.Marshal(map[string]any{"query": query, "documents": docs, "model": "xlmr"})
	if code, b := call("/v1/rerank", key, xb); code != 200 || !strings.Contains(string(b), `"model":"xlmr"`) {
		t.Errorf("xlmr: %d %s", code, b)
	}

	// The embedding model, served beside the re-rankers (its kind read from
	// the checkpoint), and named on the wrong route.
	eb, _ := json.Marshal(map[string]any{"input": docs, "model": "minilm"})
	if code, b := call("/v1/embeddings", key, eb); code != 200 || !strings.Contains(string(b), `"model":"minilm"`) {
		t.Errorf("/v1/embeddings: %d %s", code, b)
	}
	if code, b := call("/rerank", key, eb); code != 422 {
		t.Errorf("/rerank naming no query: %d %s", code, b)
	}
	wrong, _ := json.Marshal(map[string]any{"query": query, "documents": docs, "model": "minilm"})
	if code, b := call("/rerank", key, wrong); code != 422 || !strings.Contains(string(b), "embedding model") {
		t.Errorf("/rerank with the embedding model: %d %s", code, b)
	}
	// A Qwen3-Reranker, with the instruction field; BERT refuses it (422).
	const instr = "Given a question, find the passage that answers it"
	for _, in := range []string{"", instr} {
		qr, err := rerank.New(context.Background(), qwenDir, rerank.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer qr.Close()
		req := map[string]any{"query": query, "documents": docs, "model": "Qwen/Qwen3-Reranker-0.6B"}
		if in != "" {
			req["instruction"] = in
		}
		qb, _ := json.Marshal(req)
		code, b := call("/v1/rerank", key, qb)
		if code != 200 {
			t.Fatalf("qwen3: %d %s", code, b)
		}
		got.Results = nil
		json.Unmarshal(b, &got)
		want, _ := qr.RerankStrings(context.Background(), query, docs, rerank.RerankOptions{Instruction: in})
		for i, w := range want {
			if got.Results[i].Index != w.Index || got.Results[i].RelevanceScore != w.Score {
				t.Errorf("qwen3 %q result %d: got %+v, library index %d score %v", in, i, got.Results[i], w.Index, w.Score)
			}
		}
	}
	ib, _ := json.Marshal(map[string]any{"query": query, "documents": docs, "model": "xlmr", "instruction": instr})
	if code, b := call("/v1/rerank", key, ib); code != 422 || !strings.Contains(string(b), "instruction") {
		t.Errorf("xlmr with an instruction: %d %s", code, b)
	}

	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case rc := <-done:
		if rc != 0 {
			t.Errorf("exit code %d after SIGTERM", rc)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	<-logDone
	all := strings.Join(logs, "\n")
	if strings.Contains(all, key) {
		t.Error("the API key is in the logs")
	}
	for _, want := range []string{`"msg":"model loaded"`, `"msg":"embedding model loaded"`, `"msg":"ready"`, `"msg":"shutting down"`, `"msg":"stopped"`, `"status":401`} {
		if !strings.Contains(all, want) {
			t.Errorf("logs lack %s:\n%s", want, all)
		}
	}
}

func TestServeFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"serve", "--model", "a=x", "--model", "a=y"}, `the name "a" is given twice`},
		{[]string{"serve", "--model", "=x"}, "want MODEL or NAME=MODEL"},
		{[]string{"serve", "--max-documents", "0"}, "limits must be positive"},
		{[]string{"serve", "--log-format", "xml"}, `--log-format "xml"`},
		{[]string{"serve", "--addr", "256.0.0.1:99999", "--model", "x"}, "crossrank serve:"},
	} {
		var errb strings.Builder
		if rc := runMain(c.args, nil, io.Discard, &errb); rc == 0 || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("%v: rc %d, stderr %q", c.args, rc, errb.String())
		}
	}
}

// TestServeModelFromEnv: without --model, $CROSSRANK_MODEL (a
// comma-separated list) names the models; --model wins over it.
func TestServeModelFromEnv(t *testing.T) {
	t.Setenv("CROSSRANK_MODEL", "a=x, a=y")
	var errb strings.Builder
	if rc := runMain([]string{"serve"}, nil, io.Discard, &errb); rc == 0 || !strings.Contains(errb.String(), `the name "a" is given twice`) {
		t.Errorf("from the environment: rc %d, stderr %q", rc, errb.String())
	}
	errb.Reset()
	if rc := runMain([]string{"serve", "--model", "=x"}, nil, io.Discard, &errb); rc == 0 || !strings.Contains(errb.String(), "want MODEL or NAME=MODEL") {
		t.Errorf("--model over the environment: rc %d, stderr %q", rc, errb.String())
	}
}
