package batch

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

type oomErr struct{}

func (oomErr) Error() string     { return "out of memory" }
func (oomErr) OutOfMemory() bool { return true }

// A Batcher over a type of its own (not rerank's pairs): rows come back in
// each caller's order, batches respect the token limit, a pass that runs
// out of memory is halved.
func TestBatcherGeneric(t *testing.T) {
	var passes atomic.Int32
	var maxTokens atomic.Int32
	forward := func(ctx context.Context, b []string) ([][]float32, error) {
		passes.Add(1)
		n := 0
		for _, s := range b {
			n += len(s)
		}
		if n > 12 {
			return nil, oomErr{} // pretend the device holds 12 tokens
		}
		for {
			m := maxTokens.Load()
			if int32(n) <= m || maxTokens.CompareAndSwap(m, int32(n)) {
				break
			}
		}
		out := make([][]float32, len(b))
		for i, s := range b {
			out[i] = []float32{float32(len(s))}
		}
		return out, nil
	}
	var stats []Stats
	var mu sync.Mutex
	b := New(forward, func(s string) int { return len(s) }, Options{MaxItems: 8, MaxTokens: 20, Name: "test",
		IsOutOfMemory: IsOutOfMemory, OnBatch: func(s Stats) { mu.Lock(); stats = append(stats, s); mu.Unlock() }})
	defer b.Close()
	in := []string{"a", "bbbbb", "cc", "dddddddd", "eee"}
	rows, err := b.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range in {
		if rows[i][0] != float32(len(s)) {
			t.Fatalf("row %d = %v for %q", i, rows[i], s)
		}
	}
	retried := false
	for _, s := range stats {
		retried = retried || s.Retried
	}
	if !retried || maxTokens.Load() > 12 {
		t.Errorf("no halving after out of memory (stats %+v, max tokens %d)", stats, maxTokens.Load())
	}
	b.Close()
	if _, err := b.Run(context.Background(), in); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if IsOutOfMemory(errors.New("x")) || !IsOutOfMemory(oomErr{}) {
		t.Error("IsOutOfMemory")
	}
}
