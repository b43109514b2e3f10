#!/usr/bin/env python3
"""Times one Python peer on one model and workload set, in this process.

Contenders (each run in its own process by run.py, so peak RSS is its own):
  st-fp32     sentence-transformers CrossEncoder, PyTorch fp32, its default
              batch size (32) and torch's default threads; batches built as
              CrossEncoder.predict builds them (pairs sorted longest first,
              each batch padded to its longest).
  st-bf16     the same with its fastest CPU setting: torch threads = cores and
              bf16 autocast (oneDNN runs the matrix products on AMX/AVX512-BF16
              where the CPU has them).
  ort-fp32    ONNX Runtime (CPU provider, intra-op threads = cores) on
              onnx/model.onnx, same batching.
  ort-int8    the same on onnx/model.int8.onnx (dynamic int8 quantisation).
  ov-fp32     OpenVINO's CPU plugin on onnx/model.onnx, same batching,
              PERFORMANCE_HINT LATENCY, INFERENCE_PRECISION_HINT f32.
  ov-bf16     the same at the plugin's default precision: bf16 where the CPU
              has AMX or AVX512-BF16 (the row records what the plugin reports
              in "inference_precision"; fp32 where it reports f32).
  ov-int8     NNCF static int8 (nncf.quantize, ModelType.TRANSFORMER, as
              sentence-transformers' export_static_quantized_openvino_model
              does) calibrated on this set's own batches, compiled at the
              plugin's default precision. XLM-R: the embedding lookups
              (Gather) are left in float, without which the plugin fails to
              compile the quantised model. Quantised in a child process and
              kept beside the ONNX export, so the row's peak RSS is serving's.

  genai-fp32  OpenVINO GenAI's TextRerankPipeline (Qwen3 stand-ins) on the
  genai-bf16  set's text, tokenized by the workload's BERT tokenizer converted
              with openvino_tokenizers (it gives back the set's ids), left
              padding, all documents in one call; f32 or the default precision.

For Qwen3 stand-ins st-fp32 and st-bf16 run Qwen3-Reranker's card's code
(Qwen3ForCausalLM, left padding, the last position's "yes" and "no"), not
sentence-transformers.

Every contender but genai-* is fed the workload's input_ids directly (no tokenizer runs,
as for crossrank's library contender). The figures are written as one JSON
object (the fields of results.json plus the per-pair logits) to --json.

usage: python bench_peers.py --contender st-fp32 --model DIR --set short --n 20 --json out.json
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

CONTENDERS = {
    "st-fp32": ("sentence-transformers", "fp32"),
    "st-bf16": ("sentence-transformers", "bf16-autocast"),
    "ort-fp32": ("onnxruntime", "fp32"),
    "ort-int8": ("onnxruntime", "int8"),
    "ov-fp32": ("openvino", "fp32"),
    "ov-bf16": ("openvino", "bf16"),  # what the plugin reports replaces it
    "ov-int8": ("openvino", "int8"),
    "genai-fp32": ("openvino-genai", "fp32"),
    "genai-bf16": ("openvino-genai", "bf16"),  # what the plugin reports replaces it
}
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def load_set(path, name, family, n):
    with open(path) as f:
        w = json.load(f)
    for s in w["sets"]:
        if s["name"] == name and s["family"] == family and s["n"] == n:
            return s
    sys.exit(f"bench_peers: no set {name}/{family}/n{n} in {path}")


# The workload family whose token ids each model_type reads, and whether it
# takes token_type_ids. The ids are only indices for a stand-in: ModernBERT
# reads the xlmr sets (ids below 3,622), Qwen3 the bert sets (below 30,522);
# benchmarks.Describe says the same for crossrank.
MODEL_TYPES = {
    "bert": ("bert", True),
    "xlm-roberta": ("xlmr", False),
    "modernbert": ("xlmr", False),
    "qwen3": ("bert", False),
}
# The lm_head rows a Qwen3 CausalLM stand-in is scored with (yes - no): any
# two fixed ids for random weights; benchmarks/arch.go's Qwen3YesID and
# Qwen3NoID are the same two.
QWEN3_YES, QWEN3_NO = 9693, 2152
# Qwen's <|endoftext|>, its tokenizer's pad token.
QWEN3_PAD = 151643


def batches(pairs, batch_size, pad_id, left=False):
    """CrossEncoder.predict's batching: longest first, each batch padded to
    its longest (on the left with left=True, as Qwen3-Reranker's card pads).
    Returns (order, [(ids, mask, types)])."""
    order = sorted(range(len(pairs)), key=lambda i: -len(pairs[i]["input_ids"]))
    out = []
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        L = max(len(pairs[i]["input_ids"]) for i in idx)
        ids = np.full((len(idx), L), pad_id, dtype=np.int64)
        mask = np.zeros((len(idx), L), dtype=np.int64)
        types = np.zeros((len(idx), L), dtype=np.int64)
        for r, i in enumerate(idx):
            p = pairs[i]
            n = len(p["input_ids"])
            cols = slice(L - n, L) if left else slice(0, n)
            ids[r, cols] = p["input_ids"]
            mask[r, cols] = 1
            types[r, cols] = p["token_type_ids"]
        out.append((idx, ids, mask, types))
    return out


def make_torch(model_dir, bf16, use_types):
    import torch
    from sentence_transformers import CrossEncoder

    if bf16:
        torch.set_num_threads(os.cpu_count())
    ce = CrossEncoder(model_dir, device="cpu")
    model = ce.model.eval()

    def run(ids, mask, types):
        feats = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
        if use_types:
            feats["token_type_ids"] = torch.from_numpy(types)
        with torch.inference_mode():
            if bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    out = model(**feats).logits
            else:
                out = model(**feats).logits
        return out.float()[:, 0].numpy()

    return run, torch.get_num_threads()


def make_qwen3(model_dir, bf16):
    """Qwen3-Reranker's card's code: Qwen3ForCausalLM on left-padded
    batches, the logits of the last position, "yes" against "no". The card
    calls model(**inputs).logits, which computes lm_head's 151,669 rows at
    every position; so does this. The row's logit is yes - no (the card's
    score is its sigmoid), as crossrank's."""
    import torch
    from transformers import AutoModelForCausalLM

    if bf16:
        torch.set_num_threads(os.cpu_count())
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()

    def run(ids, mask, types):
        with torch.inference_mode():
            feats = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
            if bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    last = model(**feats).logits[:, -1, :]
            else:
                last = model(**feats).logits[:, -1, :]
            last = last.float()
        return (last[:, QWEN3_YES] - last[:, QWEN3_NO]).numpy()

    return run, torch.get_num_threads()


