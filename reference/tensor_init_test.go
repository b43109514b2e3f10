package reference

import (
	"testing"

	"gorgonia.org/tensor"
)

// TestTensorImportInit guards the go4.org/unsafe/assume-no-moving-gc pin in
// go.mod: with the version gorgonia.org/tensor asks for, any binary that
// imports tensor panics at init on Go 1.26, so this test binary would not
// even start.
func TestTensorImportInit(t *testing.T) {
	a := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, 2, 3, 4}))
	b := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, 0, 0, 1}))
	c, err := tensor.MatMul(a, b)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Data().([]float32)
	want := []float32{1, 2, 3, 4}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("tensor.MatMul(a, I) = %v, want %v", got, want)
		}
	}
}
