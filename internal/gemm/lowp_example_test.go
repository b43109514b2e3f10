package gemm_test

import (
	"fmt"

	"github.com/crossrank/crossrank/internal/gemm"
)

// The torch.nn.Linear(3, 2) of Example in bf16: the weight is rounded to
// bf16 and packed once, at load; each batch is rounded as it is multiplied.
// These small integers are exact in bf16, so the product is too.
func ExampleMatMulBF16() {
	w := []float32{1, 0, -1, 2, 1, 0} // [out=2, in=3]
	bias := []float32{0.5, -1}
	pw := gemm.PackWeightBF16(w, 2, 3)

	x := []float32{1, 2, 3, 4, 5, 6} // [tokens=2, in=3]
	y := make([]float32, 2*2)
	gemm.MatMulBF16(y, x, 2, pw, bias)
	fmt.Println(y)
	// Output: [-1.5 3 -1.5 12]
}

// The same layer in int8: the weight is quantised per output channel at
// load, each token's activations per row at every call; the result is
// within a quantisation step of the exact [-1.5 3 -1.5 12].
func ExampleMatMulInt8() {
	w := []float32{1, 0, -1, 2, 1, 0}
	bias := []float32{0.5, -1}
	pw := gemm.PackWeightInt8(w, 2, 3)

	x := []float32{1, 2, 3, 4, 5, 6}
	y := make([]float32, 2*2)
	gemm.MatMulInt8(y, x, 2, pw, bias)
	fmt.Printf("%.1f\n", y)
	// Output: [-1.5 3.0 -1.5 12.0]
}
