package server

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestGraceExpiry: requests still running when the grace period ends are
// closed (their clients get no answer) and Serve returns an error saying
// how many, which `crossrank serve` turns into exit 1 (docs/RELIABILITY.md,
// Shutdown).
func TestGraceExpiry(t *testing.T) {
	f := &fakeRanker{gate: make(chan struct{}), entered: make(chan struct{}, 2)}
	defer close(f.gate)
	s := New(Config{Logger: quiet})
	s.AddModel("m", f)
	s.SetReady()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, stop := context.WithCancel(context.Background())
	const grace = 100 * time.Millisecond
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, grace) }()

	answers := make(chan error, 2)
	for range 2 {
		go func() {
			resp, err := http.Post(url+"/rerank", "application/json", strings.NewReader(`{"query":"q","documents":["a"]}`))
			if err == nil {
				resp.Body.Close()
				err = &statusError{resp.StatusCode}
			}
			answers <- err
		}()
	}
	<-f.entered
	<-f.entered
	stopped := time.Now()
	stop() // SIGTERM
	select {
	case err := <-served:
		took := time.Since(stopped)
		if err == nil || !strings.Contains(err.Error(), "2 requests still running after the 100ms grace period") {
			t.Errorf("Serve: %v; want the count of requests still running", err)
		}
		// The grace, then at most a second for Shutdown before Close.
		if took < grace || took > grace+3*time.Second {
			t.Errorf("Serve returned %v after the signal, grace %v", took, grace)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the grace period")
	}
	for range 2 {
		select {
		case err := <-answers:
			if se, ok := err.(*statusError); ok {
				t.Errorf("a request still running at the end of the grace was answered %d; want its connection closed", se.code)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a client still waits after the server closed")
		}
	}
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

// TestRetryAfterCap: Retry-After is the work ahead over the measured rate,
// rounded up, and never more than 60 s nor less than 1 s.
func TestRetryAfterCap(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	a := newClockedAdmission(c, 100000, 10, 100000, 0)
	ctx := context.Background()
	// Measure 100 pairs/s: 100 pairs done in one second of busy time.
	if err := a.acquire(ctx, 100); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Second)
	a.release(100)
	if a.rate < 99 || a.rate > 101 {
		t.Fatalf("rate %v pairs/s, want 100", a.rate)
	}
	held := 0
	for _, tc := range []struct{ ahead, want int }{
		{1, 1},       // 0.01 s: at least 1
		{5999, 60},   // 59.99 s, rounded up
		{6000, 60},   // exactly the cap
		{6101, 60},   // 61.01 s: capped
		{100000, 60}, // 1,000 s: capped
	} {
		if err := a.acquire(ctx, tc.ahead-held); err != nil {
			t.Fatal(err)
		}
		held = tc.ahead
		if got := a.retryAfter(); got != tc.want {
			t.Errorf("Retry-After with %d pairs ahead at 100 pairs/s: %d s, want %d", tc.ahead, got, tc.want)
		}
	}
	// No rate measured yet: 1 s.
	if got := newAdmission(10, 10, 10, 0).retryAfter(); got != 1 {
		t.Errorf("Retry-After before any measurement: %d, want 1", got)
	}
}
