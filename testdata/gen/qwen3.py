"""Qwen3-Reranker fixtures: tiny Qwen3 checkpoints and the model card's scores.

Called by generate.py (step "qwen3"); also runs alone:

    python testdata/gen/qwen3.py --out testdata

Writes, all computed by transformers / tokenizers (nothing by crossrank):

- models/qwen3-tied: Qwen3ForCausalLM, tie_word_embeddings true, config.json in
  the form the Hub ships (rope_theta, rope_scaling null, torch_dtype).
- models/qwen3-untied: Qwen3ForCausalLM with its own lm_head, config.json as
  transformers 5 writes it (rope_parameters), another rope_theta.
- models/qwen3-seq-cls: qwen3-tied converted to Qwen3ForSequenceClassification
  with num_labels 1, its one score row lm_head[yes] - lm_head[no], as the
  community conversion (Qwen/Qwen3-Reranker-0.6B discussion 3, vLLM's
  convert_model_to_seq_cls.py from_2_way_softmax) defines it.
- golden/qwen3.json: what the goldens were made with (prompt pieces, max_length,
  the yes/no ids, each model's folder and files).
- golden/qwen3-scores-<model>.jsonl.gz: the card's scoring code on the pairs.
- golden/qwen3-hidden-<model>.jsonl.gz: per-layer hidden states of two pairs.

The tokenizer is a byte-level BPE trained with tokenizers on the corpus with
Qwen2's pipeline (NFC, Split on Qwen2's regex, ByteLevel) and Qwen's special
tokens after the learnt vocab. All weights are stored in bfloat16 (as the Hub's
Qwen3-Reranker checkpoints are) to keep the fixtures small; the goldens are the
float32 forward pass of those stored weights.
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

SEED = 20261203
VOCAB = 600  # bytes (256) + merges + "yes"/"no"; specials come after
MAX_LENGTH = 320  # the card's max_length (8192 there), small so one document is cut
N_PAIRS = 20
BATCH = 5
HIDDEN_ROWS = 8  # hidden goldens keep each layer's last rows (causal: they see every earlier row)

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
THINK = ["<think>", "</think>"]

# The model card of Qwen/Qwen3-Reranker-0.6B.
INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
PREFIX = ("<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
          "Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n")
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
TEMPLATE = "<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}"

TINY = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16, hidden_act="silu", max_position_embeddings=40960,
            rms_norm_eps=1e-6, attention_bias=False, use_sliding_window=False)

MODELS = {
    "qwen3-tied": dict(tie=True, rope_theta=1000000.0, hub_form=True, seed=SEED + 1),
    "qwen3-untied": dict(tie=False, rope_theta=10000.0, hub_form=False, seed=SEED + 2),
}
SEQ_CLS = "qwen3-seq-cls"  # converted from qwen3-tied
MXBAI = "qwen2-mxbai"  # a Qwen2ForCausalLM scored as mixedbread-ai/mxbai-rerank-base-v2 is

# mxbai-rerank-v2's prompt and score (mixedbread-ai/mxbai-rerank, mxbai_rerank_v2.py, as the
# rerankers package's port has it): pieces tokenized apart and joined as ids,
# prefix + query + sep + document + sep + task + suffix; score = logit("1") - logit("0").
MXBAI_PREFIX = ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
                "<|im_end|>\n<|im_start|>user\n")
MXBAI_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n"
MXBAI_TASK = ("You are a search relevance expert who evaluates how well documents match search queries. "
              "For each query-document pair, carefully analyze the semantic relationship between them, then "
              "provide your binary relevance judgment (0 for not relevant, 1 for relevant).\nRelevance:")
MXBAI_SEP = "\n"
MXBAI_MAX_LENGTH = 320  # mxbai's max_length (8192 there): the query and document tokens, static parts apart


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
    data = gzip.compress(data, compresslevel=9, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
    log(f"wrote {path}: {len(records)} records, {len(data)} bytes")


def load_corpus(out):
    with open(os.path.join(out, "corpus.jsonl"), encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


# ---------------------------------------------------------------- tokenizer


def train_tokenizer(lines):
    """Byte-level BPE with Qwen2's pipeline, trained on the corpus."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers import processors, trainers

    tok = Tokenizer(models.BPE(unk_token=None, continuing_subword_prefix="", end_of_word_suffix="",
                               fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, min_frequency=2, show_progress=False, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    # "yes" and "no" must be single tokens (the card reads their logits): lines of
    # them alone make the merges y+e, ye+s and n+o among the most frequent.
    extra = ["yes", "no"] * 200
    tok.train_from_iterator(list(lines) + extra, trainer=trainer)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    # Qwen3's tokenizer has the think tags as added tokens that are not special.
    tok.add_tokens([AddedToken(s, special=False, normalized=False) for s in THINK])
    for w in ["yes", "no", "0", "1"] + SPECIALS + THINK:
        assert tok.token_to_id(w) is not None, f"{w!r} is not a token"
        assert tok.encode(w, add_special_tokens=False).ids == [tok.token_to_id(w)], w
    return tok


def save_tokenizer(tok, dest):
    """Wraps the trained tokenizer as transformers' Qwen2Tokenizer, as Qwen3-Reranker ships it."""
    from transformers import Qwen2Tokenizer

    tmp = dest + ".tok"
    os.makedirs(tmp, exist_ok=True)
    tok.save(os.path.join(tmp, "tokenizer.json"))
    with open(os.path.join(tmp, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "Qwen2Tokenizer", "model_max_length": 131072, "eos_token": "<|im_end|>",
                   "pad_token": "<|endoftext|>", "unk_token": None, "bos_token": None,
                   "errors": "replace", "split_special_tokens": False, "clean_up_tokenization_spaces": False},
                  f, indent=2, sort_keys=True)
    hf = Qwen2Tokenizer.from_pretrained(tmp)
    shutil.rmtree(tmp)
    hf.save_pretrained(dest)
    return hf


def check_tokenizer(hf, raw, lines):
    """transformers' loaded tokenizer encodes like the trained one."""
    bad = 0
    for t in lines:
        if hf(t, add_special_tokens=False)["input_ids"] != raw.encode(t, add_special_tokens=False).ids:
            bad += 1
    assert bad == 0, f"transformers and tokenizers disagree on {bad} corpus lines"


# ---------------------------------------------------------------- checkpoints


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name.endswith("norm.weight"):
                v = 1.0 + 0.2 * torch.randn(p.shape, generator=g)
            elif "embed_tokens" in name:
                v = 0.5 * torch.randn(p.shape, generator=g)
            elif name == "lm_head.weight":
                v = 0.5 * torch.randn(p.shape, generator=g)
            elif name.endswith("bias"):  # Qwen2's q/k/v
                v = 0.2 * torch.randn(p.shape, generator=g)
            else:  # Linear [out, in]
                v = 1.5 / np.sqrt(p.shape[1]) * torch.randn(p.shape, generator=g)
            p.copy_(v)


def coarse_rows(w, ids):
    """Puts rows ids of w on the grid k/32, |k| < 128: their differences are then exact
    in bfloat16, so the converted score row lm_head[yes] - lm_head[no] loses nothing."""
    with torch.no_grad():
        for i in ids:
            w[i] = torch.clamp(torch.round(w[i] * 32), -127, 127) / 32


def hub_config(path, rope_theta):
    """Rewrites transformers 5's config.json into the form the Hub's Qwen3 checkpoints
    have (transformers 4.51): rope_theta and rope_scaling at the top, torch_dtype."""
    with open(path) as f:
        cfg = json.load(f)
    rp = cfg.pop("rope_parameters")
    assert rp == {"rope_type": "default", "rope_theta": rope_theta}, rp
    cfg["rope_theta"] = rope_theta
    cfg["rope_scaling"] = None
    del cfg["layer_types"]  # derived (all full attention); 4.51 did not write it
    cfg["torch_dtype"] = cfg.pop("dtype")
    cfg["transformers_version"] = "4.51.0"
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def build_checkpoints(out, hf_tok):
    from transformers import Qwen3Config, Qwen3ForCausalLM, Qwen3ForSequenceClassification

    yes, no = hf_tok.convert_tokens_to_ids("yes"), hf_tok.convert_tokens_to_ids("no")
    specials = dict(pad_token_id=hf_tok.convert_tokens_to_ids("<|endoftext|>"),
                    bos_token_id=hf_tok.convert_tokens_to_ids("<|endoftext|>"),
                    eos_token_id=hf_tok.convert_tokens_to_ids("<|im_end|>"))
    for name, spec in MODELS.items():
        torch.manual_seed(spec["seed"])
        cfg = Qwen3Config(vocab_size=len(hf_tok), tie_word_embeddings=spec["tie"],
                          rope_parameters={"rope_type": "default", "rope_theta": spec["rope_theta"]},
                          **TINY, **specials)
        model = Qwen3ForCausalLM(cfg)
        randomize(model, spec["seed"])
        coarse_rows(model.lm_head.weight, (yes, no))
        model = model.to(torch.bfloat16).eval()
        dest = os.path.join(out, "models", name)
        shutil.rmtree(dest, ignore_errors=True)
        model.save_pretrained(dest)
        hf_tok.save_pretrained(dest)
        if spec["hub_form"]:
            hub_config(os.path.join(dest, "config.json"), spec["rope_theta"])
        log(f"saved {name}: {sorted(os.listdir(dest))}")

    # The community conversion: the decoder unchanged, one score row yes - no.
    src = load_causal(out, "qwen3-tied")
    cfg = Qwen3Config.from_pretrained(os.path.join(out, "models", "qwen3-tied"))
    cfg.architectures = ["Qwen3ForSequenceClassification"]
    cfg.num_labels = 1
    seq = Qwen3ForSequenceClassification(cfg)
    with torch.no_grad():
        missing, unexpected = seq.model.load_state_dict(src.model.state_dict(), strict=True)
        w = src.lm_head.weight
        seq.score.weight.copy_((w[yes] - w[no]).unsqueeze(0))
    seq = seq.to(torch.bfloat16).eval()
    assert torch.equal(seq.score.weight[0].float(), (w[yes] - w[no]).float()), "score row rounded"
    dest = os.path.join(out, "models", SEQ_CLS)
    shutil.rmtree(dest, ignore_errors=True)
    seq.save_pretrained(dest)
    hf_tok.save_pretrained(dest)
    log(f"saved {SEQ_CLS}: {sorted(os.listdir(dest))}")

    # A Qwen2 decoder (q/k/v with biases, no q_norm/k_norm, head_dim = hidden/heads).
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(SEED + 3)
    q2 = {k: v for k, v in TINY.items() if k not in ("head_dim", "attention_bias")}
    cfg = Qwen2Config(vocab_size=len(hf_tok), tie_word_embeddings=True,
                      rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, **q2, **specials)
    model = Qwen2ForCausalLM(cfg)
    randomize(model, SEED + 3)
    one, zero = hf_tok.convert_tokens_to_ids("1"), hf_tok.convert_tokens_to_ids("0")
    coarse_rows(model.lm_head.weight, (one, zero))
    model = model.to(torch.bfloat16).eval()
    dest = os.path.join(out, "models", MXBAI)
    shutil.rmtree(dest, ignore_errors=True)
    model.save_pretrained(dest)
    hf_tok.save_pretrained(dest)
    log(f"saved {MXBAI}: {sorted(os.listdir(dest))}")
    # The same tokenizer.json in all three: the others link to qwen3-tied's
    # (as generate.py's link_shared_tokenizer does for each family).
    first = os.path.join(out, "models", "qwen3-tied", "tokenizer.json")
    for name in ("qwen3-untied", SEQ_CLS, MXBAI):
        own = os.path.join(out, "models", name, "tokenizer.json")
        with open(own, "rb") as x, open(first, "rb") as y:
            assert x.read() == y.read(), f"{name}: tokenizer.json differs from qwen3-tied's"
        os.remove(own)
        os.symlink(os.path.join("..", "qwen3-tied", "tokenizer.json"), own)
    return yes, no


def load_causal(out, name):
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(os.path.join(out, "models", name), dtype=torch.bfloat16)
    return m.float().eval()


def mxbai_inputs(tok, pairs):
    """_prepare_batch of mxbai-rerank-v2 (no instruction): the query cut to 3/4 of
    max_length, the document to a quarter, the pair to max_length (only_second),
    framed, left-padded to a multiple of 8."""
    ids = lambda t: tok(t, add_special_tokens=False)["input_ids"]
    prefix, suffix, task, sep = ids(MXBAI_PREFIX), ids(MXBAI_SUFFIX), ids(MXBAI_TASK), ids(MXBAI_SEP)
    rows = []
    for q, d in pairs:
        q_ids = tok("query: " + q, add_special_tokens=False, max_length=MXBAI_MAX_LENGTH * 3 // 4,
                    truncation=True)["input_ids"]
        d_ids = tok("document: " + d, add_special_tokens=False, max_length=MXBAI_MAX_LENGTH // 4,
                    truncation=True)["input_ids"]
        # tokenizer.prepare_for_model(q_ids, sep + d_ids, truncation="only_second", max_length=...),
        # which transformers 5 no longer has: the second part loses its tail.
        second = (sep + d_ids)[:max(0, MXBAI_MAX_LENGTH - len(q_ids))]
        both = q_ids + second
        full = prefix + both + sep + task + suffix
        rows.append({"input_ids": full, "attention_mask": [1] * len(full)})
    return tok.pad(rows, padding="longest", pad_to_multiple_of=8, return_tensors="pt")


def mxbai_records(out, tok, pairs):
    model = load_causal(out, MXBAI)
    one, zero = tok.convert_tokens_to_ids("1"), tok.convert_tokens_to_ids("0")
    recs = []
    with torch.no_grad():
        for q, d in pairs:
            enc = mxbai_inputs(tok, [(q, d)])
            res = model(**enc)
            last = res.logits[0, -1]
            n_doc = len(tok("document: " + d, add_special_tokens=False)["input_ids"])
            recs.append({"query": q, "document": d, "input_ids": enc["input_ids"][0][enc["attention_mask"][0] == 1].tolist(),
                         "truncated": n_doc > MXBAI_MAX_LENGTH // 4,
                         "yes_logit": f32(last[one]), "no_logit": f32(last[zero]),
                         "logit": f32(last[one] - last[zero]), "score": f32(torch.sigmoid(last[one] - last[zero]))})
        for b in range(0, len(pairs), BATCH):
            enc = mxbai_inputs(tok, pairs[b:b + BATCH])
            res = model(**enc)
            for i in range(enc["input_ids"].shape[0]):
                l = res.logits[i, -1]
                recs[b + i]["batched_score"] = f32(torch.sigmoid(l[one] - l[zero]))
    return recs


def load_seq_cls(out):
    from transformers import AutoModelForSequenceClassification

    m = AutoModelForSequenceClassification.from_pretrained(os.path.join(out, "models", SEQ_CLS),
                                                           dtype=torch.bfloat16)
    return m.float().eval()


# ---------------------------------------------------------------- the card's scoring


def pairs_from(lines):
    """~20 (query, document) pairs: multilingual, an empty document, odd starts
    (a space, a digit, a newline: where the document meets "<Document>: "), a
    special token inside a document, and long documents the card cuts."""
    rng = random.Random(SEED + 10)
    nonempty = [t for t in lines if t.strip()]
    short = [t for t in nonempty if len(t) < 80]
    mid = [t for t in nonempty if 80 <= len(t) < 300]
    long_ = [t for t in nonempty if len(t) >= 1500]
    pairs = [
        ("what is the capital of France?", "Paris is the capital and largest city of France."),
        ("what is the capital of France?", "Berlin is the capital of Germany."),
        ("Héllo naïve café 東京 🙂", "Привет, мир! नमस्ते <|im_end|> end"),
        ("empty document", ""),
        ("leading space", " starts with a space"),
        ("leading digit", "2048 tokens at most"),
        ("leading newline", "\nthen text"),
        ("trailing space ", "ends with spaces   "),
        ("", "an empty query"),
        ("long document", long_[0]),
    ]
    while len(pairs) < N_PAIRS - 1:
        pairs.append((rng.choice(short), rng.choice(mid)))
    pairs.append((rng.choice(short), rng.choice(long_[1:])))
    return pairs


def card_inputs(tok, texts, prefix_ids, suffix_ids):
    """process_inputs of the card: cut each formatted text at max_length minus the
    prompt's fixed parts, frame it, left-pad the batch."""
    enc = tok(texts, padding=False, truncation="longest_first", return_attention_mask=False,
              max_length=MAX_LENGTH - len(prefix_ids) - len(suffix_ids))
    enc["input_ids"] = [prefix_ids + ids + suffix_ids for ids in enc["input_ids"]]
    return tok.pad(enc, padding=True, return_tensors="pt", max_length=MAX_LENGTH)


def card_scores(logits, yes, no):
    """compute_logits of the card: log_softmax over [no, yes] of the last token, exp of yes."""
    last = logits[:, -1, :]
    both = torch.stack([last[:, no], last[:, yes]], dim=1)
    return torch.nn.functional.log_softmax(both, dim=1)[:, 1].exp()


def score_records(out, name, tok, pairs, yes, no):
    prefix_ids = tok.encode(PREFIX, add_special_tokens=False)
    suffix_ids = tok.encode(SUFFIX, add_special_tokens=False)
    texts = [TEMPLATE.format(instruction=INSTRUCTION, query=q, doc=d) for q, d in pairs]
    seq_cls = name == SEQ_CLS
    model = load_seq_cls(out) if seq_cls else load_causal(out, name)
    recs = []
    with torch.no_grad():
        for (q, d), t in zip(pairs, texts):
            enc = card_inputs(tok, [t], prefix_ids, suffix_ids)
            ids = enc["input_ids"][0].tolist()
            full = len(tok(t, add_special_tokens=False)["input_ids"])
            rec = {"query": q, "document": d, "input_ids": ids,
                   "truncated": full > MAX_LENGTH - len(prefix_ids) - len(suffix_ids)}
            res = model(**enc)
            if seq_cls:
                rec["yes_logit"] = rec["no_logit"] = None
                rec["logit"] = f32(res.logits[0, 0])
                rec["score"] = f32(torch.sigmoid(res.logits[0, 0]))
            else:
                last = res.logits[0, -1]
                rec["yes_logit"], rec["no_logit"] = f32(last[yes]), f32(last[no])
                rec["logit"] = f32(last[yes] - last[no])
                rec["score"] = f32(card_scores(res.logits, yes, no)[0])
            recs.append(rec)
        # The card's batches: left padding, attention mask zeros on the padding.
        for b in range(0, len(pairs), BATCH):
            enc = card_inputs(tok, texts[b:b + BATCH], prefix_ids, suffix_ids)
            res = model(**enc)
            for i in range(enc["input_ids"].shape[0]):
                r = recs[b + i]
                if seq_cls:
                    r["batched_score"] = f32(torch.sigmoid(res.logits[i, 0]))
                else:
                    r["batched_score"] = f32(card_scores(res.logits[i:i + 1], yes, no)[0])
    return recs


def hidden_records(out, name, tok, pairs):
    prefix_ids = tok.encode(PREFIX, add_special_tokens=False)
    suffix_ids = tok.encode(SUFFIX, add_special_tokens=False)
    model = load_causal(out, name)
    recs = []
    with torch.no_grad():
        for q, d in pairs:
            t = TEMPLATE.format(instruction=INSTRUCTION, query=q, doc=d)
            enc = card_inputs(tok, [t], prefix_ids, suffix_ids)
            res = model(**enc, output_hidden_states=True)
            hs = res.hidden_states
            n = enc["input_ids"].shape[1]
            rows = min(HIDDEN_ROWS, n)
            # hidden_states[-1] is after the final norm in transformers 5 (checked here).
            recs.append({"query": q, "document": d, "input_ids": enc["input_ids"][0].tolist(),
                         "rows": [n - rows, n], "hidden_size": hs[0].shape[-1],
                         "hidden_states": [floats(h[0, n - rows:]) for h in hs]})
    return recs


def check_final_norm(out, name, tok):
    """Says whether hidden_states[-1] is the final norm's output or the last layer's."""
    model = load_causal(out, name)
    enc = tok(["a b c"], return_tensors="pt")
    with torch.no_grad():
        res = model.model(**enc, output_hidden_states=True)
    normed = torch.equal(res.hidden_states[-1], res.last_hidden_state)
    return normed


def step(out):
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    lines = load_corpus(out)
    raw = train_tokenizer(lines)
    dest_tok = os.path.join(out, "models", "qwen3-tied")
    os.makedirs(os.path.join(out, "models"), exist_ok=True)
    hf_tok = save_tokenizer(raw, dest_tok + ".hf")
    check_tokenizer(hf_tok, raw, lines)
    yes, no = build_checkpoints(out, hf_tok)
    shutil.rmtree(dest_tok + ".hf")

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(os.path.join(out, "models", "qwen3-tied"), padding_side="left")
    assert tok.convert_tokens_to_ids("yes") == yes and tok.convert_tokens_to_ids("no") == no
    pairs = pairs_from(lines)
    index = {"instruction": INSTRUCTION, "prefix": PREFIX, "suffix": SUFFIX, "template": TEMPLATE,
             "max_length": MAX_LENGTH, "yes_id": yes, "no_id": no,
             "prefix_ids": tok.encode(PREFIX, add_special_tokens=False),
             "suffix_ids": tok.encode(SUFFIX, add_special_tokens=False), "models": {}}
    all_recs = {}
    for name in list(MODELS) + [SEQ_CLS]:
        recs = score_records(out, name, tok, pairs, yes, no)
        all_recs[name] = recs
        path = f"golden/qwen3-scores-{name}.jsonl.gz"
        write_jsonl(os.path.join(out, path), recs)
        logits = [r["logit"] for r in recs]
        worst = max(abs(r["score"] - r["batched_score"]) for r in recs)
        entry = {"dir": f"models/{name}", "scores": path, "pairs": len(recs),
                 "spread": max(logits) - min(logits), "max_batch_diff": worst,
                 "truncated": sum(r["truncated"] for r in recs)}
        if name in MODELS:
            hpath = f"golden/qwen3-hidden-{name}.jsonl.gz"
            write_jsonl(os.path.join(out, hpath), hidden_records(out, name, tok, pairs[:2]))
            entry["hidden"] = hpath
            entry["hidden_last_is_normed"] = check_final_norm(out, name, tok)
        index["models"][name] = entry
        log(f"{name}: spread {entry['spread']:.3f}, max |single-batched| score {worst:.2e}, "
            f"{entry['truncated']} truncated")
        assert entry["spread"] >= 2.0, entry
        assert entry["truncated"] >= 2, entry
    # The converted model scores as the causal one it came from.
    # mxbai-rerank-v2 on the Qwen2 decoder: pairs whose documents fit its quarter of
    # max_length (its cut differs from the Qwen3 card's), and one that does not.
    fits = lambda d: len(tok("document: " + d, add_special_tokens=False)["input_ids"]) <= MXBAI_MAX_LENGTH // 4
    mx_pairs = [p for p in pairs if fits(p[1]) and p[0].strip()]
    rng = random.Random(SEED + 11)
    short = [t for t in lines if t.strip() and len(t) < 80]
    while len(mx_pairs) < 15:
        q, d = rng.choice(short), rng.choice(short)
        if fits(d):
            mx_pairs.append((q, d))
    mx_pairs.append(next(p for p in pairs if len(p[1]) > 1500))
    recs = mxbai_records(out, tok, mx_pairs)
    path = f"golden/qwen3-scores-{MXBAI}.jsonl.gz"
    write_jsonl(os.path.join(out, path), recs)
    logits = [r["logit"] for r in recs]
    index["mxbai"] = {"prefix": MXBAI_PREFIX, "suffix": MXBAI_SUFFIX, "task": MXBAI_TASK, "sep": MXBAI_SEP,
                      "max_length": MXBAI_MAX_LENGTH, "yes_id": tok.convert_tokens_to_ids("1"),
                      "no_id": tok.convert_tokens_to_ids("0")}
    index["models"][MXBAI] = {"dir": f"models/{MXBAI}", "scores": path, "pairs": len(recs),
                              "spread": max(logits) - min(logits),
                              "max_batch_diff": max(abs(r["score"] - r["batched_score"]) for r in recs),
                              "truncated": sum(r["truncated"] for r in recs)}
    log(f"{MXBAI}: {len(recs)} pairs, spread {max(logits) - min(logits):.3f}")
    conv = max(abs(a["score"] - b["score"]) for a, b in zip(all_recs["qwen3-tied"], all_recs[SEQ_CLS]))
    assert conv < 1e-5, f"seq-cls differs from qwen3-tied by {conv}"
    index["models"][SEQ_CLS]["max_diff_to_causal"] = conv
    with open(os.path.join(out, "golden", "qwen3.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    log(f"qwen3: seq-cls within {conv:.2e} of qwen3-tied")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="testdata folder")
    args = ap.parse_args()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    step(args.out)
