// Package server is crossrank's HTTP API: the re-rank endpoints of the
// servers existing clients already talk to (infinity and
// text-embeddings-inference at /rerank, Jina at /v1/rerank, Cohere v2 at
// /v2/rerank), readiness, Prometheus metrics and an OpenAPI description,
// with request limits, a bounded queue, optional bearer auth and graceful
// shutdown.
//
// The server knows nothing about models beyond the Ranker interface, which
// *rerank.Reranker satisfies; its tests use a fake Ranker as well as the
// real one.
package server
