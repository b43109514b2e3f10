package genkit

import (
	"context"
	"testing"

	"github.com/crossrank/crossrank/rerank"
	"github.com/firebase/genkit/go/ai"
	"github.com/firebase/genkit/go/genkit"
)

func fixture(t testing.TB) *rerank.Reranker {
	t.Helper()
	r, err := rerank.New(context.Background(), "../../testdata/models/bert", rerank.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

var texts = []string{
	"Paris is the capital of France.",
	"Berlin is the capital of Germany.",
	"The Eiffel Tower is in Paris.",
	"Bananas are yellow.",
	"Cross-encoders read the query and the document together.",
	"Madrid is the capital of Spain.",
}

const query = "what is the capital of France?"

type innerOptions struct{ K int }

// listRetriever returns the first K texts (all without options) and
// records the options it got.
func listRetriever(got *any) ai.Retriever {
	return ai.NewRetriever("test/list", nil, func(ctx context.Context, req *ai.RetrieverRequest) (*ai.RetrieverResponse, error) {
		*got = req.Options
		n := len(texts)
		if o, ok := req.Options.(*innerOptions); ok {
			n = min(n, o.K)
		}
		resp := &ai.RetrieverResponse{}
		for i, t := range texts[:n] {
			resp.Documents = append(resp.Documents, ai.DocumentFromText(t, map[string]any{"i": i}))
		}
		return resp, nil
	})
}

func TestRetriever(t *testing.T) {
	r := fixture(t)
	var got any
	ret := Wrap("crossrank/rerank", listRetriever(&got), r, Config{TopK: 2, InnerOptions: &innerOptions{K: 4}})
	resp, err := ret.Retrieve(context.Background(), &ai.RetrieverRequest{Query: ai.DocumentFromText(query, nil), Options: "caller's"})
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := got.(*innerOptions); !ok || o.K != 4 {
		t.Errorf("inner retriever got options %#v, want InnerOptions", got)
	}
	want, err := r.RerankStrings(context.Background(), query, texts[:4], rerank.RerankOptions{TopK: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Documents) != 2 {
		t.Fatalf("%d documents, want 2", len(resp.Documents))
	}
	for i, w := range want {
		d := resp.Documents[i]
		if text(d) != texts[w.Index] || d.Metadata[ScoreKey] != w.Score || d.Metadata["i"] != w.Index {
			t.Errorf("document %d: %q %v, want %q %v", i, text(d), d.Metadata, texts[w.Index], w.Score)
		}
	}

	// Registered with Genkit, called through genkit.Retrieve; the request's
	// options pass through when InnerOptions is nil.
	g := genkit.Init(context.Background())
	Define(g, "crossrank/rerank", listRetriever(&got), r, Config{TopK: 3})
	resp, err = genkit.Retrieve(context.Background(), g, ai.WithRetrieverName("crossrank/rerank"), ai.WithTextDocs(query), ai.WithConfig(&innerOptions{K: 5}))
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := got.(*innerOptions); !ok || o.K != 5 || len(resp.Documents) != 3 {
		t.Errorf("through genkit.Retrieve: options %#v, %d documents", got, len(resp.Documents))
	}
}
