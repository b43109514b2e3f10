// Package rerank re-ranks documents for a query with a cross-encoder: the
// second stage of retrieval-augmented generation, after a fast first-stage
// retriever.
//
// A Reranker is loaded once per model (New, or Shared for a process-wide
// singleton) and is safe for concurrent use; concurrent calls share batches.
// Rerank keeps each document's ID and metadata, reports the raw logits, the
// score (by default the one sentence-transformers' CrossEncoder.predict
// gives), and whether and by how much each document was truncated. Long
// documents can be scored by their best window instead of being cut.
// Pipeline runs retrieve-then-rerank, with the in-memory BM25 retriever when
// there is no other.
//
// # Coming from sentence-transformers
//
//	get_reranker()                            Shared(ctx, model, Options{})
//	CrossEncoder(name, device, max_length)    New(ctx, name, Options{MaxLength: n})  // device: CUDA if built and present, else CPU
//	reranker.predict(pairs, batch_size)       r.Score(ctx, pairs)  // Options.BatchSize, default 32
//	rerank(query, chunks, top_k)              r.RerankStrings(ctx, query, chunks, RerankOptions{TopK: k})
//	rerank_chunks(query, chunk_dicts, top_k)  r.Rerank(ctx, query, docs, RerankOptions{TopK: k})
//	truncate_for_reranker(query_budget)       Options{QueryBudget: 128}  // in the model's tokens, not tiktoken's
//	rerank_with_threshold(min_score)          RerankOptions{MinScore: new(0.0), MinScoreScale: ScaleLogit}
//	rerank_async(...)                         any goroutine; concurrent calls are batched together
//	retrieve_and_rerank / run_pipeline        r.Pipeline(retriever, PipelineConfig{}).Run(ctx, query, tenant)
//	rerank_remote (infinity-emb)              crossrank serve, POST /rerank
//
// # The seed's failure modes, handled here
//
//   - Scores all low, or good chunks scored poorly, because of truncation:
//     every Result says how many tokens were cut (Truncated,
//     QueryTruncated), a warning is logged when documents are cut, and
//     Options.LongDocs scores a long document by its best window instead.
//   - Latency: pairs are sorted by length and packed without padding, and
//     concurrent calls fill each other's batches (Options.BatchWait bounds
//     the wait).
//   - No score threshold: RerankOptions.MinScore, on the scale you name
//     (the activated score or the raw logit), and a pipeline with a
//     threshold re-ranks even a few candidates rather than pass them on
//     unscored.
//   - Model loaded per request: Shared, and a warning when a model is
//     loaded again while it is already open.
//   - GPU out of memory on a large batch: the batch is halved and retried,
//     and later batches stay under the size that fitted.
package rerank
