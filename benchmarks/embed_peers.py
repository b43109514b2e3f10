#!/usr/bin/env python3
"""Times one Python embedding peer on one model and set of texts, in this
process (run_embed.py starts one process per contender, so peak RSS is its own).

Every contender gets the same texts (the workload's short-set documents,
benchmarks.Workload.EmbedTexts) and returns one vector per text; tokenization
is timed, as in crossrank's embed package:
  st-fp32   SentenceTransformer.encode(texts, batch_size=32): its own
            tokenizer, texts sorted longest first, each batch padded to its
            longest, the model's pooling and Normalize; torch's default threads.
  st-bf16   the same with threads = cores, inside torch.autocast("cpu", bfloat16).
  ort-fp32  ONNX Runtime (CPU provider, intra-op threads = cores) on
            onnx/model.onnx (gen_embed_models.py: encoder, pooling and
            Normalize in one graph), the model's fast tokenizer (tokenizer.json,
            truncated to max_seq_length), the same sorting and padding.
  ort-int8  the same on onnx/model.int8.onnx (dynamic int8).
  ov-fp32   OpenVINO's CPU plugin on onnx/model.onnx, PERFORMANCE_HINT LATENCY,
            INFERENCE_PRECISION_HINT f32, the same batches.
  ov-bf16   the same at the plugin's default precision (the row's precision is
            what the plugin reports).
  ov-int8   NNCF static int8 (ModelType.TRANSFORMER) calibrated on these
            batches, quantised once in a child process and kept beside the
            export in openvino/, compiled at the default precision.

usage: python embed_peers.py --contender st-fp32 --model DIR --texts texts.json --json out.json
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
from bench_peers import OV_PRECISION, nncf_version, peak_rss_mb  # noqa: E402

CONTENDERS = {
    "st-fp32": ("sentence-transformers", "fp32"),
    "st-bf16": ("sentence-transformers", "bf16-autocast"),
    "ort-fp32": ("onnxruntime", "fp32"),
    "ort-int8": ("onnxruntime", "int8"),
    "ov-fp32": ("openvino", "fp32"),
    "ov-bf16": ("openvino", "bf16"),
    "ov-int8": ("openvino", "int8"),
}
NAMES = ["input_ids", "attention_mask", "token_type_ids"]


def max_seq_length(model_dir):
    """sentence_bert_config.json's max_seq_length; sentence-transformers >= 6
    leaves it out and keeps the tokenizer's model_max_length (crossrank reads
    the same two, in this order)."""
    with open(os.path.join(model_dir, "sentence_bert_config.json")) as f:
        n = json.load(f).get("max_seq_length")
    if not n:
        with open(os.path.join(model_dir, "tokenizer_config.json")) as f:
            n = json.load(f)["model_max_length"]
    return n


def make_tokenize(model_dir, batch):
    """encode's batching with the model's fast tokenizer: longest first (by
    characters, as sentence-transformers sorts), each batch padded to its
    longest, truncated to max_seq_length."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.enable_truncation(max_seq_length(model_dir))
    tok.no_padding()

    def tokenize(texts):
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = []
        for b in range(0, len(order), batch):
            idx = order[b : b + batch]
            encs = tok.encode_batch([texts[i] for i in idx])
            L = max(len(e.ids) for e in encs)
            feed = {n: np.zeros((len(idx), L), dtype=np.int64) for n in NAMES}
            for r, e in enumerate(encs):
                n = len(e.ids)
                feed["input_ids"][r, :n] = e.ids
                feed["attention_mask"][r, :n] = 1
                feed["token_type_ids"][r, :n] = e.type_ids
            out.append((idx, feed))
        return out

    return tokenize


def run_batches(tokenize, infer, texts, dim):
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for idx, feed in tokenize(texts):
        out[idx] = infer(feed)
    return out


def make_st(model_dir, bf16, batch):
    import torch
    from sentence_transformers import SentenceTransformer

    if bf16:
        torch.set_num_threads(os.cpu_count())
    st = SentenceTransformer(model_dir, device="cpu").eval()

    def request(texts):
        with torch.inference_mode():
            if bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    v = st.encode(texts, batch_size=batch, convert_to_tensor=True)
            else:
                v = st.encode(texts, batch_size=batch, convert_to_tensor=True)
        return v.float().numpy()

    return request, torch.get_num_threads(), {}


def make_ort(model_dir, int8, batch, dim):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = os.cpu_count()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(os.path.join(model_dir, "onnx", "model.int8.onnx" if int8 else "model.onnx"), so,
                                providers=["CPUExecutionProvider"])
    tokenize = make_tokenize(model_dir, batch)

    def request(texts):
        return run_batches(tokenize, lambda feed: sess.run(["sentence_embedding"], feed)[0], texts, dim)

    return request, os.cpu_count(), {}


def ov_int8_dir(model_dir, n, batch):
    import openvino

    v = openvino.get_version().split("-")[0]
    return os.path.join(model_dir, "openvino", f"int8-short-n{n}-b{batch}-ov{v}-nncf{nncf_version()}")


