#!/usr/bin/env python3
"""Writes shape-exact stand-ins of the five benchmark models (no Hub needed).

Each checkpoint has the published config.json of its model (architecture,
hidden size, layers, heads, intermediate size, vocab, max positions, layer
norm eps, one label) and seeded random weights, written by transformers'
save_pretrained as safetensors; beside it, onnx/model.onnx (torch.onnx
export, dynamic batch and sequence axes, opset 17) and onnx/model.int8.onnx
(ONNX Runtime dynamic int8 quantisation) for the ONNX peers, and a tokenizer
of the model's family (see gen_workload.py: the workload fixes token ids, so
the tokenizer only serves the text-only contenders and loaders that want
one). Speed does not depend on the weights' values: these are stand-ins,
and every figure made with them says so.

Models are written lazily, each once, into
  $CROSSRANK_CACHE/bench-models/<name>/  (default ~/.cache/crossrank)
The large ones take GBs and minutes: bge-reranker-large and
bge-reranker-v2-m3 are skipped unless --large (or named with --models).

usage: python benchmarks/gen_models.py [--models a,b] [--large] [--no-onnx] [--force]
"""

import argparse
import json
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20261126
# The lm_head rows a Qwen3 CausalLM stand-in is scored with (yes - no); the
# same two as bench_peers.py's and benchmarks/arch.go's.
QWEN3_YES, QWEN3_NO = 9693, 2152

BERT = {
    "architectures": ["BertForSequenceClassification"],
    "model_type": "bert",
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-12,
    "type_vocab_size": 2,
    "vocab_size": 30522,
    "max_position_embeddings": 512,
    "pad_token_id": 0,
    "num_attention_heads": 12,
    "hidden_size": 384,
    "intermediate_size": 1536,
}
XLMR = {
    "architectures": ["XLMRobertaForSequenceClassification"],
    "model_type": "xlm-roberta",
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-05,
    "type_vocab_size": 1,
    "vocab_size": 250002,
    "max_position_embeddings": 514,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
}

