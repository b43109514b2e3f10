"""Writes the tiny tokenizers of the tokenizer package's unit tests and what
Hugging Face tokenizers makes of a few texts with them (tiny-expected.json).

Run from this folder with the project venv:
    ~/.cache/crossrank/venv/bin/python gen_tiny.py
The outputs are committed; go test does not need Python.
"""
import json
import tokenizers
from tokenizers import Tokenizer, AddedToken, decoders, models, normalizers, pre_tokenizers, processors, trainers

WP_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "un", "##believ", "##able",
            "the", "cafe", "!", ",", "a", "##b", "##c", "b", "c", "中", "文", "i", "##̇", "day", "[day]"]

def wordpiece():
    t = Tokenizer(models.WordPiece({w: i for i, w in enumerate(WP_VOCAB)}, unk_token="[UNK]",
                                   max_input_chars_per_word=12))
    t.normalizer = normalizers.BertNormalizer(lowercase=True)
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    t.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    t.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", AddedToken("[MASK]", lstrip=True, rstrip=True)])
    t.add_tokens([AddedToken("Day", normalized=True, single_word=True)])
    return t

def wordpiece_bertproc():
    t = wordpiece()
    t.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    return t

UG = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0), ("▁hello", -3.0),
      ("▁world", -3.5), ("▁he", -4.0), ("llo", -4.0), ("h", -5.0), ("e", -5.0), ("l", -5.0), ("o", -5.0),
      ("▁w", -4.5), ("orld", -4.6), ("▁a", -3.0), ("a", -4.0), ("b", -4.0), ("ab", -7.5), ("<0xC3>", -9.0),
      ("<0xA9>", -9.0), ("<mask>", 0.0)]

def unigram(byte_fallback, proc):
    t = Tokenizer(models.Unigram(UG, unk_id=3, byte_fallback=byte_fallback))
    t.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Strip(left=False, right=True),
                                         normalizers.Replace(tokenizers.Regex(" {2,}"), "▁")])
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    t.post_processor = proc
    t.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", AddedToken("<mask>", lstrip=True)])
    return t

def misc_wordpiece():
    # The rarer components, for coverage: NFD + StripAccents + Lowercase +
    # a literal Replace; Whitespace, contiguous Punctuation, single Digits.
    vocab = WP_VOCAB + ["1", "2", "3", "!!", "?!", "y", "##y", "ab", "##ab"]
    t = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    t.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(), normalizers.Lowercase(),
                                         normalizers.Replace("x", "y")])
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                               pre_tokenizers.Punctuation(behavior="contiguous"),
                                               pre_tokenizers.Digits(individual_digits=True)])
    t.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    return t


def misc_unigram(behavior, scheme, split):
    t = Tokenizer(models.Unigram(UG + [("!", -3.0), ("▁!", -3.5), (",", -3.0)], unk_id=3, byte_fallback=False))
    t.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.NFC(), normalizers.Strip(left=True, right=False)])
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                               pre_tokenizers.Punctuation(behavior=behavior),
                                               pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme,
                                                                        split=split)])
    t.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    t.add_special_tokens(["<s>", "</s>", AddedToken("<mask>", rstrip=True)])
    return t


BPE_CORPUS = ["Hello, world! Hello there.", "unbelievable things happen", "The cafe, the café.", "中文 text 123 4567",
              "it's they're we've don't", "  spaces   and\ttabs\n\nnew lines", "emoji 😀 and ñ"]


def bpe_bytelevel():
    # RoBERTa-style: add_prefix_space, RobertaProcessing, <mask> with lstrip.
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    t.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=320, show_progress=False, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t.train_from_iterator(BPE_CORPUS, tr)
    t.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), add_prefix_space=True)
    t.add_special_tokens([AddedToken("<mask>", lstrip=True)])
    return t


def bpe_vocab(tokens):
    return {w: i for i, w in enumerate(tokens)}