def quantize_ov(model_dir, texts, batch, out):
    import nncf
    import openvino as ov

    model = ov.Core().read_model(os.path.join(model_dir, "onnx", "model.onnx"))
    data = [feed for _, feed in make_tokenize(model_dir, batch)(texts)]
    t0 = time.perf_counter()
    q = nncf.quantize(model, nncf.Dataset(data), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(data))
    tmp = out + ".tmp"
    ov.save_model(q, os.path.join(tmp, "model.xml"), compress_to_fp16=False)
    os.replace(tmp, out)
    print(f"ov-int8: quantised {os.path.basename(os.path.normpath(model_dir))} in {time.perf_counter() - t0:.0f}s into {out}", flush=True)


def make_ov(model_dir, contender, int8_dir, batch, dim):
    import openvino as ov

    core = ov.Core()
    path = os.path.join(int8_dir, "model.xml") if contender == "ov-int8" else os.path.join(model_dir, "onnx", "model.onnx")
    config = {"PERFORMANCE_HINT": "LATENCY"}
    if contender == "ov-fp32":
        config["INFERENCE_PRECISION_HINT"] = "f32"
    compiled = core.compile_model(core.read_model(path), "CPU", config)
    req = compiled.create_infer_request()
    port = compiled.output(0)
    tokenize = make_tokenize(model_dir, batch)

    def request(texts):
        return run_batches(tokenize, lambda feed: np.asarray(req.infer(feed)[port]), texts, dim)

    hint = compiled.get_property("INFERENCE_PRECISION_HINT")
    reported = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
    return request, int(compiled.get_property("INFERENCE_NUM_THREADS")), {"inference_precision": reported}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--contender", required=True, choices=sorted(CONTENDERS))
    ap.add_argument("--model", required=True, help="folder from gen_embed_models.py")
    ap.add_argument("--texts", required=True, help="JSON list of the texts of one request")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--budget", type=float, default=10.0, help="seconds of latency sampling once --min-reps are in")
    ap.add_argument("--min-reps", type=int, default=5)
    ap.add_argument("--max-reps", type=int, default=200)
    ap.add_argument("--json", required=True)
    ap.add_argument("--quantize-only", action="store_true", help=argparse.SUPPRESS)  # ov-int8's child process
    args = ap.parse_args()
    with open(args.texts) as f:
        texts = json.load(f)
    with open(os.path.join(args.model, "1_Pooling", "config.json")) as f:
        pool = json.load(f)
    # sentence-transformers >= 6 writes embedding_dimension, older ones word_embedding_dimension.
    dim = pool.get("embedding_dimension", pool.get("word_embedding_dimension"))
    kind, precision = CONTENDERS[args.contender]
    if kind == "sentence-transformers":
        request, threads, extra = make_st(args.model, args.contender == "st-bf16", args.batch)
    elif kind == "onnxruntime":
        request, threads, extra = make_ort(args.model, args.contender == "ort-int8", args.batch, dim)
    else:
        int8_dir = ov_int8_dir(args.model, len(texts), args.batch) if args.contender == "ov-int8" else ""
        if args.quantize_only:
            quantize_ov(args.model, texts, args.batch, int8_dir)
            return
        if int8_dir and not os.path.exists(os.path.join(int8_dir, "model.xml")):
            subprocess.run([sys.executable] + sys.argv + ["--quantize-only"], check=True)
        request, threads, extra = make_ov(args.model, args.contender, int8_dir, args.batch, dim)
        if args.contender == "ov-bf16":
            precision = OV_PRECISION.get(extra["inference_precision"], extra["inference_precision"])
        kind = f"openvino {__import__('openvino').get_version().split('-')[0]}, INFERENCE_PRECISION_HINT {extra['inference_precision']}"
        if int8_dir:
            kind += f"; nncf {nncf_version()} static int8 calibrated on these texts"

    t0 = time.perf_counter()
    vectors = request(texts)  # warm-up, and the vectors compared with crossrank's
    first_s = time.perf_counter() - t0
    lat = []
    t0 = time.perf_counter()
    while len(lat) < args.max_reps and (len(lat) < args.min_reps or time.perf_counter() - t0 < args.budget):
        a = time.perf_counter()
        request(texts)
        lat.append(time.perf_counter() - a)
    elapsed = time.perf_counter() - t0
    lat_ms = sorted(x * 1000 for x in lat)

    def pct(p):  # nearest rank, as the Go harness
        return lat_ms[min(max(int(np.ceil(len(lat_ms) * p / 100)) - 1, 0), len(lat_ms) - 1)]

    res = {
        "contender": args.contender,
        "precision": precision,
        "model": os.path.basename(os.path.normpath(args.model)),
        "n": len(texts),
        "texts_per_s": len(texts) * len(lat) / elapsed,
        "latency_p50_ms": pct(50),
        "latency_p95_ms": pct(95),
        "peak_rss_mb": peak_rss_mb(),
        "first_request_s": first_s,
        "max_abs_diff": None,
        "dim": int(vectors.shape[1]),
        "reps": len(lat),
        "concurrency": 1,
        "threads": threads,
        "batch": args.batch,
        "notes": f"{kind}; batch {args.batch}, longest first, padded to each batch's longest; tokenization included",
        "vectors": vectors.astype(float).tolist(),
        **extra,
    }
    with open(args.json, "w") as f:
        json.dump(res, f)
    print(f"{args.contender} {res['model']} n={len(texts)}: p50 {res['latency_p50_ms']:.1f} ms, "
          f"{res['texts_per_s']:.1f} texts/s, RSS {res['peak_rss_mb']:.0f} MB, {len(lat)} reps")


if __name__ == "__main__":
    main()
