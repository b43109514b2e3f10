package shared

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGetLoadsOnce(t *testing.T) {
	var r Registry[*int]
	var loads atomic.Int32
	var wg sync.WaitGroup
	got := make([]*int, 8)
	for i := range got {
		wg.Go(func() {
			v, err := r.Get(context.Background(), "k", func() (*int, error) {
				loads.Add(1)
				time.Sleep(20 * time.Millisecond)
				n := 7
				return &n, nil
			})
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	if loads.Load() != 1 {
		t.Fatalf("%d loads", loads.Load())
	}
	for _, v := range got {
		if v != got[0] {
			t.Fatal("callers got different values")
		}
	}
	r.Forget("k", func(v *int) bool { return v == got[0] })
	r.Get(context.Background(), "k", func() (*int, error) { loads.Add(1); return new(int), nil })
	if loads.Load() != 2 {
		t.Errorf("Forget did not drop the value: %d loads", loads.Load())
	}
	// A failed load is tried again.
	if _, err := r.Get(context.Background(), "bad", func() (*int, error) { return nil, errors.New("no") }); err == nil {
		t.Fatal("error lost")
	}
	if v, err := r.Get(context.Background(), "bad", func() (*int, error) { return new(int), nil }); err != nil || v == nil {
		t.Errorf("retry after failure: %v %v", v, err)
	}
}
