"""Digests of every tensor of the fixture checkpoints, as safetensors' own
Python reader sees them, for weights/digests_test.go.

For each tensor: dtype, shape, the sha256 of its values converted to float32
(little-endian bytes), their sum and sum of squares (float64) and the first
8 values. Run from the repository root, with the venv:

    ~/.cache/crossrank/venv/bin/python weights/testdata/gen_digests.py

It rewrites weights/testdata/digests.json; rerun it when testdata/models changes.
"""

import glob
import hashlib
import json
import os

import torch
from safetensors import safe_open

MODELS = "testdata/models"
OUT = "weights/testdata/digests.json"

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    out = {}
    for model in sorted(os.listdir(MODELS)):
        files = sorted(glob.glob(os.path.join(MODELS, model, "*.safetensors")))
        if not files:
            continue
        tensors = {}
        for path in files:
            with safe_open(path, framework="pt") as f:
                for name in f.keys():
                    t = f.get_tensor(name)
                    v = t.to(torch.float32).contiguous()
                    flat = v.reshape(-1)
                    tensors[name] = {
                        "dtype": DTYPES[t.dtype],
                        "shape": list(t.shape),
                        "sha256_f32": hashlib.sha256(flat.numpy().astype("<f4").tobytes()).hexdigest(),
                        "sum": flat.double().sum().item(),
                        "sum_sq": (flat.double() ** 2).sum().item(),
                        "first": [float(x) for x in flat[:8].tolist()],
                    }
        out[model] = {
            "files": {os.path.basename(p): file_sha256(p) for p in files},
            "tensors": tensors,
        }
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
