"""Writes ../hf_unicode.go: the character classes Hugging Face tokenizers
uses in BertNormalizer and BertPreTokenizer, read off the library itself by
running it on every code point.

The Rust library takes its categories from the unicode_categories crate
(an old Unicode version) and its lowercase mapping from Rust's std (a newer
one), so neither matches Go's unicode tables: Go classifies about 150
recent characters as punctuation or marks that tokenizers does not, and
lowercases a few dozen new letters differently. Exact ids need the
library's own classes.

Run from this folder with the project venv (about a minute):
    ~/.cache/crossrank/venv/bin/python gen_unicode.py
"""
import json
import tokenizers
from tokenizers import normalizers, pre_tokenizers
import unicodedata

CPS = [c for c in range(1, 0x110000) if not (0xD800 <= c <= 0xDFFF)]
B = 4000


def removed_by(norm, cands):
    """Code points that norm deletes from 'a' + c + 'a'."""
    out = []
    for i in range(0, len(cands), B):
        chunk = cands[i:i + B]
        s = "".join("a" + chr(c) for c in chunk) + "a"
        if norm.normalize_str(s) == s:
            continue
        out += [c for c in chunk if norm.normalize_str("a" + chr(c) + "a") == "aa"]
    return out


def ranges(cps):
    cps = sorted(set(cps))
    rs = []
    for c in cps:
        if rs and rs[-1][1] == c - 1:
            rs[-1][1] = c
        else:
            rs.append([c, c])
    return rs


def table(name, doc, cps):
    lines = [f"// {doc}", f"var {name} = &unicode.RangeTable{{"]
    r16 = [r for r in ranges(cps) if r[1] <= 0xFFFF]
    r32 = [r for r in ranges(cps) if r[1] > 0xFFFF]
    # A range that straddles 0xFFFF goes to R32 whole (RangeTable allows it there).
    lines.append("\tR16: []unicode.Range16{")
    lines += [f"\t\t{{0x{lo:04x}, 0x{hi:04x}, 1}}," for lo, hi in r16]
    lines.append("\t},")
    if r32:  # gofmt wants no empty literal spread over lines
        lines.append("\tR32: []unicode.Range32{")
        lines += [f"\t\t{{0x{lo:x}, 0x{hi:x}, 1}}," for lo, hi in r32]
        lines.append("\t},")
    latin = sum(1 for lo, hi in r16 if hi <= 0xFF)
    lines.append(f"\tLatinOffset: {latin},")
    lines.append("}")
    return "\n".join(lines)


# clean_text removes these (besides NUL and U+FFFD, which it names).
clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
control = [c for c in removed_by(clean, CPS) if c != 0xFFFD]

# strip_accents removes these after NFD; only characters that are their own
# NFD can reach that filter.
strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
mn = removed_by(strip, [c for c in CPS if unicodedata.normalize("NFD", chr(c)) == chr(c)])

# BertPreTokenizer isolates punctuation: with 'a' between characters, a
# punctuation character comes out as a word of its own.
pre = pre_tokenizers.BertPreTokenizer()
punct = []
for i in range(0, len(CPS), B):
    chunk = CPS[i:i + B]
    for w, _ in pre.pre_tokenize_str("a" + "a".join(chr(c) for c in chunk) + "a"):
        if len(w) == 1 and w != "a":
            punct.append(ord(w))

# The regex classes of the byte-level BPE Split patterns (Qwen2, GPT-2, Llama 3):
# Oniguruma's \p{L}, \p{N} and \s, read off the library by removing each class
# from every code point. Oniguruma's Unicode is newer than Go's (about 5,000
# letters more), so Go's unicode.L would split differently.
def regex_class(pattern):
    sp = pre_tokenizers.Split(tokenizers.Regex(pattern), "removed")
    out = []
    for i in range(0, len(CPS), B):
        chunk = CPS[i:i + B]
        kept = set("".join(w for w, _ in sp.pre_tokenize_str("".join(chr(c) for c in chunk))))
        out += [c for c in chunk if chr(c) not in kept]
    return out


letter, number, space = regex_class(r"\p{L}"), regex_class(r"\p{N}"), regex_class(r"\s")

