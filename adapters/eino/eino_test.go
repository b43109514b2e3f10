package eino

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/cloudwego/eino/components/retriever"
	"github.com/cloudwego/eino/schema"
	"github.com/crossrank/crossrank/rerank"
)

// fixture loads the test checkpoint (random weights: the scores mean
// nothing, but they must be the library's own).
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

func docs() []*schema.Document {
	out := make([]*schema.Document, len(texts))
	for i, t := range texts {
		out[i] = &schema.Document{ID: string(rune('a' + i)), Content: t}
	}
	return out
}

const query = "what is the capital of France?"

// libOrder is the library's ranking of texts: indices best first, scores.
func libOrder(t *testing.T, r *rerank.Reranker, docs []string, k int) ([]int, []float64) {
	t.Helper()
	res, err := r.RerankStrings(context.Background(), query, docs, rerank.RerankOptions{TopK: k})
	if err != nil {
		t.Fatal(err)
	}
	idx, sc := make([]int, len(res)), make([]float64, len(res))
	for i, x := range res {
		idx[i], sc[i] = x.Index, x.Score
	}
	return idx, sc
}

func TestTransformer(t *testing.T) {
	r := fixture(t)
	in := docs()
	tr := NewTransformer(r, rerank.RerankOptions{})
	out, err := tr.Transform(context.Background(), in, WithQuery(query), WithTopK(3))
	if err != nil {
		t.Fatal(err)
	}
	idx, sc := libOrder(t, r, texts, 3)
	if len(out) != 3 {
		t.Fatalf("%d documents, want 3", len(out))
	}
	for i := range idx {
		if out[i] != in[idx[i]] || out[i].Score() != sc[i] {
			t.Errorf("document %d: %q score %v, want %q score %v", i, out[i].Content, out[i].Score(), texts[idx[i]], sc[i])
		}
	}
	all, err := tr.Transform(context.Background(), docs(), WithQuery(query))
	if err != nil || len(all) != len(texts) {
		t.Fatalf("no TopK: %d documents, %v", len(all), err)
	}
	if _, err := tr.Transform(context.Background(), docs()); !errors.Is(err, ErrNoQuery) {
		t.Errorf("without a query: %v", err)
	}
	if out, err := tr.Transform(context.Background(), nil, WithQuery(query)); err != nil || len(out) != 0 {
		t.Errorf("no documents: %v %v", out, err)
	}
}

// listRetriever returns its documents in order, honouring TopK, and
// records the TopK it was asked for.
type listRetriever struct {
	docs  []*schema.Document
	asked int
}

func (l *listRetriever) Retrieve(ctx context.Context, query string, opts ...retriever.Option) ([]*schema.Document, error) {
	o := retriever.GetCommonOptions(&retriever.Options{}, opts...)
	n := len(l.docs)
	if o.TopK != nil {
		l.asked = *o.TopK
		n = min(n, *o.TopK)
	}
	return l.docs[:n], nil
}

func TestRetriever(t *testing.T) {
	r := fixture(t)
	inner := &listRetriever{docs: docs()}
	rt := NewRetriever(inner, r, RetrieverConfig{TopK: 2, FetchK: 5})
	out, err := rt.Retrieve(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	if inner.asked != 5 {
		t.Errorf("inner retriever asked for %d, want FetchK 5", inner.asked)
	}
	idx, sc := libOrder(t, r, texts[:5], 2)
	if len(out) != 2 {
		t.Fatalf("%d documents, want 2", len(out))
	}
	for i := range idx {
		if out[i].Content != texts[idx[i]] || out[i].Score() != sc[i] {
			t.Errorf("document %d: %q %v, want %q %v", i, out[i].Content, out[i].Score(), texts[idx[i]], sc[i])
		}
	}
	// The call's TopK wins, and the fetch grows to cover it.
	out, err = NewRetriever(inner, r, RetrieverConfig{FetchK: 3}).Retrieve(context.Background(), query, retriever.WithTopK(4))
	if err != nil || len(out) != 4 || inner.asked != 4 {
		t.Errorf("WithTopK(4): %d documents, inner asked %d, %v", len(out), inner.asked, err)
	}
	scores := make([]float64, len(out))
	for i, d := range out {
		scores[i] = -d.Score()
	}
	if !slices.IsSorted(scores) {
		t.Errorf("not best first: %v", scores)
	}
}
