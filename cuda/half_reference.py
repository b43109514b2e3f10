#!/usr/bin/env python3
"""How far transformers itself lands from the fp32 golden logits when it runs
the fixture checkpoints in fp16 and bf16 (a tool; go test only reads its
output).

  python3 cuda/half_reference.py   # from the repository root, in the venv

Writes cuda/testdata/half-reference.json: {model: {"fp16": e, "bf16": e}},
e = max |logit - golden fp32 logit| over the golden records, each pair run
alone (transformers 5, PyTorch on the CPU). cuda's fixture test allows our
fp16/bf16 paths twice PyTorch's own error (and never less than the design's
2e-2): these small random-weight models amplify rounding, and PyTorch itself
misses 2e-2 on them.
"""
import gzip
import json
import os

import torch
import transformers
from transformers import AutoModelForSequenceClassification

MODELS = ["bert", "xlmr", "bert-2labels", "bert-fp16", "xlmr-bf16", "xlmr-sharded", "xlmr-long"]


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata")
    out = {"_generator": f"cuda/half_reference.py, transformers {transformers.__version__}, torch {torch.__version__}, CPU"}
    for name in MODELS:
        recs = [json.loads(l) for l in gzip.open(os.path.join(root, "golden", f"logits-{name}.jsonl.gz"), "rt")]
        keep = recs
        errs = {}
        for label, dt in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
            m = AutoModelForSequenceClassification.from_pretrained(os.path.join(root, "models", name), dtype=dt).eval()
            worst = 0.0
            with torch.inference_mode():
                for r in keep:
                    kw = {"input_ids": torch.tensor([r["input_ids"]])}
                    if r.get("token_type_ids") is not None:
                        kw["token_type_ids"] = torch.tensor([r["token_type_ids"]])
                    lg = m(**kw).logits[0].float()
                    worst = max(worst, (lg - torch.tensor(r["logits"])).abs().max().item())
            errs[label] = round(worst, 5)
        out[name] = errs
        print(name, errs, flush=True)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata", "half-reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
