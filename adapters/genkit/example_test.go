package genkit_test

import (
	"context"
	"fmt"

	crossrankgenkit "github.com/crossrank/crossrank/adapters/genkit"
	"github.com/crossrank/crossrank/rerank"
	"github.com/firebase/genkit/go/ai"
)

// Re-rank another retriever's documents. The fixture model's scores carry
// no meaning; load a real one the same way, e.g. "BAAI/bge-reranker-base".
func Example() {
	ctx := context.Background()
	r, err := rerank.New(ctx, "../../testdata/models/bert", rerank.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	// Any Genkit retriever: a vector store plugin's, asked (InnerOptions)
	// for more candidates than the answer keeps.
	inner := ai.NewRetriever("example/candidates", nil, func(ctx context.Context, req *ai.RetrieverRequest) (*ai.RetrieverResponse, error) {
		return &ai.RetrieverResponse{Documents: []*ai.Document{
			ai.DocumentFromText("Paris is the capital of France.", nil),
			ai.DocumentFromText("Bananas are yellow.", nil),
			ai.DocumentFromText("The Eiffel Tower is in Paris.", nil),
		}}, nil
	})
	ret := crossrankgenkit.Wrap("crossrank/reranked", inner, r, crossrankgenkit.Config{TopK: 2})
	resp, err := ret.Retrieve(ctx, &ai.RetrieverRequest{Query: ai.DocumentFromText("what is the capital of France?", nil)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(resp.Documents), resp.Documents[0].Metadata["score"].(float64) >= resp.Documents[1].Metadata["score"].(float64))
	// Output: 2 true
}
