package rerank

import "context"

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
// candidates then come back in retrieval order with Logits nil.
func (p *Pipeline) Run(ctx context.Context, query, tenant string) ([]Result, error) {
	return nil, errNotImplemented
}
