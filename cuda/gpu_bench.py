#!/usr/bin/env python3
"""The PyTorch side of gpu-check.sh (a tool, never a dependency of go test).

  gpu_bench.py models DIR        random-weight checkpoints with the published
                                 configs of bge-reranker-base (XLM-R base) and
                                 ms-marco-MiniLM-L-6-v2 (BERT, 6 layers), plus
                                 a tokenizer copied from testdata so that
                                 sentence-transformers' CrossEncoder loads them
  gpu_bench.py torch DIR OUT     times CrossEncoder's model on the benchmark
                                 workload, fp32 and fp16; JSON lines to OUT
  gpu_bench.py table IN... MD    the markdown table of crossrank vs PyTorch

The workload matches cuda/bench_test.go: a 12-token query and N documents of
32 + (i*97) % 225 tokens, one request of N pairs. Both sides start from token
ids (tokenization is not timed on either side). PyTorch runs the pairs as
CrossEncoder.predict does: batches of 32 in order, padded to the longest pair
of the batch, then a sigmoid, and the scores copied to the host.
"""
import json
import os
import shutil
import statistics
import sys
import threading
import time

MODELS = {
    # BAAI/bge-reranker-base: XLMRobertaForSequenceClassification.
    "bge-reranker-base": dict(kind="xlm-roberta", hidden_size=768, num_hidden_layers=12,
                              num_attention_heads=12, intermediate_size=3072, vocab_size=250002,
                              max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5,
                              pad_token_id=1, bos_token_id=0, eos_token_id=2),
    # cross-encoder/ms-marco-MiniLM-L-6-v2: BertForSequenceClassification.
    "ms-marco-MiniLM-L-6-v2": dict(kind="bert", hidden_size=384, num_hidden_layers=6,
                                   num_attention_heads=12, intermediate_size=1536,
                                   vocab_size=30522, max_position_embeddings=512,
                                   type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0),
}
QUERY = 12


def lengths(n):
    return [32 + (i * 97) % 225 for i in range(n)]


def make_models(root):
    import torch
    from transformers import (BertConfig, BertForSequenceClassification, XLMRobertaConfig,
                              XLMRobertaForSequenceClassification)
    here = os.path.dirname(os.path.abspath(__file__))
    testdata = os.path.join(here, "..", "testdata", "models")
    torch.manual_seed(0)
    for name, c in MODELS.items():
        c = dict(c)
        kind = c.pop("kind")
        d = os.path.join(root, name)
        t0 = time.time()
        if kind == "bert":
            cfg = BertConfig(num_labels=1, hidden_act="gelu", **c)
            model = BertForSequenceClassification(cfg)
            tok = "bert"
        else:
            cfg = XLMRobertaConfig(num_labels=1, hidden_act="gelu", **c)
            model = XLMRobertaForSequenceClassification(cfg)
            tok = "xlmr"
        model.save_pretrained(d, safe_serialization=True)
        for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                  "sentencepiece.bpe.model"):
            src = os.path.join(testdata, tok, f)
            if os.path.exists(src):
                shutil.copy(src, d)
        print(f"{name}: {sum(p.numel() for p in model.parameters())/1e6:.1f}M parameters, "
              f"saved in {time.time()-t0:.1f}s", flush=True)


def pairs(kind, n):
    """Token ids and type ids per pair, laid out as the tokenizer would."""
    out = []
    x = 1000
    for dl in lengths(n):
        def nxt():
            nonlocal x
            x = 1000 + (x * 7919 + 13) % 20000
            return x
        if kind == "xlm-roberta":
            ids = [0] + [nxt() for _ in range(QUERY)] + [2, 2] + [nxt() for _ in range(dl)] + [2]
            types = [0] * len(ids)
        else:
            ids = [101] + [nxt() for _ in range(QUERY)] + [102]
            types = [0] * len(ids)
            ids += [nxt() for _ in range(dl)] + [102]
            types += [1] * (len(ids) - len(types))
        out.append((ids, types))
    return out


