#!/usr/bin/env python3
"""The Embeddings benchmark (issue 22): embedding throughput against the
peers, and crossrank's hybrid search latency, each contender in its own
process, one after another; rows filed per machine family as run.py files
the re-ranking rows, in embed_results.json and embed_results.meta.json, and
rendered as each family's "Embeddings" part of RESULTS.md (run.py's
write_markdown calls family_markdown here).

Embedding throughput: the workload's short-set documents as text (--n: 100,
the N = 100 set; 120, all short-set documents), on all-MiniLM-L6-v2 (real
weights) and a bge-base-en-v1.5 stand-in (gen_embed_models.py). Contenders:
crossrank, crossrank-bf16, crossrank-int8 (`crossrank bench embed`), and the
peers of embed_peers.py: st-fp32, st-bf16, ort-fp32, ort-int8, ov-fp32,
ov-bf16, ov-int8. Every row's max |Δ| is against crossrank fp32's vectors of
the same texts (crossrank fp32's own: against st-fp32).

Hybrid search: `crossrank bench hybrid` over a seeded synthetic corpus of
--hybrid-docs documents (default 10,000), the embedder --hybrid-embed
(default all-MiniLM-L6-v2) and the ms-marco-MiniLM-L-6-v2 stand-in as the
re-ranker (gen_models.py), fp32.

usage: python benchmarks/run_embed.py [--models a,b] [--n 100,120] [--contenders ...]
                                      [--budget S] [--hybrid-docs 10000] [--out DIR]
"""

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import gen_embed_models  # noqa: E402
import gen_models  # noqa: E402
import run  # noqa: E402  (machine, versions, family titles, cache)

