package rerank

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// RRFK is reciprocal rank fusion's usual constant (Cormack, Clarke and
// Büttcher, 2009): a document's fused score is the sum over the lists of
// 1/(RRFK + rank), ranks counted from 1.
const RRFK = 60

// Fusion is a Retriever that fuses the ranked lists of several retrievers
// (BM25 and a dense index, for hybrid search) by reciprocal rank fusion.
// Documents are the same document when their IDs are equal (their texts
// when an ID is empty).
type Fusion struct {
	Retrievers []Retriever
	// K is the fusion constant (default RRFK).
	K float64
	// Depth is how many candidates each retriever gives (default: the k
	// asked of Retrieve, and at least 20).
	Depth int
}

// Retrieve returns the k documents with the highest fused score, ties in
// the order they first appear across the lists.
func (f *Fusion) Retrieve(ctx context.Context, query, tenant string, k int) ([]Document, error) {
	hits, err := f.Search(ctx, query, tenant, k)
	if err != nil {
		return nil, err
	}
	out := make([]Document, len(hits))
	for i, h := range hits {
		out[i] = h.Document
	}
	return out, nil
}

// FusedHit is one Search result: the document, its fused score and its
// rank in each retriever's list (0: not in it).
type FusedHit struct {
	Document Document
	Score    float64
	Ranks    []int
}

// Search is Retrieve with the fused scores and the ranks behind them.
func (f *Fusion) Search(ctx context.Context, query, tenant string, k int) ([]FusedHit, error) {
	c := f.K
	if c <= 0 {
		c = RRFK
	}
	depth := f.Depth
	if depth <= 0 {
		depth = max(k, 20)
	}
	byKey := map[string]int{}
	var hits []FusedHit
	for li, r := range f.Retrievers {
		docs, err := r.Retrieve(ctx, query, tenant, depth)
		if err != nil {
			return nil, fmt.Errorf("rerank: fusion: retriever %d: %w", li, err)
		}
		for rank, d := range docs {
			key := "id:" + d.ID
			if d.ID == "" {
				key = "text:" + d.Text
			}
			i, ok := byKey[key]
			if !ok {
				i = len(hits)
				byKey[key] = i
				hits = append(hits, FusedHit{Document: d, Ranks: make([]int, len(f.Retrievers))})
			}
			if hits[i].Ranks[li] == 0 { // a retriever listing a document twice counts it once
				hits[i].Ranks[li] = rank + 1
				hits[i].Score += 1 / (c + float64(rank+1))
			}
		}
	}
	// Stable: equal scores keep first-appearance order.
	slices.SortStableFunc(hits, func(a, b FusedHit) int { return cmp.Compare(b.Score, a.Score) })
	if k > 0 && len(hits) > k {
		hits = hits[:k]
	}
	return hits, ctx.Err()
}
