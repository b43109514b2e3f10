package langchaingo_test

import (
	"context"
	"fmt"

	crossranklc "github.com/crossrank/crossrank/adapters/langchaingo"
	"github.com/crossrank/crossrank/rerank"
	"github.com/tmc/langchaingo/schema"
)

// candidates stands for any langchaingo retriever (a vector store's,
// built to fetch more candidates than the answer keeps).
type candidates []string

func (c candidates) GetRelevantDocuments(context.Context, string) ([]schema.Document, error) {
	docs := make([]schema.Document, len(c))
	for i, t := range c {
		docs[i] = schema.Document{PageContent: t}
	}
	return docs, nil
}

// Re-rank a retriever's candidates. The fixture model's scores carry no
// meaning; load a real one the same way, e.g. "BAAI/bge-reranker-base".
func Example() {
	ctx := context.Background()
	r, err := rerank.New(ctx, "../../testdata/models/bert", rerank.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	inner := candidates{"Paris is the capital of France.", "Bananas are yellow.", "The Eiffel Tower is in Paris."}
	rt := crossranklc.New(inner, r, crossranklc.Config{TopK: 2})
	docs, err := rt.GetRelevantDocuments(ctx, "what is the capital of France?")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(docs), docs[0].Score >= docs[1].Score)
	// Output: 2 true
}
