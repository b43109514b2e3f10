package tokenizer_test

import (
	"fmt"
	"log"

	"github.com/crossrank/crossrank/tokenizer"
)

// A re-ranker encodes one query against many documents, each pair cut to
// the model's budget; Truncated says which documents lost tokens.
func Example() {
	// A checkpoint folder: tokenizer.json, or vocab.txt +
	// tokenizer_config.json. (This one is a tiny test tokenizer.)
	tok, err := tokenizer.Load("testdata/tiny-bert")
	if err != nil {
		log.Fatal(err)
	}
	q, err := tok.EncodeQuery("Hello world")
	if err != nil {
		log.Fatal(err)
	}
	for _, doc := range []string{"hello, world!", "the cafe the cafe the cafe"} {
		enc, err := tok.EncodePairWithQuery(q, doc, tokenizer.Truncation{MaxLength: 8})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(enc.IDs, enc.TypeIDs, "document lost", enc.Truncated.Second)
	}
	// Output:
	// [2 5 6 3 5 13 6 3] [0 0 0 0 1 1 1 1] document lost 1
	// [2 5 6 3 10 11 10 3] [0 0 0 0 1 1 1 1] document lost 3
}

// Pad makes a rectangle of a batch for a forward pass that wants one.
func ExamplePad() {
	tok, err := tokenizer.Load("testdata/tiny-bert")
	if err != nil {
		log.Fatal(err)
	}
	a, _ := tok.EncodePair("hello", "world", tokenizer.Truncation{})
	b, _ := tok.EncodePair("hello", "the cafe, the cafe", tokenizer.Truncation{})
	batch := tokenizer.Pad([]*tokenizer.Encoding{a, b}, tok.PadID())
	for i := 0; i < batch.Rows; i++ {
		ids, _, mask := batch.Row(i)
		fmt.Println(ids, mask)
	}
	// Output:
	// [2 5 3 6 3 0 0 0 0] [1 1 1 1 1 0 0 0 0]
	// [2 5 3 10 11 13 10 11 3] [1 1 1 1 1 1 1 1 1]
}