def torch_bench(root, out_path, seconds=2.0):
    import torch
    from sentence_transformers import CrossEncoder
    where = os.environ.get("GPU_BENCH_DEVICE", "cuda")  # cpu: a dry run of this script
    only = os.environ.get("GPU_BENCH_ONLY")  # one model's name, for a dry run
    dev = torch.cuda.get_device_name(0) if where == "cuda" else where
    res = []
    for name, c in MODELS.items():
        if only and name != only:
            continue
        d = os.path.join(root, name)
        for prec in ("fp32", "fp16"):
            ce = CrossEncoder(d, device=where)
            model = ce.model
            if prec == "fp16":
                model.half()
            model.eval()
            pad = c["pad_token_id"]

            def request(ps, batch=32):
                scores = []
                with torch.inference_mode():
                    for s in range(0, len(ps), batch):
                        chunk = ps[s:s + batch]
                        L = max(len(i) for i, _ in chunk)
                        ids = torch.full((len(chunk), L), pad, dtype=torch.long)
                        tt = torch.zeros((len(chunk), L), dtype=torch.long)
                        am = torch.zeros((len(chunk), L), dtype=torch.long)
                        for j, (i, t) in enumerate(chunk):
                            ids[j, :len(i)] = torch.tensor(i)
                            tt[j, :len(t)] = torch.tensor(t)
                            am[j, :len(i)] = 1
                        feats = {"input_ids": ids.to(where), "attention_mask": am.to(where)}
                        if c["kind"] == "bert":
                            feats["token_type_ids"] = tt.to(where)
                        logits = model(**feats).logits
                        scores.append(torch.sigmoid(logits.float()).cpu())
                return torch.cat(scores)

            def run(n, conc):
                ps = pairs(c["kind"], n)
                for _ in range(3):
                    request(ps)
                lats, lock = [], threading.Lock()
                start = time.perf_counter()

                def worker():
                    while time.perf_counter() - start < seconds:
                        t0 = time.perf_counter()
                        request(ps)
                        with lock:
                            lats.append(time.perf_counter() - t0)
                ts = [threading.Thread(target=worker) for _ in range(conc)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                el = time.perf_counter() - start
                lats.sort()
                r = dict(model=name, impl="pytorch", precision=prec, n=n, concurrency=conc,
                         median_ms=1000 * statistics.median(lats), p90_ms=1000 * lats[len(lats) * 9 // 10],
                         docs_per_s=len(lats) * n / el, requests=len(lats), device=dev)
                print(json.dumps(r), flush=True)
                res.append(r)
            run(20, 1)
            run(100, 1)
            run(20, 16)
            del ce, model
            if where == "cuda":
                torch.cuda.empty_cache()
    with open(out_path, "w") as f:
        for r in res:
            f.write(json.dumps(r) + "\n")


def table(inputs, md_path):
    rows = []
    for p in inputs:
        if os.path.exists(p):
            with open(p) as f:
                rows += [json.loads(l) for l in f if l.strip()]
    key = lambda r: (r["model"], r["n"], r["concurrency"], r["impl"], r["precision"])
    by = {key(r): r for r in rows}
    dev = next((r["device"] for r in rows if r["impl"] == "pytorch"), "?")
    lines = [f"# crossrank-cuda vs PyTorch CrossEncoder ({dev}, {time.strftime('%Y-%m-%d')})", "",
             "One request = a 12-token query and N documents of 32-256 tokens, from token ids. "
             "Latency: median per request; throughput: documents per second. "
             "Ratios: crossrank / PyTorch at the same precision (throughput: higher is better; latency: lower is better); "
             "the last two columns: crossrank at this precision / PyTorch fp16.", "",
             "| model | N | conc | precision | crossrank ms | PyTorch ms | latency ratio | crossrank docs/s | PyTorch docs/s | throughput ratio | latency / PyTorch fp16 | throughput / PyTorch fp16 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in MODELS:
        for n, conc in ((20, 1), (100, 1), (20, 16)):
            for prec in ("fp32", "fp16"):
                a, b = by.get((m, n, conc, "crossrank-cuda", prec)), by.get((m, n, conc, "pytorch", prec))
                f = lambda r, k, fmt: (fmt % r[k]) if r else "-"
                lr = "%.2f" % (a["median_ms"] / b["median_ms"]) if a and b else "-"
                tr = "%.2f" % (a["docs_per_s"] / b["docs_per_s"]) if a and b else "-"
                h = by.get((m, n, conc, "pytorch", "fp16"))
                lh = "%.2f" % (a["median_ms"] / h["median_ms"]) if a and h else "-"
                th = "%.2f" % (a["docs_per_s"] / h["docs_per_s"]) if a and h else "-"
                lines.append(f"| {m} | {n} | {conc} | {prec} | {f(a,'median_ms','%.2f')} | {f(b,'median_ms','%.2f')} | {lr} | "
                             f"{f(a,'docs_per_s','%.0f')} | {f(b,'docs_per_s','%.0f')} | {tr} | {lh} | {th} |")
    cr = next((r["device"] for r in rows if r["impl"] == "crossrank-cuda"), None)
    if cr:
        lines += ["", f"crossrank backend: {cr}"]
    with open(md_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "models":
        make_models(sys.argv[2])
    elif cmd == "torch":
        torch_bench(sys.argv[2], sys.argv[3], float(os.environ.get("CROSSRANK_BENCH_SECONDS", "8")) / 4)
    elif cmd == "table":
        table(sys.argv[2:-1], sys.argv[-1])
    else:
        sys.exit(__doc__)
