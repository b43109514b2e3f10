package qwen3

import (
	"context"
	"testing"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/ml"
)

// countingRun is a backend run that counts the tensors released to it.
type countingRun struct {
	ml.Run
	released int
}

func (c *countingRun) Release(x ml.Tensor) {
	c.released++
	ml.Release(c.Run, x)
}

// TestRunReleasesToBackend: the model's run wrapper passes ml.Release on to
// the backend's run. It did not (the wrapper had no Release method), so no
// intermediate was ever given back before the run closed.
func TestRunReleasesToBackend(t *testing.T) {
	inner, err := cpu.Default().NewRun(context.Background(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	c := &countingRun{Run: inner}
	r := &run{Run: c}
	tab, err := cpu.Default().Table("t", make([]float32, 8), 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	x := r.Gather(tab, []int32{0, 1, 1, 0})
	ml.Release(r, x)
	if c.released != 1 {
		t.Fatalf("ml.Release through the qwen3 run reached the backend %d times, want 1", c.released)
	}
}
