"""The OpenAI Python client (openai, pinned in testdata/gen/requirements.txt)
and TEI's request form against crossrank's embedding routes, for
TestPeerOpenAIClient. argv[1] is the server's base URL; stdin is
{"texts": [...], "model": name}; prints {"openai": [[float]], "openai_float":
[[float]], "openai_dims": [[float]], "tei": [[float]], "usage": int}."""
import json
import sys

import httpx
from openai import OpenAI

BASE = sys.argv[1]
req = json.load(sys.stdin)
client = OpenAI(base_url=BASE + "/v1", api_key="unused")

# The client's default: it asks for base64 and decodes the float32 bytes itself.
resp = client.embeddings.create(input=req["texts"], model=req["model"])
as_float = client.embeddings.create(input=req["texts"], model=req["model"], encoding_format="float")
dims = client.embeddings.create(input=req["texts"][0], model=req["model"], dimensions=8)
tei = httpx.post(BASE + "/embed", json={"inputs": req["texts"], "normalize": False}, timeout=30.0)
tei.raise_for_status()
json.dump({
    "openai": [d.embedding for d in sorted(resp.data, key=lambda d: d.index)],
    "openai_float": [d.embedding for d in as_float.data],
    "openai_dims": [d.embedding for d in dims.data],
    "tei": tei.json(),
    "usage": resp.usage.total_tokens,
}, sys.stdout)
