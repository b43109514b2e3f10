package bert_test

import (
	"context"
	"fmt"
	"log"

	"github.com/crossrank/crossrank/bert"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/tokenizer"
)

// Score a (query, document) pair: the tokenizer makes the ids, the model
// returns one logit per label (the golden tests check their values against
// transformers).
func ExampleLoad() {
	ctx := context.Background()
	const dir = "../testdata/models/bert" // config.json, model.safetensors, tokenizer.json
	tok, err := tokenizer.Load(dir)
	if err != nil {
		log.Fatal(err)
	}
	m, err := bert.Load(ctx, dir, bert.Options{}) // the CPU backend
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	enc, err := tok.EncodePair("what is the capital of france?", "Paris is the capital and largest city of France.",
		tokenizer.Truncation{MaxLength: m.MaxTokens()})
	if err != nil {
		log.Fatal(err)
	}
	logits, err := m.Forward(ctx, []ml.Sequence{{IDs: enc.IDs, TypeIDs: enc.TypeIDs}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d sequence, %d label\n", len(logits), len(logits[0]))
	// Output: 1 sequence, 1 label
}

// Run the Linear layers in bf16 (or "int8"): a few hundredths of a logit
// from fp32 for about 1.7x (int8: 2-2.6x) the speed on a CPU with
// AVX512_BF16 (VNNI); lowp_test.go measures the error per checkpoint.
func ExampleNewCPUWithOptions() {
	ctx := context.Background()
	be, err := bert.NewCPUWithOptions(bert.CPUOptions{Precision: "bf16"})
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