def bpe_fallback(fuse):
    # Llama-2-style: no pre-tokenizer, spaces as ▁, byte_fallback for some bytes only, unk for the rest.
    toks = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in (0xC3, 0xA9, 0xE4, 0xB8, 0xAD)] + \
        ["▁", "h", "e", "l", "o", "w", "r", "d", "a", "b", "he", "ll", "llo", "hello", "▁hello", "▁w", "or", "▁wor",
         "▁world", "ld", "ab", "▁a"]
    merges = ["h e", "l l", "ll o", "he llo", "▁ hello", "▁ w", "o r", "▁w or", "l d", "▁wor ld", "a b", "▁ a"]
    t = Tokenizer(models.BPE(bpe_vocab(toks), [tuple(m.split(" ")) for m in merges], unk_token="<unk>",
                             byte_fallback=True, fuse_unk=fuse))
    t.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    t.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B:1",
                                                     special_tokens=[("<s>", 1)])
    t.add_special_tokens(["<unk>", "<s>", "</s>"])
    return t


def bpe_suffix():
    # WordPiece-like BPE: continuing_subword_prefix, end_of_word_suffix, ignore_merges.
    toks = ["[UNK]", "[CLS]", "[SEP]", "h", "##e", "##l", "##o", "##l</w>", "##o</w>", "w", "##r", "##d</w>",
            "he", "hel", "hell", "hello</w>", "un", "u", "##n", "a</w>", "b</w>", "ab</w>", "a", "##b</w>", "world</w>",
            "worl", "wo", "wor", "##d", "hello"]
    merges = [("h", "##e"), ("he", "##l"), ("hel", "##l"), ("hell", "##o</w>"), ("u", "##n"), ("a", "##b</w>"),
              ("w", "##o"), ("wo", "##r"), ("wor", "##l"), ("worl", "##d</w>")]
    t = Tokenizer(models.BPE(bpe_vocab(toks), merges, unk_token="[UNK]", continuing_subword_prefix="##",
                             end_of_word_suffix="</w>", ignore_merges=True))
    t.normalizer = normalizers.Lowercase()
    t.pre_tokenizer = pre_tokenizers.Whitespace()
    t.post_processor = processors.BertProcessing(("[SEP]", 2), ("[CLS]", 1))
    t.add_special_tokens(["[UNK]", "[CLS]", "[SEP]"])
    return t


# Split pre-tokenizers, on their own (no model): a literal and a regex Go's
# regexp can run, each behaviour, inverted or not. split-expected cases hold
# the pieces the library gives.
SPLITS = [pre_tokenizers.Split(" ", behavior="merged_with_next")] + [
    pre_tokenizers.Split(tokenizers.Regex(r"\p{N}{1,2}|[!?.,]+"), behavior=b, invert=inv)
    for b, inv in (("isolated", False), ("removed", False), ("removed", True), ("contiguous", False),
                   ("contiguous", True), ("merged_with_previous", True), ("merged_with_next", False))] + [
    # \s, \p{L}, \p{N} are Oniguruma's (Unicode whitespace; Unicode 16 letters such as U+1C89).
    pre_tokenizers.Split(tokenizers.Regex(r"\s+|\p{L}+"), behavior="isolated"),
    pre_tokenizers.Split(tokenizers.Regex(r"[^\s\p{L}\p{N}]+|\P{L}"), behavior="merged_with_previous"),
    pre_tokenizers.Split(tokenizers.Regex(r"\S{2}|\p{N}"), behavior="removed", invert=True)]
SPLIT_TEXTS = ["hi 12345 a1b22c333 !?.. x, y", "  a  b ", "", "...x...", "a,b.c!d?",
               "\u1c89\u1c8a x\u00a0y\u3000z\u2028\U000105c0w ٣4 ¿é?"]


