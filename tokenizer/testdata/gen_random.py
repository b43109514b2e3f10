"""Writes random-unicode.jsonl.gz: random strings drawn from every corner of
Unicode (controls, marks, punctuation old and new, CJK, Hangul, private use,
unassigned, astral planes, the special tokens) and the ids Hugging Face
tokenizers gives them with unicode-bert.json (a 3,000-piece uncased BERT
WordPiece trained on the corpus). It pins the character classes of
hf_unicode.go to the library's behaviour.

Run from this folder with the project venv:
    ~/.cache/crossrank/venv/bin/python gen_random.py
"""
import gzip
import json
import random

from tokenizers import Tokenizer

POOLS = [
    (0x20, 0x7E), (0x00, 0x20), (0x80, 0x24F), (0x300, 0x36F), (0x370, 0x52F), (0x590, 0x6FF), (0x890, 0x8FF),
    (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x1700, 0x17FF), (0x1AB0, 0x1AFF), (0x2000, 0x206F),
    (0x2100, 0x2BFF), (0x2E00, 0x2E7F), (0x3000, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xA700, 0xA7FF),
    (0xAC00, 0xD7A3), (0xE000, 0xE0FF), (0xF900, 0xFAFF), (0xFE00, 0xFE0F), (0xFF00, 0xFFFF), (0x10D00, 0x10EFF),
    (0x11000, 0x11FFF), (0x13430, 0x1345F), (0x16E40, 0x16EFF), (0x1CF00, 0x1CFFF), (0x1D400, 0x1D7FF),
    (0x1F300, 0x1FAFF), (0x20000, 0x2A6DF), (0xE0000, 0xE007F), (0x0378, 0x0379),
]
EXTRA = ["[CLS]", "[SEP]", "[MASK]", "[UNK]", " ", "  ", "\t", "\n", "\r\n", "\u200d", "\u200b", "\ufeff", "\ufffd",
         "İ", "ß", "ǅ", "ﬁ", "Å", "ẞ", "Σ", "e\u0301", "n\u0303", "\u0340", "Ǆ"]


def main():
    rng = random.Random(3)
    tok = Tokenizer.from_file("unicode-bert.json")
    with gzip.GzipFile("random-unicode.jsonl.gz", "wb", mtime=0) as f:
        for _ in range(4000):
            out = []
            for _ in range(rng.randint(0, 40)):
                if rng.random() < 0.15:
                    out.append(rng.choice(EXTRA))
                    continue
                lo, hi = rng.choice(POOLS)
                c = rng.randint(lo, hi)
                if not 0xD800 <= c <= 0xDFFF:
                    out.append(chr(c))
            s = "".join(out)
            f.write((json.dumps({"text": s, "ids": tok.encode(s).ids}) + "\n").encode())


if __name__ == "__main__":
    main()
