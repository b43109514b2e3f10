package rerank

import (
	"context"
	"fmt"
)

// Pipeline is the seed's retrieve-then-rerank: broad retrieval, then
// precise re-ranking of the candidates.
type Pipeline struct {
	r   *Reranker
	ret Retriever
	cfg PipelineConfig
}

// Pipeline returns a retrieve-then-rerank pipeline over ret.
func (r *Reranker) Pipeline(ret Retriever, cfg PipelineConfig) *Pipeline {
	if cfg.RetrievalK <= 0 {
		cfg.RetrievalK = 20
	}
	if cfg.RerankK <= 0 {
		cfg.RerankK = 5
	}
	return &Pipeline{r: r, ret: ret, cfg: cfg}
}

// Run retrieves RetrievalK candidates for query within tenant and re-ranks
// them down to RerankK. Re-ranking is skipped, as in the seed, when
// SkipRerank is set or there are no more candidates than RerankK: the
// candidates then come back in retrieval order with Logits nil and Index
// their retrieval rank.
//
// A MinScore in the configuration needs scores, so with one set the
// candidates are re-ranked however few they are: skipping would pass
// irrelevant chunks on (the seed's "no score threshold" failure mode).
func (p *Pipeline) Run(ctx context.Context, query, tenant string) ([]Result, error) {
	if err := checkQuery(query); err != nil {
		return nil, err
	}
	docs, err := p.ret.Retrieve(ctx, query, tenant, p.cfg.RetrievalK)
	if err != nil {
		return nil, fmt.Errorf("rerank: retrieve: %w", err)
	}
	if len(docs) == 0 {
		return []Result{}, nil
	}
	if p.cfg.SkipRerank || (len(docs) <= p.cfg.RerankK && p.cfg.Rerank.MinScore == nil) {
		res := make([]Result, len(docs))
		for i, d := range docs {
			res[i] = Result{Document: d, Index: i, Window: -1}
		}
		return res, nil
	}
	o := p.cfg.Rerank
	o.TopK = p.cfg.RerankK
	return p.r.Rerank(ctx, query, docs, o)
}
