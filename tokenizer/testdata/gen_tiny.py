"""Writes the tiny tokenizers of the tokenizer package's unit tests and what
Hugging Face tokenizers makes of a few texts with them (tiny-expected.json).

Run from this folder with the project venv:
    ~/.cache/crossrank/venv/bin/python gen_tiny.py
The outputs are committed; go test does not need Python.
"""
import json
import tokenizers
from tokenizers import Tokenizer, AddedToken, models, normalizers, pre_tokenizers, processors

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
}

TEXTS = ["Hello, world!", "unbelievable", "Unbelievableness", "  hello   world  ", "café CAFÉ cafe\u0301",
         "中文a中", "İ", "hello[MASK]world", "hello [MASK] world", "a Day day [day] Dayx", "", "   ",
         "\x00\x0b\x0c\t\u200bhello\ufffd", "abc ab a b", "ABCDEFGHIJKLMN", "héllo wörld", "hello <mask> world",
         "<s>hello</s>", "ａｂ hello", "x\u00a0y", "hello\u3000world", "abc123 x!!?! ,,a", "hello!, world!! a,b",
         "<mask>   hello <mask>world", "Ab12Xy ÀB x\u0301y"]
PAIRS = [("Hello", "world!"), ("unbelievable world", "a b c a b c a b c a b c"), ("", "hello")]

out = {"tokenizers_version": tokenizers.__version__, "cases": []}
for name, t in TOKS.items():
    t.save(name)
    t = Tokenizer.from_file(name)
    for s in TEXTS:
        e = t.encode(s)
        out["cases"].append({"tokenizer": name, "text": s, "ids": e.ids, "type_ids": e.type_ids})
    for q, d in PAIRS:
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
json.dump(out, open("tiny-expected.json", "w"), ensure_ascii=False, indent=0)
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
}
tf = {"transformers_version": __import__("transformers").__version__, "cases": []}
for name, (src, cfg) in FOLDERS.items():
    shutil.rmtree(name, ignore_errors=True)
    os.makedirs(name)
    shutil.copyfile(src, os.path.join(name, "tokenizer.json"))
    json.dump(cfg, open(os.path.join(name, "tokenizer_config.json"), "w"), indent=1)
    tok = AutoTokenizer.from_pretrained(name)
    for s in TEXTS:
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
json.dump(tf, open("tiny-expected-transformers.json", "w"), ensure_ascii=False, indent=0)
print(len(tf["cases"]))
