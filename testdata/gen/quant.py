"""golden/quant-bert.json.gz: crossrank's int8 and bf16 schemes computed independently, in numpy and torch.

The scheme is the one internal/gemm documents (int8.go, bf16.go); this file
computes it from that description with numpy's float32 arithmetic, never from
crossrank's code or output, so a change to the Go quantiser (a scale off, a
level count halved, rounding that is not to nearest even) breaks a bit-for-bit
comparison instead of hiding behind an oracle that shares its helpers.

int8, C = A·Wᵀ + bias:
  - W [n, k], per output channel j (symmetric): mx = max|W[j,:]| (float32),
    scale sw[j] = mx / 127, q = clip(rint(W * (127 / mx)), -127, 127), each
    operation rounded to float32; a row of zeros has scale 0 and codes 0.
  - A [m, k], per row (token) i (asymmetric, unsigned): lo = min(0, min A[i]),
    hi = max(0, max A[i]), sa[i] = (hi - lo) / 255, inv = 255 / (hi - lo),
    zp[i] = clip(rint(-lo * inv), 0, 255), q = clip(rint(A * inv) + zp, 0, 255);
    a row of zeros has scale 0, zero point 0, codes 0.
  - sum[i, j] = Σ_p (qa[i,p] - zp[i]) * qw[j,p] (exact, int64 here),
    C = float32(float32(sum) * float32(sa[i] * sw[j])) + bias[j], each step
    rounded to float32.
  rint is round half to even, as VCVTPS2DQ under the default MXCSR.

bf16: torch's float32 -> bfloat16 conversion (round to nearest, ties to even)
of W and A, as raw bits. (The Go test computes C's exact value from these
bits in float64 and bounds the kernels' float32 accumulation error.)

external: the logit error of PyTorch's own reduced-precision paths on each
fixture checkpoint against its fp32 logits golden (the same pairs), which the
Go tests of the int8/bf16 backends use to justify their per-fixture bounds:
  - torch_int8_dynamic: torch.ao.quantization.quantize_dynamic on every
    nn.Linear, qint8, default qconfig (per-tensor weights, activations
    quantised per tensor with x86's reduce_range: 7 bits).
  - torch_int8_dynamic_per_channel: the same with per_channel_dynamic_qconfig
    (per-channel weights, as crossrank's).
  - torch_bf16: the model cast to bfloat16 (every op in bf16).
"""

import json
import os

import numpy as np
import torch

F32 = np.float32


def f32list(a):
    return [float(F32(v)) for v in np.asarray(a, dtype=F32).reshape(-1)]


def quant_weights(w):
    """Per-channel symmetric int8 codes and scales of w [n, k] (float32)."""
    n, k = w.shape
    scale = np.zeros(n, dtype=F32)
    q = np.zeros((n, k), dtype=np.int32)
    for j in range(n):
        mx = np.max(np.abs(w[j])).astype(F32)
        if mx == 0:
            continue
        scale[j] = F32(mx) / F32(127)
        inv = F32(127) / F32(mx)
        q[j] = np.clip(np.rint((w[j] * inv).astype(F32)), -127, 127).astype(np.int32)
    return scale, q


def quant_acts(a):
    """Per-row asymmetric uint8 codes, scales and zero points of a [m, k]."""
    m, k = a.shape
    scale = np.zeros(m, dtype=F32)
    zp = np.zeros(m, dtype=np.int32)
    q = np.zeros((m, k), dtype=np.int32)
    for i in range(m):
        lo = min(F32(0), a[i].min())
        hi = max(F32(0), a[i].max())
        if hi == lo:
            continue
        rng = F32(hi - lo)
        scale[i] = rng / F32(255)
        inv = F32(255) / rng
        zp[i] = int(np.clip(np.rint(F32(-lo * inv)), 0, 255))
        q[i] = np.clip(np.rint((a[i] * inv).astype(F32)).astype(np.int64) + zp[i], 0, 255)
    return scale, zp, q


def int8_output(qa, sa, zp, qw, sw, bias):
    sums = (qa.astype(np.int64) - zp[:, None].astype(np.int64)) @ qw.astype(np.int64).T
    assert np.abs(sums).max() < 2 ** 24, "sums must convert to float32 exactly"
    s = (sa[:, None] * sw[None, :]).astype(F32)
    v = (sums.astype(F32) * s).astype(F32)
    return (v + bias[None, :].astype(F32)).astype(F32)


def bf16_bits(x):
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=F32)).to(torch.bfloat16)
    return t.view(torch.int16).numpy().astype(np.int64) & 0xFFFF


