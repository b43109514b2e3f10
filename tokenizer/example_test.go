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

// A decoder re-ranker such as Qwen3-Reranker scores a prompt, not a pair:
// the model card's fixed prefix and suffix around one text holding the
// instruction, query and document, cut from the right so that only the
// end (the document) is lost, then padded on the left so every row ends
// in its last column. The score is read from the logits of "yes" and "no".
// (This tokenizer is a tiny Qwen2-style byte-level BPE trained for the
// tests; a Qwen3 checkpoint folder loads the same way. transformers, running
// the card's code on it, gives the same lengths, mask and tail.)
func Example_qwen3Prompt() {
	tok, err := tokenizer.Load("../testdata/tokenizers/bpe-qwen2")
	if err != nil {
		log.Fatal(err)
	}
	const prefix = "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n"
	const suffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
	// Tokenize adds no special tokens (add_special_tokens=False) but
	// still matches the added ones (<|im_start|>, <think>) in the text.
	pre, _ := tok.Tokenize(prefix)
	suf, _ := tok.Tokenize(suffix)
	const maxLength = 200
	var encs []*tokenizer.Encoding
	for _, doc := range []string{"The capital of China is Beijing.", "Gravity is a force that attracts two bodies towards each other. It gives weight to physical objects."} {
		body := fmt.Sprintf("<Instruct>: %s\n<Query>: %s\n<Document>: %s",
			"Given a web search query, retrieve relevant passages that answer the query", "What is the capital of China?", doc)
		// The whole body in one call: the tokens at the seams depend on
		// their neighbours, so pieces tokenized apart can differ.
		ids, err := tok.Tokenize(body)
		if err != nil {
			log.Fatal(err)
		}
		cut, err := tok.EncodeIDs(ids, nil, false, tokenizer.Truncation{MaxLength: maxLength - len(pre) - len(suf)})
		if err != nil {
			log.Fatal(err)
		}
		prompt := append(append(append([]int32{}, pre...), cut.IDs...), suf...)
		encs = append(encs, tokenizer.NewEncoding(prompt))
		fmt.Println(len(ids), "body tokens,", cut.Truncated.First, "cut; prompt", len(prompt))
	}
	batch := tokenizer.PadSide(encs, tok.PadID(), tokenizer.Left)
	_, _, mask := batch.Row(0)
	fmt.Println("row 0 mask starts", mask[:4])
	// The card's convert_tokens_to_ids("yes") and ("no"): Qwen3's vocabulary
	// has both; this tiny one has neither.
	fmt.Println(tok.TokenID("yes"))
	fmt.Println(tok.TokenID("<|im_end|>"))
	tail, _ := tok.Decode(encs[1].IDs[len(encs[1].IDs)-len(suf)-3:], false)
	fmt.Printf("%q\n", tail)
	// Output:
	// 90 body tokens, 0 cut; prompt 193
	// 129 body tokens, 32 cut; prompt 200
	// row 0 mask starts [0 0 0 0]
	// 0 false
	// 1202 true
	// " towar<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
}
