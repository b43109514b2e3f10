package embed_test

import (
	"context"
	"fmt"
	"log"

	"github.com/crossrank/crossrank/embed"
)

// Embed texts with a sentence-transformers model: here the repository's
// fixture (random weights: the numbers carry no meaning); in use, a Hub
// reference such as "sentence-transformers/all-MiniLM-L6-v2".
func Example() {
	ctx := context.Background()
	e, err := embed.New(ctx, "../testdata/models/embed-bert", embed.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	res, err := e.Embed(ctx, []string{"Paris is the capital of France.", "Berlin is the capital of Germany."},
		embed.EmbedOptions{PromptName: e.DocumentPrompt()})
	if err != nil {
		log.Fatal(err)
	}
	in := e.Info()
	fmt.Println("dim", in.Dim, "pooling", in.Pooling, "normalized", in.Normalized, "prompt", e.DocumentPrompt())
	for _, r := range res {
		fmt.Println(len(r.Vector), r.Tokens, r.Truncated)
	}
	// Output:
	// dim 32 pooling [mean] normalized true prompt passage
	// 32 17 false
	// 32 18 false
}