TOKS = {
    "tiny-misc-wordpiece.json": misc_wordpiece(),
    "tiny-misc-unigram-first.json": misc_unigram("merged_with_previous", "first", True),
    "tiny-misc-unigram-never.json": misc_unigram("merged_with_next", "never", False),
    "tiny-misc-unigram-removed.json": misc_unigram("removed", "always", True),
    "tiny-wordpiece.json": wordpiece(),
    "tiny-bert/tokenizer.json": wordpiece_bertproc(),
    "tiny-unigram.json": unigram(False, processors.RobertaProcessing(("</s>", 2), ("<s>", 0))),
    "tiny-unigram-bytefallback.json": unigram(True, processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])),
    "tiny-bpe-bytelevel.json": bpe_bytelevel(),
    "tiny-bpe-fallback.json": bpe_fallback(True),
    "tiny-bpe-fallback-nofuse.json": bpe_fallback(False),
    "tiny-bpe-suffix.json": bpe_suffix(),
}
# Compact files for the BPE ones (the fixture budget); the others as before.
COMPACT = {n for n in TOKS if n.startswith("tiny-bpe-")}
PAIR_BPE = {"tiny-bpe-bytelevel.json"}

TEXTS = ["Hello, world!", "unbelievable", "Unbelievableness", "  hello   world  ", "café CAFÉ cafe\u0301",
         "中文a中", "İ", "hello[MASK]world", "hello [MASK] world", "a Day day [day] Dayx", "", "   ",
         "\x00\x0b\x0c\t\u200bhello\ufffd", "abc ab a b", "ABCDEFGHIJKLMN", "héllo wörld", "hello <mask> world",
         "<s>hello</s>", "ａｂ hello", "x\u00a0y", "hello\u3000world", "abc123 x!!?! ,,a", "hello!, world!! a,b",
         "<mask>   hello <mask>world", "Ab12Xy ÀB x\u0301y"]
# The BPE tokenizers get the texts that reach their features (the budget for fixtures).
BPE_TEXTS = ["Hello, world!", "unbelievable", "  hello   world  ", "café CAFÉ cafe\u0301", "", "   ", "abc ab a b",
             "hello <mask> world", "<s>hello</s>", "<mask>   hello <mask>world", "Ab12Xy ÀB x\u0301y",
             "hello world héllo 中文 x中y", "worldab helloa abab", "hi 12345 a1b22c333 !?.. x, y", "it's  spaces\n\nx 😀"]
PAIRS = [("Hello", "world!"), ("unbelievable world", "a b c a b c a b c a b c"), ("", "hello")]

def dump_cases(doc, path):
    """One case per line: compact, and a diff still shows which cases changed."""
    head = {k: v for k, v in doc.items() if k != "cases"}
    with open(path, "w") as f:
        f.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in doc["cases"]))
        f.write("\n]}\n")


out = {"tokenizers_version": tokenizers.__version__, "cases": []}
for name, t in TOKS.items():
    t.save(name, pretty=name not in COMPACT)
    t = Tokenizer.from_file(name)
    for s in TEXTS if name not in COMPACT else BPE_TEXTS:
        e = t.encode(s)
        c = {"tokenizer": name, "text": s, "ids": e.ids, "type_ids": e.type_ids}
        if name in COMPACT:
            c["decoded"] = t.decode(e.ids, skip_special_tokens=False)
            skip = t.decode(e.ids, skip_special_tokens=True)
            if skip != c["decoded"]:
                c["decoded_skip_special"] = skip
        out["cases"].append(c)
    # Truncation does not depend on the model: the pairs run on the older tokenizers and one BPE one.
    for q, d in PAIRS if name not in COMPACT or name in PAIR_BPE else []:
        for strat in ["longest_first", "only_first", "only_second"]:
            for ml in [5, 8, 64]:
                t.enable_truncation(ml, strategy=strat)
                c = {"tokenizer": name, "query": q, "document": d, "strategy": strat, "max_length": ml}
                try:
                    e = t.encode(q, d)
                    c["ids"], c["type_ids"] = e.ids, e.type_ids
                except Exception as ex:
                    c["error"] = str(ex)
                out["cases"].append(c)
        t.no_truncation()
for sp in SPLITS:
    out["cases"].append({"pre_tokenizer": json.loads(sp.__getstate__()), "texts": SPLIT_TEXTS,
                         "pieces": [[w for w, _ in sp.pre_tokenize_str(s)] for s in SPLIT_TEXTS]})
