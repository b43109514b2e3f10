package server

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeClock is a settable admission clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClockedAdmission(c *fakeClock, capacity, maxWaiting, maxWaitingPairs int, maxWait time.Duration) *admission {
	a := newAdmission(capacity, maxWaiting, maxWaitingPairs, maxWait)
	a.now = c.now
	return a
}

// TestAdmissionRateIsAggregate: requests are batched together, so the rate
// that predicts a wait is all pairs finished per second of busy time, not
// one request's pairs over its own duration. Ten requests of 10 pairs that
// run together, finishing one every 100 ms, are 100 pairs/s, not 10.
func TestAdmissionRateIsAggregate(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	a := newClockedAdmission(c, 1000, 10, 1000, 0)
	ctx := context.Background()
	for range 10 {
		if err := a.acquire(ctx, 10); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		c.advance(100 * time.Millisecond)
		a.release(10)
	}
	if a.rate < 99 || a.rate > 101 {
		t.Fatalf("rate %v pairs/s, want 100", a.rate)
	}
	// Idle time does not dilute the rate.
	c.advance(time.Hour)
	a.acquire(ctx, 50)
	c.advance(500 * time.Millisecond)
	a.release(50)
	if a.rate < 99 || a.rate > 101 {
		t.Fatalf("rate %v pairs/s after an idle hour, want 100", a.rate)
	}
	// Retry-After: the work ahead over the rate, rounded up.
	a.acquire(ctx, 1000)
	if got := a.retryAfter(); got != 10 {
		t.Errorf("Retry-After %d s with 1000 pairs ahead at 100/s, want 10", got)
	}
}

// TestAdmissionRefusesWhatWouldTimeOut: a request whose wait, at the
// measured rate, outlasts maxWait is refused at once (429) instead of
// timing out in the queue (503 after the whole timeout).
func TestAdmissionRefusesWhatWouldTimeOut(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	a := newClockedAdmission(c, 100, 100, 10000, 10*time.Second) // waitMargin: 5 s
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Measure 100 pairs/s.
	a.acquire(ctx, 100)
	c.advance(time.Second)
	a.release(100)
	// 100 pairs held, then four waiters of 100: the fourth is 5 s deep
	// (its own pairs included) and fits; a fifth would take 6 s.
	a.acquire(ctx, 100)
	errs := make(chan error, 4)
	for i := range 4 {
		go func() { errs <- a.acquire(ctx, 100) }()
		waitFor(t, func() bool { _, p, _ := a.stats(); return p == 100*(i+1) })
	}
	if err := a.acquire(ctx, 100); !errors.Is(err, errQueueFull) {
		t.Fatalf("a request 6 s deep with a 5 s limit: %v, want errQueueFull", err)
	}
	cancel()
	for range 4 {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Errorf("waiter: %v", err)
		}
	}
	if u, p, n := a.stats(); u != 100 || p != 0 || n != 0 {
		t.Errorf("after the waiters left: used %d, waiting pairs %d, waiters %d", u, p, n)
	}
	// Without a measured rate nothing is refused for time.
	b := newClockedAdmission(c, 10, 10, 1000, time.Nanosecond)
	b.acquire(context.Background(), 10)
	go b.acquire(context.Background(), 5)
	waitFor(t, func() bool { _, _, n := b.stats(); return n == 1 })
}

// TestAdmissionBesideWork: a request that fits the capacity but would wait
// for the pairs in flight past maxWait is refused too; alone it is always
// admitted, however large.
func TestAdmissionBesideWork(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	a := newClockedAdmission(c, 1000, 10, 1000, 2*time.Second) // waitMargin: 1 s at 100 pairs/s
	ctx := context.Background()
	a.acquire(ctx, 100)
	c.advance(time.Second)
	a.release(100)
	if err := a.acquire(ctx, 900); err != nil {
		t.Fatalf("alone, 9 s of work: %v", err)
	}
	if err := a.acquire(ctx, 50); !errors.Is(err, errQueueFull) {
		t.Fatalf("beside 900 pairs at 100/s with 1 s allowed: %v, want errQueueFull", err)
	}
	a.release(900)
	if err := a.acquire(ctx, 50); err != nil {
		t.Fatalf("alone again: %v", err)
	}
}

// TestReleaseMemoryWhenIdle: after a burst, once no request has been open
// for ReleaseMemoryAfter, the server returns its freed memory once (and not
// again until the next request).
func TestReleaseMemoryWhenIdle(t *testing.T) {
	s := New(Config{Logger: quiet, ReleaseMemoryAfter: 50 * time.Millisecond})
	s.AddModel("m", &fakeRanker{})
	s.SetReady()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, time.Second) }()
	defer func() { stop(); <-served }()
	url := "http://" + ln.Addr().String()
	releases := func() string {
		for l := range strings.SplitSeq(string(get(t, url+"/metrics").body), "\n") {
			if v, ok := strings.CutPrefix(l, "crossrank_memory_releases_total "); ok {
				return v
			}
		}
		return ""
	}
	time.Sleep(200 * time.Millisecond)
	if r := releases(); r != "0" {
		t.Fatalf("released %s times before any request", r)
	}
	if r := post(t, url+"/rerank", `{"query":"q","documents":["a"]}`); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	waitFor(t, func() bool { return releases() == "1" })
	time.Sleep(200 * time.Millisecond)
	if r := releases(); r != "1" {
		t.Errorf("released %s times for one burst", r)
	}
}