def case(name, w, bias, a, tensor=None):
    """One product's expectations. With tensor (a checkpoint's Linear name), W and
    bias are read by the test from models/bert's model.safetensors (tensor +
    ".weight", ".bias"), not repeated here."""
    w, bias, a = (np.ascontiguousarray(x, dtype=F32) for x in (w, bias, a))
    n, k = w.shape
    m = a.shape[0]
    assert a.shape[1] == k and bias.shape == (n,)
    sw, qw = quant_weights(w)
    sa, zp, qa = quant_acts(a)
    wb, ab = bf16_bits(w), bf16_bits(a)
    rec = {"name": name, "m": m, "k": k, "n": n}
    if tensor:
        rec["tensor"] = tensor
    else:
        rec["weight"], rec["bias"] = f32list(w), f32list(bias)
    return rec | {
        "input": f32list(a),
        "int8": {
            "weight_scale": f32list(sw), "weight_q": qw.reshape(-1).tolist(),
            "input_scale": f32list(sa), "input_zero_point": zp.tolist(), "input_q": qa.reshape(-1).tolist(),
            "output": f32list(int8_output(qa, sa, zp, qw, sw, bias)),
        },
        "bf16": {
            "weight_bits": wb.reshape(-1).tolist(), "input_bits": ab.reshape(-1).tolist(),
        },
    }


def edge_case():
    """A small W and A that exercise the corners: a row of zeros, exact ties
    (x * inv = n + 1/2: half to even, not away from zero), an all-negative and an
    all-positive row, bf16 ties, and k = 7 (not a multiple of the kernels' 4)."""
    h = 2.0 ** -8  # half a bf16 step at 1
    w = np.array([
        [0, 0, 0, 0, 0, 0, 0],  # zero scale
        [127, 0.5, 1.5, 2.5, -3.5, 0, -126.5],  # max 127: inv = 1, ties
        [-127, -0.5, 4.5, -5.5, 6.5, 1, 2],  # the max is negative
        [1 + h, 1 + 3 * h, -(1 + h), -(1 + 3 * h), 2 + 2 * h, 0.25, -0.125],  # bf16 ties
        [0.3, -0.7, 0.11, 0.9, -0.05, 0.62, -0.33],
    ])
    bias = np.array([0.5, -1.0, 0.0, 0.25, 2.0])
    a = np.array([
        [0, 0, 0, 0, 0, 0, 0],  # zero scale and zero point
        [255, 2.5, 3.5, 0.5, 1.5, 0, 254.5],  # lo 0, hi 255: inv = 1, zp 0, ties
        [-255, -2.5, -3.5, -0.5, -1.5, 0, -254.5],  # hi 0: zp 255
        [-1, 3, 0.2, -0.6, 2.9, 1e-3, -1e-3],
        [1 + h, 1 + 3 * h, -(1 + h), 0.1, 0.2, 0.3, 0.4],
    ])
    return case("edge", w, bias, a)


def layer_inputs(model, tok, query, document, tokens=16):
    """The inputs of layer 0's intermediate.dense and output.dense for one pair
    (the first tokens rows)."""
    got = {}
    layer = model.bert.encoder.layer[0]
    hooks = [layer.intermediate.dense.register_forward_hook(lambda m, i, o: got.__setitem__("inter", i[0][0])),
             layer.output.dense.register_forward_hook(lambda m, i, o: got.__setitem__("out", i[0][0]))]
    with torch.no_grad():
        model(**tok(query, document, return_tensors="pt", return_token_type_ids=True))
    for hk in hooks:
        hk.remove()
    return got["inter"].numpy()[:tokens], got["out"].numpy()[:tokens], layer


def external(model_names, load_model, read_logits):
    """PyTorch's own int8 and bf16 logit errors against each fixture's fp32 golden."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    torch.backends.quantized.engine = "x86"
    res = {}
    for name in model_names:
        recs = read_logits(name)
        fp32 = load_model(name)
        variants = {
            "torch_int8_dynamic": quantize_dynamic(load_model(name), {torch.nn.Linear}, dtype=torch.qint8),
            "torch_int8_dynamic_per_channel": quantize_dynamic(
                load_model(name), {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8),
            "torch_bf16": load_model(name).to(torch.bfloat16),
        }
        out = {"pairs": len(recs)}
        for label, m in variants.items():
            errs = []
            with torch.no_grad():
                for r in recs:
                    ids = torch.tensor([r["input_ids"]])
                    kw = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
                    if fp32.config.model_type == "bert":
                        kw["token_type_ids"] = torch.tensor([r["token_type_ids"]])
                    got = m(**kw).logits[0].float().numpy()
                    errs.extend(abs(float(g) - w) for g, w in zip(got, r["logits"]))
            out[label] = {"max": round(max(errs), 6), "mean": round(sum(errs) / len(errs), 6)}
        res[name] = out
    return res


def step_quant(out, model_names, load_model, load_tokenizer, read_logits, hidden_inputs):
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    model = load_model("bert")
    tok = load_tokenizer("bert")
    q, d = hidden_inputs[0]
    inter_in, out_in, layer = layer_inputs(model, tok, q, d)
    sd = lambda p: p.detach().numpy()  # noqa: E731
    inter, outd = "bert.encoder.layer.0.intermediate.dense", "bert.encoder.layer.0.output.dense"
    cases = [
        case(inter, sd(layer.intermediate.dense.weight), sd(layer.intermediate.dense.bias), inter_in, tensor=inter),
        case(outd, sd(layer.output.dense.weight), sd(layer.output.dense.bias), out_in, tensor=outd),
        edge_case(),
    ]
    rec = {"model": "models/bert", "pair": {"query": q, "document": d}, "cases": cases,
           "external": external(model_names, load_model, read_logits)}
    return rec
