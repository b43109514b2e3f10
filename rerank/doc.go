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
// Pipeline runs the seed's retrieve-then-rerank, with the in-memory BM25
// retriever when there is no other.
package rerank
