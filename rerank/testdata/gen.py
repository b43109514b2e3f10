"""Reference data for rerank's own tests, made with the Hugging Face stack.

1. Windows for the long-document option (windows-<model>.jsonl):

For each fixture model, Hugging Face tokenizers splits long documents into
overlapping windows beside the query (truncation="only_second",
return_overflowing_tokens=True, stride = tokens shared by neighbouring
windows), and transformers scores every window on its own. The Go test
checks that Options.LongDocs makes the same windows and gives each document
its best window's score.

2. Pairs truncated from the left (left-<model>.jsonl): truncation_side="left",
for RerankOptions.TruncateLeft.

    ~/.cache/crossrank/venv/bin/python rerank/testdata/gen.py

3. sentence-transformers' rank on the real-weights MiniLM model, when
~/.cache/crossrank/real has it (real-rank.jsonl, for make test-real).

It rewrites rerank/testdata/{windows,left}-<model>.jsonl and real-rank.jsonl.
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
        write(f"windows-{name}.jsonl", out)

        left = AutoTokenizer.from_pretrained(d, truncation_side="left")
        out = []
        for strategy in ["longest_first", "only_second"]:
            for max_length in [24, 48]:
                for q, doc in cases:
                    enc = left(q, doc, truncation=strategy, max_length=max_length)
                    out.append({"query": q, "document": doc, "truncation": strategy, "max_length": max_length,
                                "input_ids": enc["input_ids"]})
        write(f"left-{name}.jsonl", out)


def write(name, records):
    with open(os.path.join(ROOT, "rerank", "testdata", name), "w") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")



def real():
    """3. sentence-transformers' rank on the real-weights MiniLM cross-encoder
    (make test-real; CROSSRANK_REAL), written to real-rank.jsonl."""
    from sentence_transformers import CrossEncoder

    d = os.path.join(os.path.expanduser("~/.cache/crossrank/real"), "minilm-cross")
    ce = CrossEncoder(d, device="cpu")
    query = "Who wrote 'To Kill a Mockingbird'?"
    docs = [
        "'To Kill a Mockingbird' is a novel by Harper Lee published in 1960.",
        "The novel 'Moby-Dick' was written by Herman Melville and first published in 1851.",
        "Harper Lee, an American novelist widely known for her novel 'To Kill a Mockingbird', was born in 1926.",
        "Jane Austen was an English novelist known primarily for her six major novels.",
        "",
        "The 'Harry Potter' series was written by British author J.K. Rowling.",
    ]
    lines = [json.loads(l)["text"] for l in open(os.path.join(ROOT, "testdata", "corpus.jsonl"))]
    docs += [t for t in lines if t.strip()][:24]
    ranked = ce.rank(query, docs)
    write("real-rank.jsonl", [{"query": query, "documents": docs,
                               "rank": [{"corpus_id": int(r["corpus_id"]), "score": float(r["score"])} for r in ranked]}])


if __name__ == "__main__":
    main()
    if os.path.isdir(os.path.expanduser("~/.cache/crossrank/real/minilm-cross")):
        real()
