#!/usr/bin/env python3
"""Runs every contender on every model and workload set, each in its own
process, one after another on this machine, and writes benchmarks/RESULTS.md,
benchmarks/results.json and benchmarks/results.png.

Contenders:
  crossrank        crossrank library (bert.Model.Forward on the ids), `crossrank bench`
  crossrank-http   crossrank's server on loopback, fed the workload's text
  st-fp32, st-bf16, ort-fp32, ort-int8   see bench_peers.py
  hugot            knights-analytics/hugot, pure-Go backend (benchmarks/hugot),
                   fed text that tokenizes to the workload's ids; on request
                   (about 36 s a request on MiniLM-L6 at N=20)
  hugot-ort        the same with hugot's ONNX Runtime backend (-tags ORT, the
                   onnxruntime wheel's libonnxruntime.so); left out with a
                   message where benchmarks/hugot/build-ort.sh cannot build it

Models are shape-exact stand-ins (gen_models.py), generated on first use.

usage: python benchmarks/run.py [--models a,b] [--large] [--n 20,100]
                                [--contenders ...] [--budget S] [--preliminary NOTE]
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the repository
import gen_models  # noqa: E402

ALL = ["crossrank", "crossrank-http", "st-fp32", "st-bf16", "ort-fp32", "ort-int8", "hugot"]
# crossrank's reduced-precision rows (issue 12), run on request until the
# engine has them: `--contenders crossrank,crossrank-bf16,...`.
# hugot-ort needs cgo, cargo and crates.io to build (make bench-peers,
# benchmarks/hugot/build-ort.sh), so it runs on request too.
OPTIONAL = ["crossrank-bf16", "crossrank-int8", "hugot-ort"]
# What `make bench` runs unless --contenders says otherwise: everything
# RESULTS.md reports per model. hugot's pure-Go backend is on request
# (--contenders ...,hugot): about 36 s a request on MiniLM-L6 at N=20, so
# hours on the bge shapes.
DEFAULT = ["crossrank", "crossrank-bf16", "crossrank-int8", "crossrank-http", "st-fp32", "st-bf16", "ort-fp32", "ort-int8", "hugot-ort"]
PEERS = ["st-fp32", "st-bf16", "ort-fp32", "ort-int8", "hugot", "hugot-ort"]
FP32_PEERS = ["st-fp32", "ort-fp32", "hugot", "hugot-ort"]


def cache():
    return os.environ.get("CROSSRANK_CACHE", os.path.expanduser("~/.cache/crossrank"))


def onnxruntime_library():
    """The onnxruntime wheel's libonnxruntime.so (the one ort-fp32 runs), or None."""
    import glob
    import importlib.util

    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.origin:
        return None
    found = sorted(glob.glob(os.path.join(os.path.dirname(spec.origin), "capi", "libonnxruntime.so*")))
    return found[0] if found else None


