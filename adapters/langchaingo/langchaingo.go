// Package langchaingo plugs crossrank into tmc/langchaingo: a
// schema.Retriever decorator that takes an inner retriever's candidates,
// re-ranks them with a cross-encoder, sets each document's Score and keeps
// the best TopK.
//
// langchaingo retrievers fix their document count when they are built, so
// over-fetching means building the inner one with more than TopK
// (vectorstores.ToRetriever(store, 20)); FromVectorStore does that.
package langchaingo

import (
	"context"

	"github.com/crossrank/crossrank/rerank"
	"github.com/tmc/langchaingo/schema"
	"github.com/tmc/langchaingo/vectorstores"
)

// Retriever re-ranks the documents of another retriever.
type Retriever struct {
	inner schema.Retriever
	r     rerank.DocumentRanker
	cfg   Config
}

var _ schema.Retriever = (*Retriever)(nil)

// Config configures a Retriever.
type Config struct {
	// TopK is how many documents to return (default 5).
	TopK int
	// FetchK is how many candidates FromVectorStore asks the store for
	// (default 4 * TopK, at least 20). New's inner retriever decides its
	// own count.
	FetchK int
	// Rerank are the options of the re-ranking call (MinScore, truncation);
	// its TopK is TopK.
	Rerank rerank.RerankOptions
}

func (c Config) withDefaults() Config {
	if c.TopK <= 0 {
		c.TopK = 5
	}
	if c.FetchK <= 0 {
		c.FetchK = max(4*c.TopK, 20)
	}
	c.FetchK = max(c.FetchK, c.TopK)
	c.Rerank.TopK = c.TopK
	return c
}

// New decorates inner with re-ranking by r (a *rerank.Reranker).
func New(inner schema.Retriever, r rerank.DocumentRanker, cfg Config) *Retriever {
	return &Retriever{inner: inner, r: r, cfg: cfg.withDefaults()}
}

// FromVectorStore retrieves cfg.FetchK candidates from store and re-ranks
// them; options go to the store's similarity search.
func FromVectorStore(store vectorstores.VectorStore, r rerank.DocumentRanker, cfg Config, options ...vectorstores.Option) *Retriever {
	cfg = cfg.withDefaults()
	return New(vectorstores.ToRetriever(store, cfg.FetchK, options...), r, cfg)
}

// GetRelevantDocuments returns the inner retriever's documents best first,
// with the cross-encoder's score in Score (the retriever's own score is
// replaced), cut to TopK.
func (rt *Retriever) GetRelevantDocuments(ctx context.Context, query string) ([]schema.Document, error) {
	docs, err := rt.inner.GetRelevantDocuments(ctx, query)
	if err != nil {
		return nil, err
	}
	ranked, err := rerank.Items(ctx, rt.r, query, docs, func(d schema.Document) string { return d.PageContent }, rt.cfg.Rerank)
	if err != nil {
		return nil, err
	}
	out := make([]schema.Document, len(ranked))
	for i, x := range ranked {
		out[i] = x.Item
		out[i].Score = float32(x.Score)
	}
	return out, nil
}