# The four Unicode normal forms on their own: tokenizers' tables are older than
# x/text's (U+0823 U+0D3B are not reordered, U+11935 U+11930 not composed).
NORM_TEXTS = ["a\u0823\u0d3b", "e\u0301\u0323", "\U00011935\U00011930", "ﬁ Ⅻ ½ ẛ\u0323", "\u1e9b\u0345\u1ac0",
              "한국어 \u1112\u1161\u11ab", "Å Å", "\u0958\u0915\u093c", "x\u0898\u0301y"]
for name in ("NFC", "NFD", "NFKC", "NFKD"):
    n = getattr(normalizers, name)()
    out["cases"].append({"normalizer": json.loads(n.__getstate__()), "texts": NORM_TEXTS,
                         "normalized": [n.normalize_str(t) for t in NORM_TEXTS]})
dump_cases(out, "tiny-expected.json")
print(len(out["cases"]))

# transformers 5 rebuilds BERT and XLM-R tokenizers from tokenizer_config.json
# (normalizer flags, pre-tokenizer, post-processor) rather than taking
# tokenizer.json whole. These folders make the two disagree on purpose.
import os
import shutil
from transformers import AutoTokenizer

FOLDERS = {
    # tokenizer.json lowercases; the config says cased, no accent stripping.
    "tf-bert-cased": ("tiny-bert/tokenizer.json", {"tokenizer_class": "BertTokenizer", "do_lower_case": False,
                                                   "model_max_length": 512}),
    # the config keeps lowercase but turns off Chinese splitting.
    "tf-bert-nochinese": ("tiny-bert/tokenizer.json", {"tokenizer_class": "BertTokenizer",
                                                       "tokenize_chinese_chars": False}),
    # tokenizer.json has NFKC + Strip + Replace and a Roberta post-processor;
    # transformers keeps only a Precompiled normaliser (none here).
    "tf-xlmr": ("tiny-unigram.json", {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512}),
    "tf-xlmr-noprefix": ("tiny-unigram.json", {"tokenizer_class": "XLMRobertaTokenizer", "add_prefix_space": False}),
    # A byte-level BPE whose tokenizer.json has another pipeline than Qwen2's: transformers
    # keeps its vocabulary, merges and post-processor and rebuilds NFC + Qwen2's Split + ByteLevel.
    "tf-qwen2": ("tiny-bpe-bytelevel.json", {"tokenizer_class": "Qwen2Tokenizer"}),
    "tf-qwen2-prefix": ("tiny-bpe-bytelevel.json", {"tokenizer_class": "Qwen2TokenizerFast", "add_prefix_space": True}),
}
tf = {"transformers_version": __import__("transformers").__version__, "cases": []}
for name, (src, cfg) in FOLDERS.items():
    shutil.rmtree(name, ignore_errors=True)
    os.makedirs(name)
    # A link, not a copy: the same bytes, outside the fixture budget (as the
    # checkpoints of testdata/models share their tokenizer.json).
    os.symlink(os.path.relpath(src, name), os.path.join(name, "tokenizer.json"))
    json.dump(cfg, open(os.path.join(name, "tokenizer_config.json"), "w"), indent=1)
    tok = AutoTokenizer.from_pretrained(name)
    for s in TEXTS if "qwen2" not in name else BPE_TEXTS:
        if not s:
            continue
        e = tok(s)
        tf["cases"].append({"tokenizer": name, "text": s, "ids": e["input_ids"],
                            "type_ids": e.get("token_type_ids", [0] * len(e["input_ids"]))})
    for q, d in PAIRS:
        if not d:
            continue
        e = tok(q, d, truncation="longest_first", max_length=8)
        tf["cases"].append({"tokenizer": name, "query": q, "document": d, "strategy": "longest_first", "max_length": 8,
                            "ids": e["input_ids"], "type_ids": e.get("token_type_ids", [0] * len(e["input_ids"]))})
dump_cases(tf, "tiny-expected-transformers.json")
print(len(tf["cases"]))
