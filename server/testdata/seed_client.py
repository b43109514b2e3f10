"""The seed's rerank_remote (reranking-for-rag.txt), unchanged but for the
server address, which TestPeerSeedClient passes as argv[1]. Reads a JSON
{"query", "chunks", "top_k"} on stdin and prints rerank_remote's return value
as JSON. Needs httpx (pip install httpx)."""
import json
import sys

import httpx

BASE = sys.argv[1]


def rerank_remote(
    query: str,
    chunks: list[str],
    top_k: int = 5,
) -> list[dict]:
    resp = httpx.post(
        BASE + "/rerank",
        json={
            "query": query,
            "documents": chunks,
            "model": "BAAI/bge-reranker-base",
        },
        timeout=30.0,
    )
    results = resp.json()["results"]
    # results: [{"index": 0, "relevance_score": 0.92}, ...]
    ranked = sorted(results, key=lambda x: x["relevance_score"], reverse=True)
    return [
        {
            "content": chunks[r["index"]],
            "rerank_score": r["relevance_score"],
        }
        for r in ranked[:top_k]
    ]


args = json.load(sys.stdin)
json.dump(rerank_remote(args["query"], args["chunks"], args["top_k"]), sys.stdout)