def make_ort(model_dir, int8):
    import onnxruntime as ort

    path = os.path.join(model_dir, "onnx", "model.int8.onnx" if int8 else "model.onnx")
    so = ort.SessionOptions()
    so.intra_op_num_threads = os.cpu_count()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}

    def run(ids, mask, types):
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = types
        return sess.run(["logits"], feed)[0].reshape(len(ids), -1)[:, 0].astype(np.float32)

    return run, os.cpu_count()


def peak_rss_mb():
    """This process's peak resident set (VmHWM), in MB, as the Go contenders
    report it. Not ru_maxrss: Linux carries the parent's high-water mark
    through fork and exec into it, so every peer started by run.py (torch and
    transformers imported, GBs after a model export) would report at least
    run.py's own peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ov_int8_dir(model_dir, set_name, n, batch):
    """Where ov-int8's quantised model for this set and batching is kept:
    beside the ONNX export, named by the calibration data and the versions
    that made it (a version bump quantises afresh)."""
    import openvino

    v = openvino.get_version().split("-")[0]
    return os.path.join(model_dir, "openvino", f"int8-{set_name}-n{n}-b{batch}-ov{v}-nncf{nncf_version()}")


def nncf_version():
    # Not `import nncf`: it imports torch, whose memory would land in the
    # serving process's peak RSS.
    from importlib.metadata import version

    return version("nncf")


def ov_feed(names, ids, mask, types):
    feed = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in names:
        feed["token_type_ids"] = types
    return feed


def quantize_ov(model_dir, family, bs, out):
    """NNCF static int8 of onnx/model.onnx, calibrated on the request's own
    batches (every one of them), saved as OpenVINO IR in out/."""
    import nncf
    import openvino as ov

    core = ov.Core()
    model = core.read_model(os.path.join(model_dir, "onnx", "model.onnx"))
    names = {i.get_any_name() for i in model.inputs}
    data = [ov_feed(names, ids, mask, types) for _, ids, mask, types in bs]
    kw = {}
    if family == "xlmr":  # XLM-R and ModernBERT
        # Quantised embedding lookups make the CPU plugin's constant folding
        # fail to compile the XLM-R graph; leaving every Gather in float
        # fixes it (the matrix products are quantised either way).
        kw["ignored_scope"] = nncf.IgnoredScope(types=["Gather"])
    t0 = time.perf_counter()
    q = nncf.quantize(model, nncf.Dataset(data), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(data), **kw)
    tmp = out + ".tmp"
    ov.save_model(q, os.path.join(tmp, "model.xml"), compress_to_fp16=False)
    os.replace(tmp, out)
    print(f"ov-int8: quantised {os.path.basename(os.path.normpath(model_dir))} in {time.perf_counter() - t0:.0f}s into {out}", flush=True)


def make_ov(model_dir, contender, int8_dir):
    import openvino as ov

    core = ov.Core()
    path = os.path.join(int8_dir, "model.xml") if contender == "ov-int8" else os.path.join(model_dir, "onnx", "model.onnx")
    model = core.read_model(path)
    names = {i.get_any_name() for i in model.inputs}
    config = {"PERFORMANCE_HINT": "LATENCY"}
    if contender == "ov-fp32":
        config["INFERENCE_PRECISION_HINT"] = "f32"
    compiled = core.compile_model(model, "CPU", config)
    req = compiled.create_infer_request()
    port = compiled.output(0)

    def run(ids, mask, types):
        return np.asarray(req.infer(ov_feed(names, ids, mask, types))[port]).reshape(len(ids), -1)[:, 0].astype(np.float32)

    hint = compiled.get_property("INFERENCE_PRECISION_HINT")
    reported = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
    return run, int(compiled.get_property("INFERENCE_NUM_THREADS")), reported


def genai_dir(model_dir):
    """Where the OpenVINO GenAI folder of a stand-in is kept: beside its
    ONNX export, named by the OpenVINO version that converted it."""
    import openvino

    v = openvino.get_version().split("-")[0]
    return os.path.join(model_dir, "openvino", f"genai-v2-ov{v}")


def prepare_genai(model_dir, tokenizer_dir, out):
    """A folder TextRerankPipeline loads: the ONNX export (Qwen3: the last
    position's yes - no, the seq-cls form's one logit) converted to IR, the
    workload family's tokenizer converted by openvino_tokenizers (its text
    of the set gives back the set's ids), and config.json."""
    import shutil

    import openvino as ov
    from openvino_tokenizers import convert_tokenizer
    from transformers import AutoTokenizer

    tmp = out + ".tmp"
    os.makedirs(tmp, exist_ok=True)
    t0 = time.perf_counter()
    model = ov.convert_model(os.path.join(model_dir, "onnx", "model.onnx"))
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    if cfg["model_type"] == "qwen3":
        # With model_type qwen3 the pipeline frames the query and documents
        # itself (on a tiny stand-in its scores matched neither the pair's
        # ids nor the joined text), so it would score other tokens than
        # every other contender. As a BERT-type cross-encoder it tokenizes
        # the pair with the tokenizer's template, the workload's ids (on the
        # tiny stand-in within 2e-7 of ONNX Runtime on those ids, left
        # padded); that form feeds token_type_ids, which the graph ignores.
        cfg = dict(cfg, model_type="bert", architectures=["BertForSequenceClassification"])
        types = ov.opset13.parameter([-1, -1], ov.Type.i64, name="token_type_ids")
        types.output(0).get_tensor().set_names({"token_type_ids"})
        model = ov.Model(model.get_results(), list(model.get_parameters()) + [types], "qwen3-rerank")
    ov.save_model(model, os.path.join(tmp, "openvino_model.xml"), compress_to_fp16=False)
    tok, detok = convert_tokenizer(AutoTokenizer.from_pretrained(tokenizer_dir), with_detokenizer=True)
    ov.save_model(tok, os.path.join(tmp, "openvino_tokenizer.xml"))
    ov.save_model(detok, os.path.join(tmp, "openvino_detokenizer.xml"))
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.replace(tmp, out)
    print(f"genai: converted {os.path.basename(os.path.normpath(model_dir))} in {time.perf_counter() - t0:.0f}s into {out}", flush=True)


