package cuda_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/crossrank/crossrank/bert"
	"github.com/crossrank/crossrank/cuda"
	"github.com/crossrank/crossrank/ml"
)

// A model on the GPU in fp16 when there is one (a binary built with
// -tags cuda), else on the CPU; the log says which and why.
func ExampleNewOrCPU() {
	backend := cuda.NewOrCPU(slog.Default(), cuda.Options{Precision: cuda.FP16})
	defer backend.Close()
	model, err := bert.Load(context.Background(), "../testdata/models/bert", bert.Options{Backend: backend})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer model.Close()
	logits, err := model.Forward(context.Background(), []ml.Sequence{{IDs: []int32{2, 1276, 1131, 3}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(logits), len(logits[0]))
	// Output: 1 1
}