CROSSRANK = ["crossrank", "crossrank-bf16", "crossrank-int8"]
PEERS = ["st-fp32", "st-bf16", "ort-fp32", "ort-int8", "ov-fp32", "ov-bf16", "ov-int8"]
DEFAULT = CROSSRANK + PEERS
HYBRID = "crossrank-hybrid"
ROWS, META = "embed_results.json", "embed_results.meta.json"
# An fp32 peer's unit vectors agree with crossrank's to about 1e-6 per
# component; 1e-3 is far above any summation order and far below what
# another function gives (random unit vectors of 384 components differ by ~0.1).
FP32_AGREE = 1e-3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(gen_embed_models.MODELS), help="comma-separated (default: %(default)s)")
    ap.add_argument("--n", default="100,120", help="texts per request: 100 (the N = 100 set), 120 (all short-set documents)")
    ap.add_argument("--contenders", default=",".join(DEFAULT), help="comma-separated (default: %(default)s)")
    ap.add_argument("--budget", type=float, default=10.0, help="seconds per timing phase")
    ap.add_argument("--min-reps", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=0, help="crossrank's throughput phase: requests at once (0: GOMAXPROCS, 1: skip)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds one contender may take on one cell before it is left out")
    ap.add_argument("--hybrid-docs", type=int, default=10000, help="documents in the hybrid search corpus (0: no hybrid run)")
    ap.add_argument("--hybrid-queries", type=int, default=50)
    ap.add_argument("--hybrid-embed", default="all-MiniLM-L6-v2", help="the hybrid run's embedder (a gen_embed_models name)")
    ap.add_argument("--hybrid-rerank", default="ms-marco-MiniLM-L-6-v2", help="the hybrid run's cross-encoder (a gen_models name)")
    ap.add_argument("--preliminary", default="", help="a note that marks the run as preliminary (e.g. a noisy machine)")
    ap.add_argument("--out", default=HERE, help="where embed_results*.json and RESULTS.md are written (a scratch folder for trial runs)")
    ap.add_argument("--crossrank-bin", default="", help="use this crossrank binary instead of building ./cmd/crossrank")
    ap.add_argument("--merge", action="store_true", help="keep this family's rows that this run does not redo")
    ap.add_argument("--family", default="", help="file the rows under this machine family instead of the one /proc/cpuinfo gives")
    args = ap.parse_args()
    command = "python benchmarks/run_embed.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    models = [m for m in args.models.split(",") if m]
    contenders = [c for c in args.contenders.split(",") if c]
    for c in contenders:
        if c not in DEFAULT:
            sys.exit(f"run_embed.py: unknown contender {c!r} (known: {', '.join(DEFAULT)})")
    ns = [int(x) for x in args.n.split(",") if x.strip()]
    bindir = os.path.join(run.cache(), "bench-bin")
    tmp = os.path.join(run.cache(), "bench-tmp")
    os.makedirs(bindir, exist_ok=True)
    os.makedirs(tmp, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    crossrank = args.crossrank_bin or os.path.join(bindir, "crossrank")
    if not args.crossrank_bin:
        run.sh(["go", "build", "-o", crossrank, "./cmd/crossrank"], cwd=ROOT, env=dict(os.environ, CGO_ENABLED="0"))
    with open(os.path.join(HERE, "workload.json")) as f:
        sets = [s for s in json.load(f)["sets"] if s["name"] == "short" and s["family"] == "bert"]

    def texts_for(n):
        # benchmarks.Workload.EmbedTexts: the set with that N, or all.
        for s in sets:
            if s["n"] == n:
                return [p["text"] for p in s["pairs"]]
        every = [p["text"] for s in sets for p in s["pairs"]]
        if n == len(every):
            return every
        sys.exit(f"run_embed.py: --n {n}: the short sets have N = {', '.join(str(s['n']) for s in sets)} and {len(every)} documents together")

    rows, missing = [], []

    def attempt(what, cmd):
        try:
            run.sh(cmd, timeout=args.timeout)
            return True
        except subprocess.CalledProcessError as e:
            print(f"run_embed.py: {what} failed ({e.returncode}); left out", file=sys.stderr)
            missing.append(f"{what}: failed (exit {e.returncode})")
        except subprocess.TimeoutExpired:
            print(f"run_embed.py: {what} timed out; left out", file=sys.stderr)
            missing.append(f"{what}: not done within --timeout {args.timeout:g} s")
        return False

    for model in models:
        if model not in gen_embed_models.MODELS:
            sys.exit(f"run_embed.py: unknown model {model!r} (known: {', '.join(gen_embed_models.MODELS)})")
        mdir = gen_embed_models.generate(model)
        for n in ns:
            texts = os.path.join(tmp, f"embed-texts-n{n}.json")
            with open(texts, "w") as f:
                json.dump(texts_for(n), f)
            cell = []
            for c in contenders:
                out = os.path.join(tmp, f"embed-{model}-{n}-{c}.json")
                if c in CROSSRANK:
                    prec = "fp32" if c == "crossrank" else c.split("-")[1]
                    cmd = [crossrank, "bench", "embed", "-q", "--model", mdir, "--n", str(n), "--precision", prec, "--json", out,
                           "--budget", f"{args.budget}s", "--min-reps", str(args.min_reps), "--concurrency", str(args.concurrency)]
                else:
                    cmd = [sys.executable, os.path.join(HERE, "embed_peers.py"), "--contender", c, "--model", mdir, "--texts", texts,
                           "--json", out, "--budget", str(args.budget), "--min-reps", str(args.min_reps)]
                if not attempt(f"{c} on {model} N={n}", cmd):
                    continue
                with open(out) as f:
                    r = json.loads(f.readline())
                r["contender"] = c
                r["kind"] = "embed"
                cell.append(r)
            ref = next((r for r in cell if r["contender"] == "crossrank"), None)
            st = next((r for r in cell if r["contender"] == "st-fp32"), None)
            for r in cell:
                other = ref if r["contender"] != "crossrank" else st
                if other is not None and other is not r:
                    r["max_abs_diff"] = max(abs(a - b) for va, vb in zip(r["vectors"], other["vectors"]) for a, b in zip(va, vb))
                    r["diff_reference"] = other["contender"]
            rows.extend(cell)

    if args.hybrid_docs > 0:
        edir = gen_embed_models.generate(args.hybrid_embed)
        rdir = gen_models.generate(args.hybrid_rerank, onnx=False)
        out = os.path.join(tmp, f"hybrid-{args.hybrid_embed}-{args.hybrid_rerank}-{args.hybrid_docs}.json")
        cmd = [crossrank, "bench", "hybrid", "-q", "--model", edir, "--rerank-model", rdir, "--docs", str(args.hybrid_docs),
               "--queries", str(args.hybrid_queries), "--json", out, "--budget", f"{args.budget}s", "--min-reps", str(args.min_reps)]
        if attempt(f"hybrid search, {args.hybrid_docs} documents", cmd):
            with open(out) as f:
                r = json.loads(f.readline())
            r["kind"] = "hybrid"
            r["model"] = r["embed_model"]
            rows.append(r)

    mach = run.machine()
    if args.family:
        mach["family"] = args.family
    fam = mach["family"]
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": mach,
        "commands": [command],
        "preliminary": args.preliminary,
        "budget_s": args.budget,
        "missing": missing,
        "versions": run.versions(),
    }
    clean = [dict({k: v for k, v in r.items() if k != "vectors"}, date=meta["date"], family=fam, cpu=mach["cpu"]) for r in rows]
    old, metas = load(args.out)
    before = metas.get(fam)
    if args.merge and before:
        redone = {row_key(r) for r in clean}
        keep = [r for r in old if r["family"] != fam or row_key(r) not in redone]
        meta["commands"] = before.get("commands", []) + meta["commands"]
        meta["missing"] = before.get("missing", []) + missing
        meta["date"] = before["date"].split(" to ")[0] + " to " + meta["date"]
        if not args.preliminary:
            meta["preliminary"] = before.get("preliminary", "")
    else:
        keep = [r for r in old if r["family"] != fam]
    metas[fam] = meta
    rows = sorted(keep + clean, key=lambda r: r["family"])
    with open(os.path.join(args.out, ROWS), "w") as f:
        json.dump(rows, f, indent=1)
        f.write("\n")
    with open(os.path.join(args.out, META), "w") as f:
        json.dump({"families": dict(sorted(metas.items()))}, f, indent=1)
        f.write("\n")
    # RESULTS.md again, with the re-ranking rows as they are in args.out.
    rr_rows, rr_metas = run.load_results(args.out)
    run.write_markdown(os.path.join(args.out, "RESULTS.md"), rr_rows, rr_metas, run.load_notes())
    print(f"run_embed.py: {os.path.join(args.out, ROWS)} and RESULTS.md written", flush=True)