def make_genai(folder, contender, n, left):
    """OpenVINO GenAI's TextRerankPipeline on text: it tokenizes the query
    and documents itself and returns sigmoid scores, turned back into
    logits here."""
    import openvino_genai as og

    cfg = og.TextRerankPipeline.Config()
    cfg.top_n = n
    if left:
        cfg.padding_side = "left"
    props = {"PERFORMANCE_HINT": "LATENCY"}
    if contender == "genai-fp32":
        props["INFERENCE_PRECISION_HINT"] = "f32"
    pipe = og.TextRerankPipeline(folder, "CPU", cfg, **props)

    def run(query, texts):
        out = np.zeros(len(texts), dtype=np.float32)
        for i, score in pipe.rerank(query, texts):
            p = min(max(float(score), 1e-30), 1 - 1e-7)
            out[i] = np.log(p) - np.log1p(-p)
        return out

    return run


# The OpenVINO element type names INFERENCE_PRECISION_HINT reports, as the
# precision column spells them.
OV_PRECISION = {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--contender", required=True, choices=sorted(CONTENDERS))
    ap.add_argument("--model", required=True, help="stand-in folder from gen_models.py")
    ap.add_argument("--workload", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "workload.json"))
    ap.add_argument("--set", default="short")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--budget", type=float, default=10.0, help="seconds of latency sampling once --min-reps are in")
    ap.add_argument("--min-reps", type=int, default=5)
    ap.add_argument("--max-reps", type=int, default=200)
    ap.add_argument("--json", required=True)
    ap.add_argument("--quantize-only", action="store_true", help=argparse.SUPPRESS)  # ov-int8's child process
    args = ap.parse_args()

    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    if cfg["model_type"] not in MODEL_TYPES:
        sys.exit(f"bench_peers: model_type {cfg['model_type']!r} is not one the harness runs ({', '.join(MODEL_TYPES)})")
    family, use_types = MODEL_TYPES[cfg["model_type"]]
    qwen3 = cfg["model_type"] == "qwen3"
    s = load_set(args.workload, args.set, family, args.n)
    pairs = s["pairs"]
    if max(max(p["input_ids"]) for p in pairs) >= cfg["vocab_size"]:
        sys.exit("bench_peers: workload ids beyond the model's vocab")

    kind, precision = CONTENDERS[args.contender]
    pad = (cfg.get("pad_token_id") or QWEN3_PAD) if qwen3 else (cfg.get("pad_token_id") or 0)
    bs = batches(pairs, args.batch, pad, left=qwen3)
    extra = {}
    request = None
    if kind == "openvino-genai":
        folder = genai_dir(args.model)
        if args.quantize_only:
            with open(args.workload) as f:
                tok_file = json.load(f)["families"][family]["tokenizer"]
            prepare_genai(args.model, os.path.join(ROOT, os.path.dirname(tok_file)), folder)
            return
        if not os.path.exists(os.path.join(folder, "openvino_model.xml")):
            # The conversion's memory stays out of this process's peak RSS.
            subprocess.run([sys.executable] + sys.argv + ["--quantize-only"], check=True)
        gen = make_genai(folder, args.contender, len(pairs), qwen3)
        texts = [p["text"] for p in pairs]

        def request():
            return gen(s["query"], texts)

        import openvino

        threads = os.cpu_count()
        precision = "fp32" if args.contender == "genai-fp32" else "bf16"
        kind = (f"openvino-genai {openvino.get_version().split('-')[0]} TextRerankPipeline on the set's text (its tokenizer: the workload "
                f"family's, converted by openvino_tokenizers), {'INFERENCE_PRECISION_HINT f32' if args.contender == 'genai-fp32' else 'default precision'}"
                f"{', left padding' if qwen3 else ''}; all documents in one call")
    elif kind == "sentence-transformers" and qwen3:
        run, threads = make_qwen3(args.model, args.contender == "st-bf16")
        kind = "transformers Qwen3ForCausalLM as Qwen3-Reranker's card runs it (left padding, logits[:, -1], yes - no)" + (
            ", bf16 autocast" if args.contender == "st-bf16" else "")
    elif kind == "sentence-transformers":
        run, threads = make_torch(args.model, args.contender == "st-bf16", use_types)
    elif kind == "onnxruntime":
        run, threads = make_ort(args.model, args.contender == "ort-int8")
    else:
        int8_dir = ov_int8_dir(args.model, args.set, args.n, args.batch) if args.contender == "ov-int8" else ""
        if args.quantize_only:
            quantize_ov(args.model, family, bs, int8_dir)
            return
        if int8_dir and not os.path.exists(os.path.join(int8_dir, "model.xml")):
            # NNCF's own memory (GBs on the large shapes) stays out of this
            # process's peak RSS.
            subprocess.run([sys.executable] + sys.argv + ["--quantize-only"], check=True)
        run, threads, reported = make_ov(args.model, args.contender, int8_dir)
        extra["inference_precision"] = reported
        if args.contender == "ov-bf16":
            precision = OV_PRECISION.get(reported, reported)
        kind = f"openvino {__import__('openvino').get_version().split('-')[0]}, INFERENCE_PRECISION_HINT {reported}"
        if int8_dir:
            kind += f"; nncf {nncf_version()} static int8 calibrated on this set" + (", Gather left in float" if family == "xlmr" else "")

    if request is None:

        def request():
            out = np.zeros(len(pairs), dtype=np.float32)
            for idx, ids, mask, types in bs:
                out[idx] = run(ids, mask, types)
            return out

    logits = request()  # warm-up (and the logits compared with crossrank's)
    lat = []
    t0 = time.perf_counter()
    while len(lat) < args.max_reps and (len(lat) < args.min_reps or time.perf_counter() - t0 < args.budget):
        a = time.perf_counter()
        request()
        lat.append(time.perf_counter() - a)
    elapsed = time.perf_counter() - t0
    lat_ms = sorted(x * 1000 for x in lat)

    def pct(p):  # nearest rank, as the Go harness
        k = min(max(int(np.ceil(len(lat_ms) * p / 100)) - 1, 0), len(lat_ms) - 1)
        return lat_ms[k]

    if kind.startswith("openvino-genai"):
        # One call with every document: padded to the longest pair
        # (pad_to_max_length is off).
        padded_tokens = len(pairs) * max(len(p["input_ids"]) for p in pairs)
    else:
        padded_tokens = sum(ids.size for _, ids, _, _ in bs)
    res = {
        "contender": args.contender,
        "precision": precision,
        "model": os.path.basename(os.path.normpath(args.model)),
        "n": args.n,
        # One request at a time: torch and ONNX Runtime already spread each
        # batch over every intra-op thread, and a second request in a Python
        # process would only contend for the same threads.
        "pairs_per_s": args.n * len(lat) / elapsed,
        "latency_p50_ms": pct(50),
        "latency_p95_ms": pct(95),
        "peak_rss_mb": peak_rss_mb(),
        "max_abs_logit_diff": None,
        "set": args.set,
        "tokens": sum(len(p["input_ids"]) for p in pairs),
        "padded_tokens": padded_tokens,
        "reps": len(lat),
        "concurrency": 1,
        "threads": threads,
        "batch": args.batch,
        "notes": kind if kind.startswith("openvino-genai") else f"{kind}; batch {args.batch}, longest first, padded to each batch's longest",
        "logits": [float(x) for x in logits],
        **extra,
    }
    with open(args.json, "w") as f:
        json.dump(res, f)
    print(
        f"{args.contender} {res['model']} n={args.n}: p50 {res['latency_p50_ms']:.1f} ms, "
        f"{res['pairs_per_s']:.1f} pairs/s, RSS {res['peak_rss_mb']:.0f} MB, {len(lat)} reps"
    )


if __name__ == "__main__":
    main()
