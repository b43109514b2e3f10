"""ModernBERT re-ranker fixtures: tiny ModernBertForSequenceClassification checkpoints.

Called by generate.py (step "modernbert"); also runs alone:

    python testdata/gen/modernbert.py --out testdata

Writes, all computed by transformers / tokenizers / sentence-transformers
(nothing by crossrank):

- models/modernbert: classifier_pooling "cls", stored float32, no biases
  anywhere but the classifier's (norm_bias, attention_bias, mlp_bias,
  classifier_bias false, as in answerdotai/ModernBERT-base and
  Alibaba-NLP/gte-reranker-modernbert-base), global attention every 2nd layer,
  a local window of 16 tokens; config.json in the form the Hub ships
  (transformers 4.48: global_attn_every_n_layers, global_rope_theta,
  local_rope_theta, torch_dtype; no layer_types, no rope_parameters).
- models/modernbert-mean: classifier_pooling "mean", stored bfloat16, every bias
  on, layer types sliding/full/sliding (a pattern global_attn_every_n_layers
  cannot express), a window of 32, other RoPE thetas; config.json as
  transformers 5 writes it (layer_types, rope_parameters per layer type).
- golden/modernbert.json: what the goldens were made with (max_length, windows,
  each model's folder and files, spreads).
- golden/modernbert-logits-<model>.jsonl.gz: logits of the pairs, eager attention.
- golden/modernbert-hidden-<model>.jsonl.gz: per-layer hidden states of one pair past both windows.
- golden/modernbert-rank-<model>.jsonl.gz: sentence-transformers CrossEncoder scores and rank.
- golden/modernbert-tokens.jsonl.gz: the tokenizer on corpus pairs, cut and uncut.

The tokenizer is a byte-level BPE trained with tokenizers on the corpus in
ModernBERT's pipeline (NFC, ByteLevel with GPT-2's regex, the template
[CLS] $A [SEP] $B [SEP], ByteLevel decoder) with ModernBERT's added tokens after
the learnt vocab. Both checkpoints share it (modernbert-mean links to
modernbert's tokenizer.json).
"""

import os
import sys

sys.dont_write_bytecode = True

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

SEED = 20261204
VOCAB = 360  # trained tokens (256 bytes + merges + 2 trainer specials); added tokens come after
MAX_LENGTH = 128  # max_position_embeddings and model_max_length: a few documents are cut
N_PAIRS = 24
BATCH = 6
N_TOKEN_PAIRS = 100
TOKEN_MAX_LENGTHS = (24, 64)
N_RANK_QUERIES = 4
N_RANK_DOCS = 8
MIN_SPREAD = 2.0

TINY = dict(hidden_size=32, intermediate_size=32, num_hidden_layers=3, num_attention_heads=4,
            hidden_activation="gelu", classifier_activation="gelu", max_position_embeddings=MAX_LENGTH,
            norm_eps=1e-5, initializer_cutoff_factor=2.0)

MODELS = {
    "modernbert": dict(seed=SEED + 1, pooling="cls", dtype=torch.float32, hub_form=True, every=2,
                       local_attention=16, global_theta=160000.0, local_theta=10000.0, bias=False),
    "modernbert-mean": dict(seed=SEED + 2, pooling="mean", dtype=torch.bfloat16, hub_form=False,
                            layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                            local_attention=32, global_theta=80000.0, local_theta=5000.0, bias=True),
}
FIRST = "modernbert"

# ModernBERT's added tokens (answerdotai/ModernBERT-base tokenizer.json): whitespace
# runs and the IP placeholder as normalised non-special tokens, then the specials;
# [MASK] strips the space before it.
PLAIN_ADDED = ["|||IP_ADDRESS|||", "    ", "  "]
SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]


def log(*a):
    import time
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def f32(x):
    return float(np.float32(x))


def floats(t):
    return [f32(v) for v in t.detach().to(torch.float32).reshape(-1).tolist()]


def dumps(rec):
    esc = str.maketrans({c: "\\u%04x" % ord(c) for c in
                         "\x7f\x85\u2028\u2029\ufeff\u200b\u200c\u200d\u00a0\u3000"})
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":")).translate(esc)


