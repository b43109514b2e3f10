package rerank

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestOutOfMemorySizeHoldsAcrossCalls: once a batch has run out of memory,
// later calls form batches under the size that fitted from the start (no
// failed pass first), until oomMemory has passed; then one full-size
// attempt is made again (rerank/doc.go: "later batches stay under the size
// that fitted").
func TestOutOfMemorySizeHoldsAcrossCalls(t *testing.T) {
	ctx := context.Background()
	m := &fakeModel{oomAbove: 40}
	var (
		mu      sync.Mutex
		retries int
	)
	r := newFake(t, m, Options{OnBatch: func(s BatchStats) {
		mu.Lock()
		defer mu.Unlock()
		if s.Retried {
			retries++
		}
	}})
	docs := make([]string, 10)
	for i := range docs {
		docs[i] = words("x", 5) + " a" // 10 tokens a pair
	}
	call := func() int {
		t.Helper()
		mu.Lock()
		retries = 0
		mu.Unlock()
		res, err := r.RerankStrings(ctx, "a", docs, RerankOptions{})
		if err != nil || len(res) != len(docs) {
			t.Fatalf("%d results, %v", len(res), err)
		}
		mu.Lock()
		defer mu.Unlock()
		return retries
	}
	if n := call(); n == 0 {
		t.Fatal("the first call ran no batch out of memory: the fake does not bite")
	}
	for i := range 3 {
		m.mu.Lock()
		m.batches = nil
		m.mu.Unlock()
		if n := call(); n != 0 {
			t.Errorf("call %d after the first: %d batches ran out of memory again; the size that fitted was forgotten", i+2, n)
		}
		for _, b := range m.seen() {
			if len(b)*10 > 40 {
				t.Errorf("call %d: a batch of %d pairs of 10 tokens, past the 40-token memory", i+2, len(b))
			}
		}
	}
	// After oomMemory the limit is dropped: one pass tries the full size.
	r.b.mu.Lock()
	r.b.oomAt = time.Now().Add(-oomMemory - time.Second)
	r.b.mu.Unlock()
	if n := call(); n == 0 {
		t.Error("the learnt limit outlived oomMemory: no full-size attempt")
	}
	if n := call(); n != 0 {
		t.Errorf("right after relearning, %d batches ran out of memory", n)
	}
}
