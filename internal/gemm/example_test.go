package gemm_test

import (
	"fmt"

	"github.com/crossrank/crossrank/internal/gemm"
)

// A torch.nn.Linear(3, 2) applied to two tokens: the weight is packed once
// (at load), then every batch is one MatMul.
func Example() {
	w := []float32{ // [out=2, in=3], as in the checkpoint
		1, 0, -1,
		2, 1, 0,
	}
	bias := []float32{0.5, -1}
	pw := gemm.PackWeight(w, 2, 3)

	x := []float32{ // [tokens=2, in=3]
		1, 2, 3,
		4, 5, 6,
	}
	y := make([]float32, 2*2)
	gemm.MatMul(y, x, 2, pw, bias)
	fmt.Println(y)
	// Output: [-1.5 3 -1.5 12]
}
