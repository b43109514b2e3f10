// Package eino plugs crossrank into cloudwego/eino: a document.Transformer
// that re-ranks documents for a query (passed with WithQuery, eino's
// implementation-specific option), and a retriever.Retriever decorator that
// over-fetches from another retriever and keeps the best documents.
//
// Scores are set with schema.Document.WithScore; the documents are the
// caller's own values, re-ordered, not copies.
package eino

import (
	"context"
	"errors"

	"github.com/cloudwego/eino/components/document"
	"github.com/cloudwego/eino/components/retriever"
	"github.com/cloudwego/eino/schema"
	"github.com/crossrank/crossrank/rerank"
)

// ErrNoQuery is the error of a Transform call without WithQuery.
var ErrNoQuery = errors.New("crossrank/eino: Transform needs the query: pass eino.WithQuery(query)")

// Transformer re-ranks documents for a query.
type Transformer struct {
	r    rerank.DocumentRanker
	opts rerank.RerankOptions
}

var _ document.Transformer = (*Transformer)(nil)

// NewTransformer returns a Transformer over r (a *rerank.Reranker). opts
// apply to every call (TopK, MinScore, truncation); WithTopK overrides
// TopK for one call.
func NewTransformer(r rerank.DocumentRanker, opts rerank.RerankOptions) *Transformer {
	return &Transformer{r: r, opts: opts}
}

// transformOptions are the Transformer's implementation-specific options.
type transformOptions struct {
	query string
	topK  *int
}

// WithQuery is the query the documents are re-ranked for (required).
func WithQuery(query string) document.TransformerOption {
	return document.WrapTransformerImplSpecificOptFn(func(o *transformOptions) { o.query = query })
}

// WithTopK keeps the best k documents (0: all).
func WithTopK(k int) document.TransformerOption {
	return document.WrapTransformerImplSpecificOptFn(func(o *transformOptions) { o.topK = &k })
}

// Transform returns src best first, each with its score, cut to TopK.
func (t *Transformer) Transform(ctx context.Context, src []*schema.Document, opts ...document.TransformerOption) ([]*schema.Document, error) {
	o := document.GetTransformerImplSpecificOptions(&transformOptions{}, opts...)
	if o.query == "" {
		return nil, ErrNoQuery
	}
	ro := t.opts
	if o.topK != nil {
		ro.TopK = *o.topK
	}
	return rerankDocs(ctx, t.r, o.query, src, ro)
}

func rerankDocs(ctx context.Context, r rerank.DocumentRanker, query string, src []*schema.Document, o rerank.RerankOptions) ([]*schema.Document, error) {
	ranked, err := rerank.Items(ctx, r, query, src, func(d *schema.Document) string { return d.Content }, o)
	if err != nil {
		return nil, err
	}
	out := make([]*schema.Document, len(ranked))
	for i, x := range ranked {
		out[i] = x.Item.WithScore(x.Score)
	}
	return out, nil
}

// RetrieverConfig configures a re-ranking Retriever.
type RetrieverConfig struct {
	// TopK is how many documents to return when the call does not say
	// (retriever.WithTopK); default 5.
	TopK int
	// FetchK is how many candidates to ask the inner retriever for; default
	// 4 * TopK, at least 20.
	FetchK int
	// Rerank are the options of the re-ranking call (MinScore, truncation);
	// its TopK is the call's.
	Rerank rerank.RerankOptions
}

// Retriever asks another retriever for FetchK candidates, re-ranks them
// and returns the best TopK, each with its cross-encoder score.
type Retriever struct {
	inner retriever.Retriever
	r     rerank.DocumentRanker
	cfg   RetrieverConfig
}

var _ retriever.Retriever = (*Retriever)(nil)

// NewRetriever decorates inner with re-ranking by r.
func NewRetriever(inner retriever.Retriever, r rerank.DocumentRanker, cfg RetrieverConfig) *Retriever {
	if cfg.TopK <= 0 {
		cfg.TopK = 5
	}
	return &Retriever{inner: inner, r: r, cfg: cfg}
}

// Retrieve passes opts to the inner retriever, except TopK: a
// retriever.WithTopK(k) option is what this call returns, and the inner
// retriever is asked for max(FetchK, k) candidates.
func (rt *Retriever) Retrieve(ctx context.Context, query string, opts ...retriever.Option) ([]*schema.Document, error) {
	k := rt.cfg.TopK
	if common := retriever.GetCommonOptions(&retriever.Options{}, opts...); common.TopK != nil && *common.TopK > 0 {
		k = *common.TopK
	}
	fetch := rt.cfg.FetchK
	if fetch <= 0 {
		fetch = max(4*k, 20)
	}
	fetch = max(fetch, k)
	// Later options win, so this one sets the inner retriever's TopK.
	docs, err := rt.inner.Retrieve(ctx, query, append(append([]retriever.Option(nil), opts...), retriever.WithTopK(fetch))...)
	if err != nil {
		return nil, err
	}
	o := rt.cfg.Rerank
	o.TopK = k
	return rerankDocs(ctx, rt.r, query, docs, o)
}
