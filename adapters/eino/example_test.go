package eino_test

import (
	"context"
	"fmt"

	"github.com/cloudwego/eino/schema"
	crossrankeino "github.com/crossrank/crossrank/adapters/eino"
	"github.com/crossrank/crossrank/rerank"
)

// Re-rank eino documents for a query. The fixture model's scores carry no
// meaning; load a real one the same way, e.g. "BAAI/bge-reranker-base".
func Example() {
	ctx := context.Background()
	r, err := rerank.New(ctx, "../../testdata/models/bert", rerank.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	tr := crossrankeino.NewTransformer(r, rerank.RerankOptions{})
	docs := []*schema.Document{
		{ID: "1", Content: "Paris is the capital of France."},
		{ID: "2", Content: "Bananas are yellow."},
		{ID: "3", Content: "The Eiffel Tower is in Paris."},
	}
	best, err := tr.Transform(ctx, docs, crossrankeino.WithQuery("what is the capital of France?"), crossrankeino.WithTopK(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(best), best[0].Score() >= best[1].Score())
	// Output: 2 true
}
