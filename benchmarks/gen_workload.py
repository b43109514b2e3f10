#!/usr/bin/env python3
"""Writes benchmarks/workload.json: the one workload every contender scores.

The workload fixes token ids, so every contender runs the same sequences and
tokenization is not timed. For the contenders that only take text (the HTTP
server, hugot) each query and document also carries a text made of whole
vocabulary words, checked here to tokenize back to exactly the same ids with
the family's tokenizer (Hugging Face tokenizers, the reference).

Families (the ids are valid for every model of the family, whatever its
weights):
  bert  WordPiece, the real 30,522-token uncased vocab of the ms-marco-MiniLM
        cross-encoders (testdata/tokenizers/minilm-real);
        pair = [CLS] q [SEP] d [SEP], token types 0 then 1.
  xlmr  the fixture XLM-R Unigram tokenizer (testdata/models/xlmr, 4,002
        pieces; the bge-rerankers' 250,002-piece vocab is not reachable here,
        and the ids only index the embedding table, so speed is the same);
        pair = <s> q </s></s> d </s>, token types 0.

Sets: query of 12 tokens; N = 20 and N = 100 documents of 32..256 tokens
(lognormal, median 96, sigma 0.55, clipped: short retrieval passages); and a
long set, N = 20 documents of 512..2048 tokens, for bge-reranker-v2-m3.
Lengths count the document's own tokens, special tokens excluded.

usage: python benchmarks/gen_workload.py [--out benchmarks/workload.json]
"""

import argparse
import json
import os
import re

import numpy as np
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20261126
QUERY_TOKENS = 12

FAMILIES = {
    "bert": {
        "tokenizer": "testdata/tokenizers/minilm-real/tokenizer.json",
        "word": re.compile(r"^[a-z]{2,}$"),
        "prefix": "",
    },
    "xlmr": {
        "tokenizer": "testdata/models/xlmr/tokenizer.json",
        "word": re.compile(r"^\u2581[^\W\d_]{2,}$"),
        "prefix": "\u2581",
    },
}

# (name, n, lo, hi, median, sigma, families)
SETS = [
    ("short", 20, 32, 256, 96, 0.55, ["bert", "xlmr"]),
    ("short", 100, 32, 256, 96, 0.55, ["bert", "xlmr"]),
    ("long", 20, 512, 2048, 1024, 0.45, ["xlmr"]),
]


def safe_words(tok, fam):
    """Vocabulary entries that are whole words and tokenize alone to their own id."""
    vocab = tok.get_vocab()
    words = []
    for piece, i in sorted(vocab.items(), key=lambda kv: kv[1]):
        if not fam["word"].match(piece):
            continue
        text = piece[len(fam["prefix"]):]
        if tok.encode(text, add_special_tokens=False).ids == [i]:
            words.append((i, text))
    return words


def draw_lengths(rng, n, lo, hi, median, sigma):
    x = rng.lognormal(np.log(median), sigma, size=n)
    return [int(v) for v in np.clip(np.rint(x), lo, hi)]


def sentence(rng, words, n):
    pick = rng.integers(0, len(words), size=n)
    ids = [words[j][0] for j in pick]
    text = " ".join(words[j][1] for j in pick)
    return ids, text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "workload.json"))
    args = ap.parse_args()

    out = {
        "version": 1,
        "seed": SEED,
        "about": "crossrank benchmark workload, written by benchmarks/gen_workload.py: "
        "token ids fixed for every contender; text tokenizes to the same ids "
        "with the family's tokenizer. doc lengths exclude special tokens.",
        "query_tokens": QUERY_TOKENS,
        "families": {},
        "sets": [],
    }
    toks = {}
    for name, fam in FAMILIES.items():
        tok = Tokenizer.from_file(os.path.join(ROOT, fam["tokenizer"]))
        tok.no_truncation()
        tok.no_padding()
        toks[name] = tok
        words = safe_words(tok, fam)
        if len(words) < 500:
            raise SystemExit(f"{name}: only {len(words)} round-trip words")
        enc = tok.encode("a", "b")
        out["families"][name] = {
            "tokenizer": fam["tokenizer"],
            "words": len(words),
            "template": enc.tokens,
        }
        fam["words"] = words

    for si, (set_name, n, lo, hi, median, sigma, fams) in enumerate(SETS):
        for fam_name in fams:
            # One stream per (set, family): lengths are the same for every
            # family of a set, the words differ.
            lens_rng = np.random.default_rng([SEED, si])
            rng = np.random.default_rng([SEED, si, list(FAMILIES).index(fam_name)])
            lens = draw_lengths(lens_rng, n, lo, hi, median, sigma)
            words = FAMILIES[fam_name]["words"]
            tok = toks[fam_name]
            q_ids, q_text = sentence(rng, words, QUERY_TOKENS)
            docs = []
            for L in lens:
                d_ids, d_text = sentence(rng, words, L)
                enc = tok.encode(q_text, d_text)
                # The pair the model sees, checked against the tokenizer.
                if enc.ids[1 : 1 + QUERY_TOKENS] != q_ids:
                    raise SystemExit(f"{fam_name}: query does not round-trip")
                tail = enc.ids[len(enc.ids) - 1 - L : len(enc.ids) - 1]
                if tail != d_ids:
                    raise SystemExit(f"{fam_name}: document does not round-trip")
                docs.append(
                    {"text": d_text, "input_ids": enc.ids, "token_type_ids": enc.type_ids}
                )
            out["sets"].append(
                {
                    "name": set_name,
                    "family": fam_name,
                    "n": n,
                    "doc_tokens": lens,
                    "query": q_text,
                    "pairs": docs,
                }
            )

    with open(args.out, "w") as f:
        # One pair per line keeps the file diffable and small.
        f.write("{\n")
        keys = [k for k in out if k != "sets"]
        for k in keys:
            f.write(f"  {json.dumps(k)}: {json.dumps(out[k])},\n")
        f.write('  "sets": [\n')
        for i, s in enumerate(out["sets"]):
            head = {k: v for k, v in s.items() if k != "pairs"}
            f.write("    " + json.dumps(head)[:-1] + ', "pairs": [\n')
            for j, p in enumerate(s["pairs"]):
                f.write("      " + json.dumps(p, ensure_ascii=False) + (",\n" if j + 1 < len(s["pairs"]) else "\n"))
            f.write("    ]}" + (",\n" if i + 1 < len(out["sets"]) else "\n"))
        f.write("  ]\n}\n")
    total = sum(len(p["input_ids"]) for s in out["sets"] for p in s["pairs"])
    print(f"wrote {args.out}: {len(out['sets'])} sets, {total} tokens")


if __name__ == "__main__":
    main()
