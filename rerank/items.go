package rerank

import "context"

// DocumentRanker re-ranks documents: *Reranker does, and so can a client of
// a remote server or a test's fake.
type DocumentRanker interface {
	Rerank(ctx context.Context, query string, docs []Document, o RerankOptions) ([]Result, error)
}

var _ DocumentRanker = (*Reranker)(nil)

// Ranked is one item re-ranked by Items: the caller's own value and its
// result (Score, Index, Truncated, ...).
type Ranked[T any] struct {
	Item T
	Result
}

// Items re-ranks values of any type, reading each one's text with text,
// and returns them best first (cut by o.TopK and o.MinScore as Rerank
// does). It is what a framework adapter needs: the framework's own
// documents go in and come back in order, with their scores. No items is
// no results, not an error.
func Items[T any](ctx context.Context, r DocumentRanker, query string, items []T, text func(T) string, o RerankOptions) ([]Ranked[T], error) {
	if len(items) == 0 {
		return []Ranked[T]{}, nil
	}
	docs := make([]Document, len(items))
	for i, it := range items {
		docs[i].Text = text(it)
	}
	results, err := r.Rerank(ctx, query, docs, o)
	if err != nil {
		return nil, err
	}
	out := make([]Ranked[T], len(results))
	for i, res := range results {
		out[i] = Ranked[T]{Item: items[res.Index], Result: res}
	}
	return out, nil
}