# Characters tokenizers' NFC/NFD/NFKC/NFKD leave alone and x/text does not:
# tokenizers normalises with an old Unicode (its unicode-normalization-
# alignments crate), so later characters (new combining marks, new
# decompositions) are inert there. The library is probed here (each
# character after "a", after U+0345 (ccc 240) and after U+0334 (ccc 1), and
# x/text's composites recomposed), and normdiff (a Go helper, run with the
# go.mod's x/text) lists where x/text differs.
import subprocess


def norm_probes():
    forms = {"NFC": normalizers.NFC(), "NFD": normalizers.NFD(), "NFKC": normalizers.NFKC(), "NFKD": normalizers.NFKD()}
    probes = {}
    for prefix in ("a", "a\u0345", "a\u0334"):
        for name, n in forms.items():
            m = {}
            for i in range(0, len(CPS), B):
                chunk = CPS[i:i + B]
                outs = n.normalize_str("\x00".join(prefix + chr(c) for c in chunk)).split("\x00")
                assert len(outs) == len(chunk)
                m.update({str(c): o for c, o in zip(chunk, outs) if o != prefix + chr(c)})
            probes[prefix + "|" + name] = m
    # Every canonical composite (by Python's unicodedata), recomposed from its NFD.
    composites = {}
    for name in ("NFC", "NFKC"):
        n = forms[name]
        composites[name] = {str(c): n.normalize_str(unicodedata.normalize("NFD", chr(c)))
                            for c in CPS if unicodedata.normalize("NFD", chr(c)) != chr(c)
                            and unicodedata.normalize("NFC", unicodedata.normalize("NFD", chr(c))) == chr(c)}
    return {"probes": probes, "composites": composites}


diff = json.loads(subprocess.run(["go", "run", "./normdiff"], input=json.dumps(norm_probes()).encode(),
                                 capture_output=True, check=True).stdout)

lower = normalizers.Lowercase()
lmap = []
for i in range(0, len(CPS), B):
    chunk = CPS[i:i + B]
    out = lower.normalize_str("\x00".join(chr(c) for c in chunk)).split("\x00")
    assert len(out) == len(chunk)
    lmap += [(c, o) for c, o in zip(chunk, out) if o != chr(c)]

src = [
    "// Code generated by testdata/gen_unicode.py from tokenizers " + tokenizers.__version__ + "; DO NOT EDIT.",
    "",
    "package tokenizer",
    "",
    'import "unicode"',
    "",
    table("hfControl", "hfControl: what BertNormalizer's clean_text removes (its Cc, Cf, Co; tab, LF, CR excepted).", control),
    "",
    table("hfPunct", "hfPunct: what BertPreTokenizer splits off as punctuation.", punct),
    "",
    table("hfMn", "hfMn: what strip_accents removes after NFD (its nonspacing marks).", mn),
    "",
    table("hfLetter", "hfLetter: what the Split patterns' \\p{L} matches (Oniguruma's letters).", letter),
    "",
    table("hfNumber", "hfNumber: what the Split patterns' \\p{N} matches.", number),
    "",
    table("hfSpace", "hfSpace: what the Split patterns' \\s matches.", space),
    "",
    table("hfInertCanonical", "hfInertCanonical: characters tokenizers' NFC and NFD leave as they are (its Unicode does not have them) and x/text does not.", diff["canonical"]),
    "",
    table("hfInertCompat", "hfInertCompat: the same for NFKC and NFKD.", diff["compat"]),
    "",
    "// hfLower is Rust's char::to_lowercase as tokenizers applies it: each entry",
    "// maps a character to its lowercase string, sorted by character.",
    "var hfLower = []struct {",
    "\tr   rune",
    "\tlow string",
    "}{",
]
for c, o in lmap:
    lit = "".join(f"\\u{ord(x):04x}" if ord(x) <= 0xFFFF else f"\\U{ord(x):08x}" for x in o)
    src.append(f'\t{{0x{c:x}, "{lit}"}},')
src.append("}")
open("../hf_unicode.go", "w").write("\n".join(src) + "\n")
print(len(control), len(punct), len(mn), len(lmap), len(letter), len(number), len(space), len(diff["canonical"]), len(diff["compat"]))