# name -> (published repo, family, config overrides, tokenizer max length)
MODELS = {
    "ms-marco-MiniLM-L-6-v2": ("cross-encoder/ms-marco-MiniLM-L-6-v2", "bert", dict(BERT, num_hidden_layers=6), 512),
    "ms-marco-MiniLM-L-12-v2": ("cross-encoder/ms-marco-MiniLM-L-12-v2", "bert", dict(BERT, num_hidden_layers=12), 512),
    "bge-reranker-base": (
        "BAAI/bge-reranker-base",
        "xlmr",
        dict(XLMR, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
        512,
    ),
    "bge-reranker-large": (
        "BAAI/bge-reranker-large",
        "xlmr",
        dict(XLMR, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
        512,
    ),
    "bge-reranker-v2-m3": (
        "BAAI/bge-reranker-v2-m3",
        "xlmr",
        dict(XLMR, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096, max_position_embeddings=8194),
        8192,
    ),
}
QWEN3 = {
    "architectures": ["Qwen3ForCausalLM"],
    "model_type": "qwen3",
    "hidden_act": "silu",
    "rms_norm_eps": 1e-06,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
    "tie_word_embeddings": True,
    "attention_bias": False,
    "max_position_embeddings": 40960,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
}
MODERNBERT = {
    "architectures": ["ModernBertForSequenceClassification"],
    "model_type": "modernbert",
    "hidden_activation": "gelu",
    "norm_eps": 1e-05,
    "norm_bias": False,
    "pad_token_id": 50283,
    "bos_token_id": 50281,
    "eos_token_id": 50282,
    "cls_token_id": 50281,
    "sep_token_id": 50282,
}
# Decoder and ModernBERT re-rankers (issues 19 and 20).
MODELS.update({
    # Qwen/Qwen3-Reranker-0.6B's published config; scored as its card does
    # (Qwen3ForCausalLM, last token, lm_head rows of "yes" and "no").
    "Qwen3-Reranker-0.6B": (
        "Qwen/Qwen3-Reranker-0.6B",
        "qwen3",
        dict(QWEN3, hidden_size=1024, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8, head_dim=128,
             intermediate_size=3072, vocab_size=151669),
        8192,
    ),
    # Alibaba-NLP/gte-reranker-modernbert-base: ModernBERT-base's shape, one label.
    "gte-reranker-modernbert-base": (
        "Alibaba-NLP/gte-reranker-modernbert-base",
        "modernbert",
        dict(MODERNBERT, hidden_size=768, num_hidden_layers=22, num_attention_heads=12, intermediate_size=1152, vocab_size=50368,
             global_attn_every_n_layers=3, local_attention=128, global_rope_theta=160000.0, local_rope_theta=10000.0,
             max_position_embeddings=8192),
        8192,
    ),
})
LARGE = {"bge-reranker-large", "bge-reranker-v2-m3", "Qwen3-Reranker-0.6B"}
# The models the long set (512..2,048-token documents) runs on.
LONG = {"bge-reranker-v2-m3", "gte-reranker-modernbert-base"}

# The workload family (workload.json's token ids) each model family reads.
# The ids are only indices here: the XLM-R sets' ids (at most 3,621) are
# valid in ModernBERT's 50,368 tokens, and the XLM-R tokenizer that turns
# the sets' text back into those ids serves crossrank-http; the BERT sets'
# ids (at most 29,603) are valid in Qwen3's 151,669.
WORKLOAD_FAMILY = {"bert": "bert", "xlmr": "xlmr", "modernbert": "xlmr", "qwen3": "bert"}

TOKENIZERS = {
    "bert": ("testdata/tokenizers/minilm-real", ["tokenizer.json", "vocab.txt", "special_tokens_map.json", "tokenizer_config.json"]),
    "xlmr": ("testdata/models/xlmr", ["tokenizer.json", "sentencepiece.bpe.model", "special_tokens_map.json", "tokenizer_config.json"]),
    # The XLM-R tokenizer: its text of the xlmr sets gives back their ids.
    "modernbert": ("testdata/models/xlmr", ["tokenizer.json", "sentencepiece.bpe.model", "special_tokens_map.json", "tokenizer_config.json"]),
    # The Qwen2-style byte-level BPE fixture (605 tokens, trained on the
    # corpus): enough for `crossrank rerank` to load the folder; it does not
    # give back the workload's ids, so crossrank-http does not run on Qwen3.
    "qwen3": ("testdata/tokenizers/bpe-qwen2", ["tokenizer.json", "tokenizer_config.json"]),
}


def cache_dir():
    return os.path.join(os.environ.get("CROSSRANK_CACHE", os.path.expanduser("~/.cache/crossrank")), "bench-models")


def tidy_config(out):
    """Drops the null token ids transformers writes for BERT (the published
    configs leave them out, and hugot refuses a null eos_token_id)."""
    p = os.path.join(out, "config.json")
    with open(p) as f:
        c = json.load(f)
    for k in ["bos_token_id", "eos_token_id"]:
        if k in c and c[k] is None:
            del c[k]
    with open(p, "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
        f.write("\n")


def write_tokenizer(family, out, max_len):
    src, files = TOKENIZERS[family]
    for f in files:
        shutil.copy(os.path.join(ROOT, src, f), os.path.join(out, f))
    # The stand-in's limits are the model's, not the fixture's (minilm-real
    # pads and truncates to 128 in its tokenizer.json).
    p = os.path.join(out, "tokenizer.json")
    with open(p) as f:
        t = json.load(f)
    t["truncation"] = None
    t["padding"] = None
    with open(p, "w") as f:
        json.dump(t, f, ensure_ascii=False)
    p = os.path.join(out, "tokenizer_config.json")
    with open(p) as f:
        c = json.load(f)
    c["model_max_length"] = max_len
    with open(p, "w") as f:
        json.dump(c, f, indent=2)


def export_onnx(model, family, out):
    """Exports the classifier's logits with the TorchScript exporter (opset
    17, dynamic batch and sequence axes). The attention mask goes in as the
    usual [batch, seq] 0/1 tensor and is turned into the additive 4D mask
    inside the graph with plain ops: transformers' own mask builder exports
    to GatherND and empty constants that GoMLX's ONNX importer (hugot's
    pure-Go backend) does not run."""
    import torch

    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    path = os.path.join(out, "onnx", "model.onnx")
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if family == "bert" else [])

    class Wrap(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, *a):
            kw = dict(zip(names, a))
            am = kw["attention_mask"][:, None, None, :].to(torch.float32)
            kw["attention_mask"] = (1.0 - am) * torch.finfo(torch.float32).min
            return self.m(**kw).logits

    class WrapModernBert(torch.nn.Module):
        # ModernBERT builds its global and sliding-window masks from the
        # [batch, seq] mask itself.
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, ids, mask):
            return self.m(input_ids=ids, attention_mask=mask).logits

    class WrapQwen3(torch.nn.Module):
        # Left-padded batches: the last position is every sequence's last
        # token; its yes - no logit from the two lm_head rows only (the
        # card's code computes all 151,669 rows at every position; an
        # export for serving would not).
        def __init__(self, m):
            super().__init__()
            self.m = m
            w = m.get_output_embeddings().weight
            self.register_buffer("rows", (w[QWEN3_YES] - w[QWEN3_NO]).detach().clone()[:, None])

        def forward(self, ids, mask):
            h = self.m.model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state[:, -1, :]
            return h @ self.rows

    def reference(ids, mask):
        if family == "qwen3":
            last = model(input_ids=ids, attention_mask=mask).logits[:, -1, :]
            return (last[:, QWEN3_YES] - last[:, QWEN3_NO])[:, None]
        return model(**dict(zip(names, args))).logits

    if family == "qwen3":
        Wrap = WrapQwen3  # noqa: F811
    elif family == "modernbert":
        Wrap = WrapModernBert  # noqa: F811

    ids = torch.randint(5, 1000, (2, 16), dtype=torch.long)
    mask = torch.ones_like(ids)
    if family == "qwen3":
        mask[1, :6] = 0  # left padding, as the card pads
    else:
        mask[1, 10:] = 0
    args = (ids, mask) + ((torch.zeros_like(ids),) if family == "bert" else ())
    big = sum(p.numel() for p in model.parameters()) * 4 > 1.8e9
    with torch.no_grad():
        want = reference(ids, mask)
        got = Wrap(model)(*args)
        if (want - got).abs().max().item() > 1e-4:
            raise SystemExit(f"gen_models: the export wrapper changes the logits ({(want - got).abs().max().item():.2g})")
        torch.onnx.export(
            Wrap(model),
            args,
            path,
            input_names=names,
            output_names=["logits"],
            dynamic_axes=dict({n: {0: "batch", 1: "sequence"} for n in names}, logits={0: "batch"}),
            opset_version=17,
            dynamo=False,
            do_constant_folding=True,
            external_data=big,
        )
    return path


def quantize(path):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = path.replace("model.onnx", "model.int8.onnx")
    big = os.path.getsize(path) > 1.8e9
    quantize_dynamic(path, out, weight_type=QuantType.QInt8, use_external_data_format=big)
    return out


ONNX_MARK = "onnx-v2"  # bump when the export changes: the ONNX files are redone


def generate(name, force=False, onnx=True):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    repo, family, cfg, max_len = MODELS[name]
    auto = AutoModelForCausalLM if family == "qwen3" else AutoModelForSequenceClassification
    labels = {} if family == "qwen3" else dict(num_labels=1, id2label={0: "LABEL_0"}, label2id={"LABEL_0": 0})
    out = os.path.join(cache_dir(), name)
    done = os.path.join(out, ".complete")
    mark = open(done).read().strip() if os.path.exists(done) and not force else ""
    if mark == ONNX_MARK or (mark and not onnx):
        print(f"{name}: up to date in {out}")
        return out
    t0 = time.time()
    model = None
    if not mark:
        os.makedirs(out, exist_ok=True)
        config = AutoConfig.for_model(
            cfg["model_type"],
            **{k: v for k, v in cfg.items() if k != "model_type"},
            **labels,
        )
        torch.manual_seed(SEED)
        model = auto.from_config(config).eval()
        model.save_pretrained(out, safe_serialization=True)
        tidy_config(out)
        write_tokenizer(family, out, max_len)
        with open(os.path.join(out, "STANDIN.md"), "w") as f:
            f.write(
                f"Shape-exact stand-in for {repo}: its published config, seeded random weights "
                f"(seed {SEED}), written by crossrank/benchmarks/gen_models.py. Not the real model.\n"
            )
        with open(done, "w") as f:
            f.write("weights\n")
        print(f"{name}: weights written in {time.time() - t0:.0f}s", flush=True)
    if onnx:
        if model is None:
            model = auto.from_pretrained(out).eval()
        p = export_onnx(model, family, out)
        print(f"{name}: onnx exported in {time.time() - t0:.0f}s", flush=True)
        del model
        quantize(p)
        print(f"{name}: int8 quantised in {time.time() - t0:.0f}s", flush=True)
        with open(done, "w") as f:
            f.write(ONNX_MARK + "\n")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="", help="comma-separated names (default: all but the large ones)")
    ap.add_argument("--large", action="store_true", help="include bge-reranker-large and bge-reranker-v2-m3")
    ap.add_argument("--no-onnx", action="store_true", help="safetensors only")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--list", action="store_true", help="print the names and exit")
    args = ap.parse_args()
    if args.list:
        for n in MODELS:
            print(n)
        return
    names = [n for n in args.models.split(",") if n] or [n for n in MODELS if args.large or n not in LARGE]
    for n in names:
        if n not in MODELS:
            sys.exit(f"gen_models: unknown model {n!r} (known: {', '.join(MODELS)})")
        generate(n, force=args.force, onnx=not args.no_onnx)


if __name__ == "__main__":
    main()
