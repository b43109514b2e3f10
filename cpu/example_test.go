package cpu_test

import (
	"context"
	"fmt"
	"log"

	"github.com/crossrank/crossrank/bert"
	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/ml"
)

// Run the Linear layers in bf16 (or "int8"): a few hundredths of a logit
// from fp32 for about 1.7x (int8: 2-2.6x) the speed on a CPU with
// AVX512_BF16 (VNNI); lowp_test.go measures the error per checkpoint.
func ExampleNew() {
	ctx := context.Background()
	be, err := cpu.New(cpu.Options{Precision: "bf16"})
	if err != nil {
		log.Fatal(err)
	}
	m, err := bert.Load(ctx, "../testdata/models/bert", bert.Options{Backend: be})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	// [CLS] q q [SEP] d d [SEP] in the fixture's vocab (ExampleLoad makes
	// ids with the tokenizer).
	logits, err := m.Forward(ctx, []ml.Sequence{{IDs: []int32{2, 10, 11, 3, 12, 13, 3}, TypeIDs: []int32{0, 0, 0, 0, 1, 1, 1}}})
	if err != nil {
		log.Fatal(err)
	}
	// be.Name() says what runs, e.g. "cpu (bf16, avx512bf16)", or
	// "cpu (fp32: no bf16 kernel on this CPU)".
	fmt.Printf("%d logit\n", len(logits[0]))
	// Output: 1 logit
}
