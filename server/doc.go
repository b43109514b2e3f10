// Package server is crossrank's HTTP API: the re-rank endpoints of the
// servers existing clients already talk to (infinity and
// text-embeddings-inference at /rerank, Jina at /v1/rerank, Cohere v2 at
// /v2/rerank, the inference container of Weaviate's reranker-transformers
// module under /weaviate, the Open Inference Protocol v2 of KServe and
// Triton under /v2), model lists, liveness and readiness probes, Prometheus
// metrics and an OpenAPI description, with request limits, a bounded
// queue, optional bearer auth and graceful shutdown.
//
// The server knows nothing about models beyond the Ranker interface, which
// *rerank.Reranker satisfies; its tests use a fake Ranker as well as the
// real one.
package server