def sh(cmd, **kw):
    print("+", " ".join(shlex.quote(c) for c in cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def machine():
    cpu = ""
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and not cpu:
                    cpu = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = [f for f in ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"] if f in flags]
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu or platform.processor(), "cores": os.cpu_count(), "memory": mem, "isa": isa, "os": platform.platform()}


def flops(cfg, lengths):
    # The same count as benchmarks/flops.go (Shape.FLOPs).
    h, i, layers, labels = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg.get("num_labels", 1)
    t = sum(lengths)
    sq = sum(l * l for l in lengths)
    per_layer = 2 * t * (4 * h * h + 2 * h * i) + 4 * sq * h
    return layers * per_layer + 2 * len(lengths) * h * h + 2 * len(lengths) * h * labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="", help="comma-separated (default: all but the large ones)")
    ap.add_argument("--large", action="store_true", help="include bge-reranker-large and -v2-m3 (GBs, slow)")
    ap.add_argument("--n", default="20,100", help="N of the short set, comma-separated (empty with --long: the long set alone)")
    ap.add_argument("--long", action="store_true", help="also the long-document set on bge-reranker-v2-m3")
    ap.add_argument("--contenders", default=",".join(DEFAULT), help="comma-separated (default: %(default)s; also: hugot)")
    ap.add_argument("--budget", type=float, default=10.0, help="seconds per timing phase")
    ap.add_argument("--min-reps", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=0, help="Go contenders' throughput phase: requests at once (0: GOMAXPROCS, 1: skip)")
    ap.add_argument("--peer-batch", type=int, default=0, help="pairs per forward pass for the Python peers (0: sentence-transformers' default, 32); "
                    "ONNX Runtime's export materialises [batch, heads, L, L] attention, which at 32 x 2,048 tokens does not fit 24 GB")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds one contender may take on one cell before it is left out")
    ap.add_argument("--preliminary", default="", help="a note that marks the run as preliminary (e.g. a noisy machine)")
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--crossrank-bin", default="", help="use this crossrank binary instead of building ./cmd/crossrank")
    ap.add_argument("--merge", action="store_true", help="keep the rows of results.json that this run does not redo (their commands stay in the header)")
    ap.add_argument("--render", action="store_true", help="only rewrite RESULTS.md and the chart from results.json and results.meta.json")
    args = ap.parse_args()
    if args.render:
        with open(os.path.join(args.out, "results.json")) as f:
            rows = json.load(f)
        with open(os.path.join(args.out, "results.meta.json")) as f:
            meta = json.load(f)
        write_rows(args.out, rows)
        write_markdown(os.path.join(args.out, "RESULTS.md"), rows, meta)
        draw(args.out)
        return
    command = "python benchmarks/run.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    models = [m for m in args.models.split(",") if m] or [m for m in gen_models.MODELS if args.large or m not in gen_models.LARGE]
    contenders = [c for c in args.contenders.split(",") if c]
    for c in contenders:
        if c not in ALL + OPTIONAL:
            sys.exit(f"run.py: unknown contender {c!r} (known: {', '.join(ALL + OPTIONAL)})")
    ns = [int(x) for x in args.n.split(",") if x.strip()]  # --n "" --long: the long set alone

    bindir = os.path.join(cache(), "bench-bin")
    tmp = os.path.join(cache(), "bench-tmp")
    os.makedirs(bindir, exist_ok=True)
    os.makedirs(tmp, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    crossrank = args.crossrank_bin or os.path.join(bindir, "crossrank")
    if not args.crossrank_bin:
        sh(["go", "build", "-o", crossrank, "./cmd/crossrank"], cwd=ROOT, env=dict(os.environ, CGO_ENABLED="0"))
    hugot = os.path.join(bindir, "hugot-bench")
    if "hugot" in contenders:
        try:
            sh(["go", "build", "-o", hugot, "."], cwd=os.path.join(HERE, "hugot"), env=dict(os.environ, CGO_ENABLED="0"))
        except subprocess.CalledProcessError:
            print("run.py: hugot does not build; leaving it out (run make bench-peers)", file=sys.stderr)
            contenders.remove("hugot")
    hugot_ort = os.path.join(bindir, "hugot-ort-bench")
    ort_lib = onnxruntime_library()
    if "hugot-ort" in contenders:
        # Rebuilt like hugot so it never runs a stale main.go; the Rust
        # library is built once and kept (build-ort.sh).
        why = ""
        try:
            sh([os.path.join(HERE, "hugot", "build-ort.sh"), hugot_ort])
        except subprocess.CalledProcessError:
            why = "benchmarks/hugot/build-ort.sh failed (needs cgo, a C compiler, cargo and crates.io)"
        if not why and ort_lib is None:
            why = "the onnxruntime wheel's libonnxruntime.so is not found"
        if why:
            print(f"run.py: hugot-ort left out: {why}", file=sys.stderr)
            contenders.remove("hugot-ort")

    py = sys.executable
    rows = []
    missing = []
    for model in models:
        mdir = gen_models.generate(model, onnx=any(c.startswith("ort") or c.startswith("hugot") for c in contenders))
        with open(os.path.join(mdir, "config.json")) as f:
            cfg = json.load(f)
        cells = [("short", n) for n in ns]
        if args.long and gen_models.MODELS[model][3] >= 4096:
            cells.append(("long", 20))
        family = "xlmr" if cfg["model_type"] == "xlm-roberta" else "bert"
        with open(os.path.join(HERE, "workload.json")) as f:
            wl = {(s["name"], s["family"], s["n"]): s for s in json.load(f)["sets"]}
        for set_name, n in cells:
            lengths = [len(p["input_ids"]) for p in wl[(set_name, family, n)]["pairs"]]
            cell = []
            for c in contenders:
                out = os.path.join(tmp, f"{model}-{set_name}-{n}-{c}.json")
                # The machine is shared: the FMA peak is measured right
                # before each contender, so its fraction of peak meets the
                # same neighbours.
                peak = json.loads(subprocess.run([crossrank, "bench", "--peak", "1s"], check=True, capture_output=True, text=True).stdout)
                common = ["--budget", str(args.budget), "--min-reps", str(args.min_reps)]
                try:
                    if c.startswith("crossrank"):
                        prec = c.split("-")[-1] if c in OPTIONAL else "fp32"
                        engine = "crossrank" if c in OPTIONAL else c
                        cmd = [crossrank, "bench", "-q", "--model", mdir, "--set", set_name, "--n", str(n), "--contender", engine, "--precision", prec, "--json", out]
                        cmd += ["--budget", f"{args.budget}s", "--min-reps", str(args.min_reps), "--concurrency", str(args.concurrency)]
                    elif c == "hugot":
                        cmd = [hugot, "--model", mdir, "--set", set_name, "--n", str(n), "--json", out, "--workload", os.path.join(HERE, "workload.json")] + common
                    elif c == "hugot-ort":
                        cmd = [hugot_ort, "--backend", "ort", "--ort-lib", ort_lib, "--model", mdir, "--set", set_name, "--n", str(n), "--json", out, "--workload", os.path.join(HERE, "workload.json")] + common
                    else:
                        cmd = [py, os.path.join(HERE, "bench_peers.py"), "--contender", c, "--model", mdir, "--set", set_name, "--n", str(n), "--json", out] + common
                        if args.peer_batch:
                            cmd += ["--batch", str(args.peer_batch)]
                    sh(cmd, timeout=args.timeout)
                except subprocess.CalledProcessError as e:
                    print(f"run.py: {c} on {model} {set_name} n={n} failed ({e.returncode}); left out", file=sys.stderr)
                    missing.append(f"{c} on {model} {set_name} N={n}: failed (exit {e.returncode})")
                    continue
                except subprocess.TimeoutExpired:
                    print(f"run.py: {c} on {model} {set_name} n={n} timed out; left out", file=sys.stderr)
                    missing.append(f"{c} on {model} {set_name} N={n}: not done within --timeout {args.timeout:g} s")
                    continue
                with open(out) as f:
                    r = json.loads(f.readline())
                r.setdefault("set", set_name)
                r["contender"] = c
                r["flops_per_request"] = flops(cfg, lengths)
                r["gflops"] = r["flops_per_request"] * r["pairs_per_s"] / n / 1e9
                if r.get("peak_gflops"):
                    # crossrank measured it in its own process, after its
                    # runs: keep the mean of that and the one before.
                    r["peak_gflops"] = (r["peak_gflops"] + peak["gflops"]) / 2
                elif peak["gflops"] > 0:
                    r["peak_gflops"] = peak["gflops"]
                if r.get("peak_gflops"):
                    r["fraction_of_peak"] = r["gflops"] / r["peak_gflops"]
                cell.append(r)
            ref = next((r for r in cell if r["contender"] == "crossrank"), None)
            prev = os.path.join(tmp, f"{model}-{set_name}-{n}-crossrank.json")
            if ref is None and os.path.exists(prev):
                # crossrank not rerun in this command: its logits from the
                # last run on this checkpoint (they are deterministic).
                with open(prev) as f:
                    ref = dict(json.loads(f.readline()), contender="crossrank")
            for r in cell:
                # Every contender against crossrank's library logits; the
                # library itself against sentence-transformers fp32 (PyTorch).
                other = ref if r["contender"] != "crossrank" else next((x for x in cell if x["contender"] == "st-fp32"), None)
                if other is not None and other is not r:
                    r["max_abs_logit_diff"] = max(abs(a - b) for a, b in zip(r["logits"], other["logits"]))
                    r["logit_reference"] = other["contender"]
            rows.extend(cell)

    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "commands": [command],
        "preliminary": args.preliminary,
        "budget_s": args.budget,
        "concurrency": args.concurrency,
        "missing": missing,
        "versions": versions(),
    }
    if args.crossrank_bin:
        meta["versions"]["crossrank"] = f"binary {args.crossrank_bin} (given with --crossrank-bin; tree at {meta['versions'].get('crossrank', '?')})"
    clean = [dict({k: v for k, v in r.items() if k != "logits"}, date=meta["date"]) for r in rows]
    if args.merge and os.path.exists(os.path.join(args.out, "results.meta.json")):
        with open(os.path.join(args.out, "results.json")) as f:
            old = json.load(f)
        with open(os.path.join(args.out, "results.meta.json")) as f:
            old_meta = json.load(f)
        redone = {(r["contender"], r["model"], r["set"], r["n"]) for r in clean}
        clean = [r for r in old if (r["contender"], r["model"], r["set"], r["n"]) not in redone] + clean
        meta["commands"] = old_meta.get("commands", []) + meta["commands"]
        meta["missing"] = old_meta.get("missing", []) + missing
        meta["date"] = old_meta["date"].split(" to ")[0] + " to " + meta["date"]
        if not args.preliminary:
            meta["preliminary"] = old_meta.get("preliminary", "")
    write_rows(args.out, clean)
    with open(os.path.join(args.out, "results.meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    write_markdown(os.path.join(args.out, "RESULTS.md"), clean, meta)
    draw(args.out)


def draw(out):
    try:
        sh(["go", "run", ".", "-in", os.path.join(out, "results.json"), "-out", os.path.join(out, "results.png")], cwd=os.path.join(HERE, "chart"))
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        print(f"run.py: chart not drawn: {e}", file=sys.stderr)


def versions():
    v = {"python": platform.python_version()}
    for mod in ["torch", "transformers", "sentence_transformers", "onnxruntime"]:
        try:
            v[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 (a missing peer is not an error here)
            pass
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "bert", "rerank", "internal", "server", "tokenizer", "weights"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        v["crossrank"] = head + (" + uncommitted engine changes" if dirty else "")
    except OSError:
        pass
    try:
        v["go"] = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return v


def fmt(x, nd=1):
    return "" if x is None else f"{x:.{nd}f}"


# An fp32 peer agrees with crossrank's fp32 logits to about 1e-6 (float32
# sums in another order); 1e-3 leaves room for any summation order and is
# still far below the logits' spread (several units).
FP32_AGREE = 1e-3


def agrees(r):
    d = r.get("max_abs_logit_diff")
    return d is None or r["precision"] != "fp32" or d <= FP32_AGREE


def set_ratios(rows):
    """Sets each row's "ratio": its pairs/s over the fastest peer's in the
    same model, set and N, peers that compute another function (agrees)
    excluded; None where no peer ran. RESULTS.md and the chart read it."""
    best = {}
    for r in rows:
        if r["contender"] in PEERS and agrees(r):
            k = (r["model"], r["set"], r["n"])
            best[k] = max(best.get(k, 0), r["pairs_per_s"])
    for r in rows:
        b = best.get((r["model"], r["set"], r["n"]))
        r["ratio"] = r["pairs_per_s"] / b if b else None


def write_rows(out, rows):
    set_ratios(rows)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
        f.write("\n")


def write_markdown(path, rows, meta):
    m = meta["machine"]
    L = []
    L.append("# crossrank benchmark results\n")
    if meta["preliminary"]:
        L.append(f"> **PRELIMINARY: {meta['preliminary']}**\n")
    L.append(f"- Date: {meta['date']}")
    L.append(f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}; {', '.join(m['isa'])}; {m['os']}")
    L.append(f"- Versions: {', '.join(f'{k} {v}' for k, v in meta['versions'].items())}")
    cmds = meta.get("commands") or [meta.get("command", "")]
    L.append("- Commands (from the repository root, after `make bench-peers`; `make bench` runs run.py): "
             + "; ".join(f"`{c}`" for c in cmds))
    L.append(f"- Timing: one warm-up request, then requests one at a time for {meta['budget_s']:g} s "
             "(at least --min-reps; the last command's figures: each command gives its own); the Go contenders then run "
             "GOMAXPROCS requests at once for as long (not in commands with --concurrency 1), and pairs/s is the "
             "better of the two. Each contender runs in its own process.")
    L.append("")
    L.append("Models are **shape-exact stand-ins**: the published config.json of each model with seeded random "
             "weights (benchmarks/gen_models.py); speed does not depend on the weights' values. The workload "
             "(benchmarks/workload.json) fixes the token ids, so **tokenization is not timed**, except for "
             "crossrank-http (which receives text) and hugot / hugot-ort (text only; the text tokenizes to the same ids).")
    L.append("")
    L.append("Columns: *ratio* = pairs/s over the fastest peer's pairs/s in the same model and N (peers: "
             "sentence-transformers, ONNX Runtime, hugot, hugot-ort); *GFLOP/s* counts the forward pass on the real tokens "
             "only (padding a peer computes is not credited; *tokens computed* shows it: real tokens, or the padded batches' size); *% peak* is that over the FP32 FMA peak measured by "
             "`crossrank bench --peak 1s` just before the contender ran (for crossrank, averaged with the one its own process measured after its runs; the FP32 peak does not bound the bf16 and int8 rows, which can pass 100%); *max |Δlogit|* is against crossrank's library logits on the "
             "same checkpoint (crossrank's own row: against sentence-transformers fp32); an fp32 peer more than "
             f"{FP32_AGREE:g} from crossrank computes another function: its row is marked **differs** and left out of the ratios.")
    L.append("")
    summary = []
    for model in dict.fromkeys(r["model"] for r in rows):
        L.append(f"## {model}\n")
        L.append("| set | N | contender | precision | p50 ms | p95 ms | reps | pairs/s | ratio | tokens computed | GFLOP/s | % peak | peak RSS MB | max abs Δlogit |")
        L.append("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for key in dict.fromkeys((r["set"], r["n"]) for r in rows if r["model"] == model):
            order = ALL + OPTIONAL
            cell = sorted((r for r in rows if r["model"] == model and (r["set"], r["n"]) == key),
                          key=lambda r: order.index(r["contender"]) if r["contender"] in order else len(order))
            # A peer whose logits are not crossrank's (fp32 beyond FP32_AGREE)
            # computes another function: shown, flagged, not a baseline.
            off = [r for r in cell if r["contender"] in PEERS and not agrees(r)]
            peers = [r for r in cell if r["contender"] in PEERS and agrees(r)]
            best = max((r["pairs_per_s"] for r in peers), default=None)
            best32 = max((r["pairs_per_s"] for r in peers if r["contender"] in FP32_PEERS), default=None)
            for r in cell:
                d = r.get("max_abs_logit_diff")
                diff = "" if d is None else f"{d:.2g}"
                frac = r.get("fraction_of_peak")
                name = r["contender"] + (f" (batch {r['batch']})" if r.get("batch") not in (None, 32) else "")
                name += " (**differs**: not in the ratios)" if r in off else ""
                L.append(
                    f"| {r['set']} | {r['n']} | {name} | {r['precision']} | {fmt(r['latency_p50_ms'])} | "
                    f"{fmt(r['latency_p95_ms'])} | {r.get('reps', '')} | {fmt(r['pairs_per_s'], 2)} | "
                    f"{fmt(r.get('ratio'), 2)} | {r.get('padded_tokens') or r['tokens']} | {fmt(r.get('gflops'))} | {fmt(100 * frac if frac else None)} | "
                    f"{fmt(r['peak_rss_mb'], 0)} | {diff} |"
                )
            cr = next((r for r in cell if r["contender"] == "crossrank"), None)
            if cr and best:
                bp = max(peers, key=lambda r: r["pairs_per_s"])
                s = f"- {model}, {key[0]} N={key[1]}: crossrank {cr['pairs_per_s'] / best:.2f}x the fastest peer's pairs/s ({bp['contender']})"
                if best32:
                    bp32 = max((r for r in peers if r["contender"] in FP32_PEERS), key=lambda r: r["pairs_per_s"])
                    s += (f", {cr['pairs_per_s'] / best32:.2f}x the fastest fp32 peer's ({bp32['contender']}); "
                          f"median latency {cr['latency_p50_ms']:.0f} ms against its {bp32['latency_p50_ms']:.0f} ms")
                if cr.get("fraction_of_peak"):
                    s += f"; {100 * cr['fraction_of_peak']:.0f}% of the FP32 peak on real tokens"
                # The fastest crossrank precision beside fp32, compared with the
                # fastest peer at any precision (the peers' best is not fp32 either).
                crs = [r for r in cell if r["contender"].startswith("crossrank") and r["contender"] != "crossrank-http"]
                top = max(crs, key=lambda r: r["pairs_per_s"])
                if top is not cr:
                    s += (f"; fastest crossrank precision ({top['precision']}): {top['pairs_per_s'] / best:.2f}x "
                          f"the fastest peer's pairs/s ({bp['contender']})")
                summary.append(s + ".")
        L.append("")
    if meta.get("missing"):
        L.append("## Left out\n")
        L.extend(f"- {m}" for m in meta["missing"])
        L.append("")
    L.append("## Where crossrank stands\n")
    L.extend(summary or ["- no crossrank rows"])
    L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    main()