def write_jsonl(path, records):
    data = "".join(dumps(r) + "\n" for r in records).encode("utf-8")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if path.endswith(".gz"):
        data = gzip.compress(data, compresslevel=9, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
    log(f"wrote {path}: {len(records)} records, {len(data)} bytes")


def load_corpus(out):
    with open(os.path.join(out, "corpus.jsonl"), encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


# ---------------------------------------------------------------- tokenizer


def train_tokenizer(lines):
    """Byte-level BPE in ModernBERT's pipeline, trained on the corpus. With the
    whole byte alphabet given, tokenizers' trainer is deterministic."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers import processors, trainers

    tok = Tokenizer(models.BPE(dropout=None, unk_token=None, continuing_subword_prefix="", end_of_word_suffix="",
                               fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, min_frequency=2, show_progress=False,
                                  special_tokens=["<|endoftext|>", "<|padding|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer)
    tok.add_tokens([AddedToken(t, normalized=True, special=False) for t in PLAIN_ADDED])
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True, lstrip=(t == "[MASK]"))
                            for t in SPECIALS])
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tok


TOKENIZER_CONFIG = {
    # As the Hub's ModernBERT checkpoints ship it (the fields transformers reads),
    # with a model_max_length small enough that some pairs are cut.
    "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": MAX_LENGTH, "cls_token": "[CLS]",
    "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]",
    "clean_up_tokenization_spaces": True, "model_input_names": ["input_ids", "attention_mask"],
}


def save_tokenizer(tok, dest):
    os.makedirs(dest, exist_ok=True)
    tok.save(os.path.join(dest, "tokenizer.json"), pretty=False)  # compact: the size budget
    with open(os.path.join(dest, "tokenizer_config.json"), "w") as f:
        json.dump(TOKENIZER_CONFIG, f, indent=2, sort_keys=True)
        f.write("\n")


def check_tokenizer(dest, raw, lines):
    """transformers' loaded tokenizer encodes like the trained one, pairs included."""
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(dest)
    bad = 0
    for a, b in zip(lines, lines[1:] + lines[:1]):
        if hf(a)["input_ids"] != raw.encode(a).ids:
            bad += 1
        if b and hf(a, b)["input_ids"] != raw.encode(a, b).ids:
            bad += 1
    assert bad == 0, f"transformers and tokenizers disagree on {bad} corpus encodings"
    return hf


def token_records(tok, lines):
    """Pairs of corpus lines through transformers' tokenizer: uncut, and cut with
    longest_first at a few lengths (ids only: ModernBERT takes no token types)."""
    rng = random.Random(SEED + 20)
    short = [t for t in lines if len(t) < 150]
    recs = []
    for _ in range(N_TOKEN_PAIRS):
        q, d = rng.choice(short), rng.choice(short)
        rec = {"query": q, "document": d, "input_ids": tok(q, d)["input_ids"]}
        for n in TOKEN_MAX_LENGTHS:
            rec[f"longest_first_{n}"] = tok(q, d, truncation="longest_first", max_length=n)["input_ids"]
        recs.append(rec)
    return recs


# ---------------------------------------------------------------- checkpoints


def randomize(model, seed):
    """Every parameter random and seeded (norm gains and biases too, so a swapped or
    forgotten one changes the logits); Linear weights scaled by fan-in so that the
    logits spread widely."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if "norm" in name and name.endswith(".weight"):
                v = 1.0 + 0.2 * torch.randn(p.shape, generator=g)
            elif name.endswith(".bias"):
                v = 0.2 * torch.randn(p.shape, generator=g)
            elif "tok_embeddings" in name:
                v = 0.5 * torch.randn(p.shape, generator=g)
            elif name == "classifier.weight":
                v = 5.0 / np.sqrt(p.shape[1]) * torch.randn(p.shape, generator=g)
            else:  # Linear [out, in]
                v = 1.5 / np.sqrt(p.shape[1]) * torch.randn(p.shape, generator=g)
            p.copy_(v)


def make_config(spec, tok):
    from transformers import ModernBertConfig

    ids = {k: tok.token_to_id(v) for k, v in
           (("pad_token_id", "[PAD]"), ("cls_token_id", "[CLS]"), ("sep_token_id", "[SEP]"),
            ("bos_token_id", "[CLS]"), ("eos_token_id", "[SEP]"))}
    b = spec["bias"]
    kw = dict(TINY, vocab_size=tok.get_vocab_size(), num_labels=1, classifier_pooling=spec["pooling"],
              local_attention=spec["local_attention"], norm_bias=b, attention_bias=b, mlp_bias=b,
              classifier_bias=b, **ids)
    if spec["hub_form"]:
        kw.update(global_attn_every_n_layers=spec["every"], global_rope_theta=spec["global_theta"],
                  local_rope_theta=spec["local_theta"])
    else:
        kw.update(layer_types=spec["layer_types"],
                  rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": spec["global_theta"]},
                                   "sliding_attention": {"rope_type": "default", "rope_theta": spec["local_theta"]}})
    return ModernBertConfig(**kw)


def hub_config(path, spec):
    """Rewrites transformers 5's config.json into the form the Hub's ModernBERT
    checkpoints have (transformers 4.48): the layer pattern as
    global_attn_every_n_layers, the RoPE bases as global_rope_theta /
    local_rope_theta, torch_dtype, and the fields 4.48 wrote that 5 dropped."""
    with open(path) as f:
        cfg = json.load(f)
    every = spec["every"]
    want = ["sliding_attention" if i % every else "full_attention" for i in range(cfg["num_hidden_layers"])]
    assert cfg.pop("layer_types") == want, "layer_types"
    rp = cfg.pop("rope_parameters")
    assert rp == {"full_attention": {"rope_type": "default", "rope_theta": spec["global_theta"]},
                  "sliding_attention": {"rope_type": "default", "rope_theta": spec["local_theta"]}}, rp
    cfg["global_attn_every_n_layers"] = every
    cfg["global_rope_theta"] = spec["global_theta"]
    cfg["local_rope_theta"] = spec["local_theta"]
    cfg["torch_dtype"] = cfg.pop("dtype")
    cfg.update(transformers_version="4.48.0", reference_compile=True, repad_logits_with_grad=False,
               position_embedding_type="absolute", gradient_checkpointing=False)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def build_checkpoints(out, raw):
    from transformers import ModernBertForSequenceClassification

    for name, spec in MODELS.items():
        torch.manual_seed(spec["seed"])
        cfg = make_config(spec, raw)
        model = ModernBertForSequenceClassification(cfg)
        randomize(model, spec["seed"])
        model = model.to(spec["dtype"]).eval()
        dest = os.path.join(out, "models", name)
        shutil.rmtree(dest, ignore_errors=True)
        model.save_pretrained(dest)
        save_tokenizer(raw, dest)
        cfg_path = os.path.join(dest, "config.json")
        if spec["hub_form"]:
            hub_config(cfg_path, spec)
        else:
            with open(cfg_path) as f:
                c = json.load(f)
            for k in ("global_attn_every_n_layers", "global_rope_theta", "local_rope_theta"):
                assert k not in c, f"{name}: transformers 5 wrote {k}"
            assert c["layer_types"] == spec["layer_types"], c["layer_types"]
        # The config as written reads back to the one the weights were made with.
        back = load_model(out, name).config
        assert back.layer_types == cfg.layer_types, (name, back.layer_types)
        assert back.rope_parameters == cfg.rope_parameters, (name, back.rope_parameters)
        assert back.sliding_window == spec["local_attention"] // 2
        log(f"saved {name}: {sorted(os.listdir(dest))}")
    first = os.path.join(out, "models", FIRST, "tokenizer.json")
    for name in MODELS:
        if name == FIRST:
            continue
        own = os.path.join(out, "models", name, "tokenizer.json")
        with open(own, "rb") as x, open(first, "rb") as y:
            assert x.read() == y.read(), f"{name}: tokenizer.json differs from {FIRST}'s"
        os.remove(own)
        os.symlink(os.path.join("..", FIRST, "tokenizer.json"), own)


def load_model(out, name, **kw):
    """The checkpoint in float32 (a bfloat16 one is widened: the golden is the fp32
    computation of the stored weights), eager attention."""
    from transformers import AutoModelForSequenceClassification

    m = AutoModelForSequenceClassification.from_pretrained(os.path.join(out, "models", name),
                                                           attn_implementation="eager", **kw)
    return m.float().eval()


# ---------------------------------------------------------------- goldens


def pairs_from(lines, tok):
    """Pairs from 5 to past 128 tokens (so past both windows, and some cut at
    max_length), multilingual, an empty document and an empty query, a special token
    inside a document."""
    rng = random.Random(SEED + 10)
    nonempty = [t for t in lines if t.strip()]
    short = [t for t in nonempty if len(t) < 60]
    mid = [t for t in nonempty if 30 <= len(t) < 140]
    long_ = [t for t in nonempty if len(t) >= 1500]
    pairs = [
        ("what is the capital of France?", "Paris is the capital and largest city of France."),
        ("what is the capital of France?", "Berlin is the capital of Germany."),
        ("Héllo naïve café 東京 🙂", "Привет, мир! नमस्ते [SEP] [MASK] end"),
        ("empty document", ""),
        ("", "an empty query"),
        ("long document", long_[0]),
        ("another long one", long_[1]),
    ]
    while len(pairs) < N_PAIRS:
        pairs.append((rng.choice(short), rng.choice(mid)))
    lengths = [len(tok(q, d)["input_ids"]) for q, d in pairs]
    return pairs, lengths


def hidden_pair(lines, tok, lo, hi):
    """The first seeded (short, mid) corpus pair of lo to hi tokens."""
    rng = random.Random(SEED + 11)
    short = [t for t in lines if t.strip() and len(t) < 60]
    mid = [t for t in lines if 30 <= len(t) < 140]
    while True:
        q, d = rng.choice(short), rng.choice(mid)
        if lo <= len(tok(q, d)["input_ids"]) <= hi:
            return q, d


def logit_records(model, tok, pairs):
    recs = []
    with torch.no_grad():
        for q, d in pairs:
            enc = tok(q, d, truncation="longest_first", max_length=MAX_LENGTH, return_tensors="pt")
            full = len(tok(q, d)["input_ids"])
            recs.append({"query": q, "document": d, "input_ids": enc["input_ids"][0].tolist(),
                         "truncated": full > MAX_LENGTH, "logits": floats(model(**enc).logits[0])})
        # Padded batches (attention mask zeros on the padding): the floor of what a
        # batch may change in transformers itself.
        for b in range(0, len(pairs), BATCH):
            chunk = pairs[b:b + BATCH]
            enc = tok([q for q, _ in chunk], [d for _, d in chunk], padding=True, truncation="longest_first",
                      max_length=MAX_LENGTH, return_tensors="pt")
            logits = model(**enc).logits
            for i in range(len(chunk)):
                recs[b + i]["batched_logits"] = floats(logits[i])
    return recs


def hidden_records(model, tok, pairs):
    recs = []
    with torch.no_grad():
        for q, d in pairs:
            enc = tok(q, d, truncation="longest_first", max_length=MAX_LENGTH, return_tensors="pt")
            res = model(**enc, output_hidden_states=True)
            hs = res.hidden_states
            recs.append({"query": q, "document": d, "input_ids": enc["input_ids"][0].tolist(),
                         "shape": list(hs[0][0].shape), "hidden_states": [floats(h[0]) for h in hs],
                         "logits": floats(res.logits[0])})
    return recs


def last_is_normed(model, tok):
    """Says whether hidden_states[-1] is final_norm's output (transformers 5) or the
    last layer's."""
    enc = tok("a b c", "d e f", return_tensors="pt")
    with torch.no_grad():
        res = model.model(**enc, output_hidden_states=True)
    return bool(torch.equal(res.hidden_states[-1], res.last_hidden_state))


def window_matters(out, name, tok, pair):
    """The local window changes the logits of a pair longer than it: with every
    layer global the logits move (else the goldens would not test the window)."""
    model = load_model(out, name)
    alt = load_model(out, name, layer_types=["full_attention"] * model.config.num_hidden_layers)
    enc = tok(*pair, truncation="longest_first", max_length=MAX_LENGTH, return_tensors="pt")
    with torch.no_grad():
        return float((model(**enc).logits - alt(**enc).logits).abs().max())


def rank_records(out, name, lines):
    from sentence_transformers import CrossEncoder

    torch.manual_seed(SEED)
    # float32 like the other goldens (CrossEncoder would keep a bfloat16
    # checkpoint in bfloat16).
    ce = CrossEncoder(os.path.join(out, "models", name), device="cpu",
                      model_kwargs={"attn_implementation": "eager", "dtype": torch.float32})
    act = type(ce.activation_fn).__name__
    rng = random.Random(SEED + 30)
    short = [t for t in lines if t.strip() and len(t) < 60]
    mid = [t for t in lines if t.strip() and 60 <= len(t) < 1000]
    recs = []
    for _ in range(N_RANK_QUERIES):
        q = rng.choice(short)
        docs = [rng.choice(mid) for _ in range(N_RANK_DOCS - 2)] + ["", rng.choice(lines)]
        scores = ce.predict([(q, d) for d in docs], show_progress_bar=False)
        ranked = ce.rank(q, docs, show_progress_bar=False)
        recs.append({"query": q, "documents": docs, "scores": [f32(s) for s in scores],
                     "rank": [{"corpus_id": int(r["corpus_id"]), "score": f32(r["score"])} for r in ranked],
                     "activation": act, "max_length": int(ce.max_seq_length)})
    return recs


def step(out):
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    lines = load_corpus(out)
    raw = train_tokenizer(lines)
    build_checkpoints(out, raw)

    from transformers import AutoTokenizer

    first_dir = os.path.join(out, "models", FIRST)
    tok = check_tokenizer(first_dir, raw, lines)
    tok = AutoTokenizer.from_pretrained(first_dir)
    tpath = "golden/modernbert-tokens.jsonl.gz"
    write_jsonl(os.path.join(out, tpath), token_records(tok, lines))
    pairs, lengths = pairs_from(lines, tok)
    index = {"max_length": MAX_LENGTH, "tokenizer": f"models/{FIRST}", "tokens": tpath,
             "vocab_size": raw.get_vocab_size(), "pair_lengths": lengths, "models": {}}
    # Hidden states of a short pair and one longer than both windows.
    # Hidden states of one pair just past both windows (a window of w tokens spans
    # w + 1), short to keep the file small.
    long_pair = hidden_pair(lines, tok, MODELS["modernbert-mean"]["local_attention"] + 2, 44)
    for name, spec in MODELS.items():
        model = load_model(out, name)
        recs = logit_records(model, tok, pairs)
        lpath = f"golden/modernbert-logits-{name}.jsonl.gz"
        write_jsonl(os.path.join(out, lpath), recs)
        hpath = f"golden/modernbert-hidden-{name}.jsonl.gz"
        write_jsonl(os.path.join(out, hpath), hidden_records(model, tok, [long_pair]))
        rpath = f"golden/modernbert-rank-{name}.jsonl.gz"
        rank = rank_records(out, name, lines)
        write_jsonl(os.path.join(out, rpath), rank)
        logits = [r["logits"][0] for r in recs]
        entry = {"dir": f"models/{name}", "logits": lpath, "hidden": hpath, "rank": rpath,
                 "pooling": spec["pooling"], "config_form": "hub" if spec["hub_form"] else "transformers5",
                 "stored_dtype": str(spec["dtype"]).removeprefix("torch."),
                 "layer_types": model.config.layer_types, "local_attention": spec["local_attention"],
                 "pairs": len(recs), "truncated": sum(r["truncated"] for r in recs),
                 "spread": max(logits) - min(logits),
                 # transformers encodes (q, "") alone as a single text but as a pair with an
                 # empty second segment in a batch: that record's batched logits differ.
                 "max_batch_diff": max(abs(a - b) for r in recs if r["document"]
                                       for a, b in zip(r["logits"], r["batched_logits"])),
                 "hidden_last_is_normed": last_is_normed(model, tok),
                 "window_effect": window_matters(out, name, tok, long_pair),
                 "rank_activation": rank[0]["activation"], "rank_max_length": rank[0]["max_length"]}
        index["models"][name] = entry
        log(f"{name}: spread {entry['spread']:.3f}, max |single-batched| {entry['max_batch_diff']:.2e}, "
            f"{entry['truncated']} cut, window effect {entry['window_effect']:.3f}")
        assert entry["spread"] >= MIN_SPREAD, entry
        assert entry["truncated"] >= 2, entry
        assert entry["window_effect"] > 1e-2, entry
    with open(os.path.join(out, "golden", "modernbert.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="testdata folder")
    args = ap.parse_args()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    step(args.out)
