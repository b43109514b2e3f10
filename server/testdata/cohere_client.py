"""The official Cohere Python SDK (`cohere` on PyPI) against our server, as
a user would point it at a self-hosted re-ranker: base_url set, any model
name. TestPeerCohereSDK passes the server address as argv[1] and the API key
as argv[2]; reads {"query", "documents", "model", "top_n"} on stdin and
prints, for each client, [[index, relevance_score], ...] as the SDK parsed
them. Needs cohere (server/testdata/requirements-peers.txt)."""
import json
import sys

import cohere

BASE, KEY = sys.argv[1], sys.argv[2]
args = json.load(sys.stdin)
out = {}

v2 = cohere.ClientV2(api_key=KEY, base_url=BASE, max_retries=0, timeout=30)
resp = v2.rerank(model=args["model"], query=args["query"], documents=args["documents"], top_n=args["top_n"])
out["v2"] = [[r.index, r.relevance_score] for r in resp.results]

v1 = cohere.Client(api_key=KEY, base_url=BASE, max_retries=0, timeout=30)
resp = v1.rerank(model=args["model"], query=args["query"], documents=args["documents"], top_n=args["top_n"], return_documents=True)
out["v1"] = [[r.index, r.relevance_score, r.document.text if r.document else None] for r in resp.results]

json.dump(out, sys.stdout)