def row_key(r):
    return (r["kind"], r["contender"], r["model"], r.get("n") or r.get("docs"))


def load(out):
    """embed_results.json's rows and embed_results.meta.json's headers (one
    per machine family), or nothing."""
    rows, metas = [], {}
    p = os.path.join(out, META)
    if os.path.exists(p):
        with open(p) as f:
            metas = json.load(f)["families"]
    p = os.path.join(out, ROWS)
    if os.path.exists(p):
        with open(p) as f:
            rows = json.load(f)
    return rows, metas


def families(out):
    return set(load(out)[1])


def agrees(r):
    d = r.get("max_abs_diff")
    return d is None or r["precision"] != "fp32" or d <= FP32_AGREE


def fmt(x, nd=1):
    return "" if x is None else f"{x:.{nd}f}"


def family_markdown(out, fam):
    """The "Embeddings" part of one family's section of RESULTS.md, from the
    embedding rows in out; nothing where the family has none."""
    rows, metas = load(out)
    meta = metas.get(fam)
    rows = [r for r in rows if r["family"] == fam]
    if meta is None or not rows:
        return []
    L = ["### Embeddings\n"]
    if meta.get("preliminary"):
        L.append(f"> **PRELIMINARY: {meta['preliminary']}**\n")
    L.append(f"- Date: {meta['date']}; machine: {run.machine_line(meta['machine'])}")
    L.append(f"- Versions: {', '.join(f'{k} {v}' for k, v in meta['versions'].items())}")
    L.append("- Commands (from the repository root, after `make bench-peers`): " + "; ".join(f"`{c}`" for c in meta["commands"]))
    L.append("- Texts: the workload's short-set documents (whole vocabulary words, 32..256 tokens; N = 100: the N = 100 set, "
             "N = 120: every short-set document), given as **text**: every contender tokenizes (crossrank's embed package, "
             "sentence-transformers' tokenizer, the model's tokenizer.json for ONNX Runtime and OpenVINO), truncates to the "
             "model's max_seq_length, pools and normalizes as the model's modules say. One request = all N texts, batches of 32 "
             "sorted longest first; crossrank packs them (no padding), the peers pad each batch to its longest.")
    L.append(f"- Timing: one warm-up request, then requests one at a time for {meta['budget_s']:g} s (at least --min-reps); "
             "crossrank then runs GOMAXPROCS requests at once (as many forward passes at once) and texts/s is the better "
             "figure. *ratio*: texts/s over the fastest peer's in the same model and N; *max |Δ|*: the largest difference of "
             f"one component against crossrank fp32's vectors (crossrank fp32's own: against st-fp32); an fp32 peer over "
             f"{FP32_AGREE:g} is marked **differs** and left out of the ratios.")
    L.append("")
    emb = [r for r in rows if r["kind"] == "embed"]
    order = DEFAULT
    for model in dict.fromkeys(r["model"] for r in emb):
        what = gen_embed_models.MODELS.get(model, ("", ""))[0]
        L.append(f"#### {model}" + (f": {what}" if what else "") + "\n")
        L.append("| N | contender | precision | p50 ms | p95 ms | reps | texts/s | ratio | peak RSS MB | max abs Δ |")
        L.append("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
        summary = []
        for n in sorted({r["n"] for r in emb if r["model"] == model}):
            cell = sorted([r for r in emb if r["model"] == model and r["n"] == n],
                          key=lambda r: order.index(r["contender"]) if r["contender"] in order else len(order))
            peers = [r for r in cell if r["contender"] in PEERS and agrees(r)]
            best = max(peers, key=lambda r: r["texts_per_s"]) if peers else None
            for r in cell:
                d = r.get("max_abs_diff")
                name = r["contender"] + (" (**differs**: not in the ratios)" if r["contender"] in PEERS and not agrees(r) else "")
                # --merge can leave a cell's rows from two runs: no ratio is
                # given between them, as in run.py's re-ranking rows.
                across = bool(best) and r.get("date") != best.get("date")
                ratio = r["texts_per_s"] / best["texts_per_s"] if best and not across else None
                L.append(f"| {n} | {name} | {r['precision']} | {fmt(r['latency_p50_ms'])} | {fmt(r['latency_p95_ms'])} | "
                         f"{r.get('reps', '')} | {fmt(r['texts_per_s'])} | {'– (its fastest peer ran in another run)' if across else fmt(ratio, 2)} | {fmt(r['peak_rss_mb'], 0)} | "
                         f"{'' if d is None else f'{d:.2g}'} |")
            crs = [r for r in cell if r["contender"] in CROSSRANK]
            if best and crs:
                top = max(crs, key=lambda r: r["texts_per_s"])
                s = (f"- N={n}: fastest peer {best['contender']} ({best['precision']}); crossrank's fastest precision "
                     f"({top['precision']}) {top['texts_per_s'] / best['texts_per_s']:.2f}x its texts/s")
                p32 = [r for r in peers if r["precision"] == "fp32"]
                cr32 = next((r for r in crs if r["contender"] == "crossrank"), None)
                if p32 and cr32:
                    b32 = max(p32, key=lambda r: r["texts_per_s"])
                    s += f"; crossrank fp32 {cr32['texts_per_s'] / b32['texts_per_s']:.2f}x the fastest fp32 peer's ({b32['contender']})"
                else:
                    b32 = None
                runs = sorted({x["date"] for x in (best, top, b32, cr32) if x and x.get("date")})
                if len(runs) > 1:
                    s = f"- N={n}: not compared: its fastest rows come from two runs ({', '.join(runs)}); rerun the cell whole"
                summary.append(s + ".")
        L.append("")
        L.extend(summary)
        if summary:
            L.append("")
    for r in [r for r in rows if r["kind"] == "hybrid"]:
        L.append(f"#### Hybrid search, {r['docs']:,} documents\n")
        L.append(f"- Embedder {r['embed_model']}, re-ranker {r['rerank_model']} (stand-in), {r['precision']}; corpus: {r['corpus']} "
                 f"({r['corpus_words']:,} words in all); {r['queries']} queries cycled, one at a time, {r['reps']} samples a phase; "
                 f"retrieval_k {r['retrieval_k']}, rerank_k {r['rerank_k']}, RRF k = 60. Peak RSS {r['peak_rss_mb']:.0f} MB.")
        L.append(f"- Indexing, once: BM25 {r['bm25_index_s']:.2f} s; the corpus's vectors {r['dense_index_s']:.1f} s"
                 + (" (read from the cache)" if r.get("from_cache") else f" ({r['docs'] / r['dense_index_s']:.0f} documents/s)"))
        L.append("")
        L.append("| per query | p50 ms | p95 ms |")
        L.append("|---|---:|---:|")
        for name, k in [("BM25", "bm25"), ("dense (the query embedded, exhaustive cosine search)", "dense"),
                        ("retrieval: BM25 + dense + RRF", "retrieve"), (f"re-ranking the {r['retrieval_k']} candidates", "rerank"),
                        ("retrieval then re-ranking", "total")]:
            L.append(f"| {name} | {fmt(r[k + '_p50_ms'], 2)} | {fmt(r[k + '_p95_ms'], 2)} |")
        L.append("")
    if meta.get("missing"):
        L.append("#### Left out (embeddings)\n")
        L.extend(f"- {x}" for x in meta["missing"])
        L.append("")
    return L


if __name__ == "__main__":
    main()
