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
