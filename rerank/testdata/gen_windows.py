"""Reference windows for rerank's long-document option.

For each fixture model, Hugging Face tokenizers splits long documents into
overlapping windows beside the query (truncation="only_second",
return_overflowing_tokens=True, stride = tokens shared by neighbouring
windows), and transformers scores every window on its own. The Go test
checks that Options.LongDocs makes the same windows and gives each document
its best window's score.

    ~/.cache/crossrank/venv/bin/python rerank/testdata/gen_windows.py

Run from the repository root; it rewrites rerank/testdata/windows-<model>.jsonl.
"""
import json
import os
import random

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = [  # (max_length, stride)
    (64, 16),
    (48, 0),
]


def main():
    lines = [json.loads(l)["text"] for l in open(os.path.join(ROOT, "testdata", "corpus.jsonl"))]
    lines = [t for t in lines if t.strip()]
    rng = random.Random(6)
    toks = [AutoTokenizer.from_pretrained(os.path.join(ROOT, "testdata", "models", n)) for n in ["bert", "xlmr"]]
    # Queries short enough for every window to hold more document than query
    # (the re-ranker keeps a query to half the room; Hugging Face does not).
    short = [t for t in lines if all(len(k(t, add_special_tokens=False)["input_ids"]) <= 12 for k in toks)]
    cases = []
    for i in range(8):
        q = rng.choice(short)
        n = 1 if i == 0 else rng.randint(3, 8)  # the first fits in one piece
        doc = " ".join(rng.choice(lines) for _ in range(n))
        cases.append((q, doc))
    torch.manual_seed(0)
    for name in ["bert", "xlmr"]:
        d = os.path.join(ROOT, "testdata", "models", name)
        tok = AutoTokenizer.from_pretrained(d)
        model = AutoModelForSequenceClassification.from_pretrained(d).eval()
        out = []
        for max_length, stride in CONFIGS:
            for q, doc in cases:
                enc = tok(q, doc, truncation="only_second", max_length=max_length, stride=stride,
                          return_overflowing_tokens=True)
                windows = []
                types_all = enc.get("token_type_ids") or [None] * len(enc["input_ids"])
                for ids, types in zip(enc["input_ids"], types_all):
                    kw = {} if types is None else {"token_type_ids": torch.tensor([types])}
                    with torch.no_grad():
                        logits = model(input_ids=torch.tensor([ids]), **kw).logits[0]
                    windows.append({"input_ids": ids, "logits": [float(x) for x in logits]})
                out.append({"query": q, "document": doc, "max_length": max_length, "stride": stride,
                            "fits": len(windows) == 1, "windows": windows})
        with open(os.path.join(ROOT, "rerank", "testdata", f"windows-{name}.jsonl"), "w") as f:
            for r in out:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
