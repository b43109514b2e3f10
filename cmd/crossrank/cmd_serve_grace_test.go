package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestServeGraceExpires: when requests are still running at the end of
// --grace, serve closes them and exits 1, saying how many
// (docs/RELIABILITY.md, Shutdown). One large request is in flight when
// SIGTERM comes, with a grace of 1 ms.
func TestServeGraceExpires(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: scores a 400-document request")
	}
	dir := fixtureDir(t, "bert")
	logR, logW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- runMain([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json", "--model", dir, "--grace", "1ms"}, nil, io.Discard, logW)
		logW.Close()
	}()
	var (
		mu     sync.Mutex
		stderr bytes.Buffer
	)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(logR)
		for sc.Scan() {
			mu.Lock()
			stderr.Write(sc.Bytes())
			stderr.WriteByte('\n')
			mu.Unlock()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
	}()
	var url string
	select {
	case a := <-addr:
		url = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("no listening line")
	}
	for ready := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(url + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(ready) {
			t.Fatal("never ready")
		}
	}
	docs := make([]string, 400)
	for i := range docs {
		docs[i] = strings.Repeat("cross-encoders read the query and the document together "+strconv.Itoa(i)+" ", 60)
	}
	body, _ := json.Marshal(map[string]any{"query": "what is a cross-encoder?", "documents": docs})
	answered := make(chan error, 1)
	go func() {
		resp, err := http.Post(url+"/rerank", "application/json", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
			t.Errorf("the request running at the end of the grace was answered %d; want its connection closed", resp.StatusCode)
		}
		answered <- err
	}()
	// SIGTERM once its pairs are being scored.
	deadline := time.Now().Add(20 * time.Second)
	for !pairsInFlight(url) {
		if time.Now().After(deadline) {
			t.Fatal("the request never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case rc := <-done:
		mu.Lock()
		log := stderr.String()
		mu.Unlock()
		if rc != 1 || !strings.Contains(log, "crossrank serve: server: 1 requests still running after the 1ms grace period") {
			t.Errorf("exit %d; want 1 and the count of requests still running in:\n%s", rc, log)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit after the grace")
	}
	<-answered
}

// pairsInFlight reports whether the server's metrics show pairs being scored.
func pairsInFlight(url string) bool {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "crossrank_queue_pairs_in_flight "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return n > 0
		}
	}
	return false
}
