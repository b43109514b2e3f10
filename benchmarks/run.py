#!/usr/bin/env python3
"""Runs every contender on every model and workload set, each in its own
process, one after another on this machine, and writes benchmarks/RESULTS.md,
benchmarks/results.json and benchmarks/results.png.

Contenders:
  crossrank        crossrank library (ml.Model.Forward on the ids; Qwen3: qwen3.Model), `crossrank bench`
  crossrank-http   crossrank's server on loopback, fed the workload's text
  st-fp32, st-bf16, ort-fp32, ort-int8, ov-fp32, ov-bf16, ov-int8   see bench_peers.py
  genai-fp32, genai-bf16   OpenVINO GenAI's TextRerankPipeline (Qwen3 models only), see bench_peers.py
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

ALL = ["crossrank", "crossrank-http", "st-fp32", "st-bf16", "ort-fp32", "ort-int8", "ov-fp32", "ov-bf16", "ov-int8", "genai-fp32", "genai-bf16", "hugot"]
# crossrank's reduced-precision rows (issue 12), run on request until the
# engine has them: `--contenders crossrank,crossrank-bf16,...`.
# hugot-ort needs cgo, cargo and crates.io to build (make bench-peers,
# benchmarks/hugot/build-ort.sh), so it runs on request too.
OPTIONAL = ["crossrank-bf16", "crossrank-int8", "hugot-ort"]
# What `make bench` runs unless --contenders says otherwise: everything
# RESULTS.md reports per model. hugot's pure-Go backend is on request
# (--contenders ...,hugot): about 36 s a request on MiniLM-L6 at N=20, so
# hours on the bge shapes.
DEFAULT = ["crossrank", "crossrank-bf16", "crossrank-int8", "crossrank-http", "st-fp32", "st-bf16", "ort-fp32", "ort-int8",
           "ov-fp32", "ov-bf16", "ov-int8", "genai-fp32", "genai-bf16", "hugot-ort"]
PEERS = ["st-fp32", "st-bf16", "ort-fp32", "ort-int8", "ov-fp32", "ov-bf16", "ov-int8", "genai-fp32", "genai-bf16", "hugot", "hugot-ort"]
# OpenVINO GenAI's TextRerankPipeline (genai-*) runs on the decoder
# re-rankers only (issue 19); the encoders have ov-* on the same plugin.
GENAI_ARCHS = {"qwen3"}
# The order of contenders in RESULTS.md's tables and the chart's legend.
ORDER = ["crossrank", "crossrank-bf16", "crossrank-int8", "crossrank-http"] + PEERS

# RESULTS.md's name for each machine family (family_of), else the key.
FAMILY_TITLES = {
    "amd-zen4": "AMD EPYC Zen 4",
    "amd-zen5": "AMD EPYC Zen 5",
    "intel-amx": "Intel Xeon with AMX",
    "intel-avx512": "Intel Xeon with AVX-512, no AMX",
}
# Features recorded per run (from /proc/cpuinfo's flags), in this order.
FEATURES = ["avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
            "amx_tile", "amx_bf16", "amx_int8", "hypervisor"]


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
    """The CPU this run is on: model name, vendor, family and model numbers,
    the features that decide which kernels run (FEATURES), cores, memory,
    OS, and the machine family its rows are filed under (family_of)."""
    info = {}
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                k, v = k.strip(), v.strip()
                if k == "flags" and not flags:
                    flags = set(v.split())
                elif k in ("model name", "vendor_id", "cpu family", "model", "stepping", "microcode") and k not in info:
                    info[k] = v
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass

    def num(k):
        try:
            return int(info[k], 0)
        except (KeyError, ValueError):
            return None

    m = {
        "cpu": info.get("model name") or platform.processor(),
        "vendor": info.get("vendor_id", ""),
        "cpu_family": num("cpu family"),
        "cpu_model": num("model"),
        "stepping": num("stepping"),
        "microcode": info.get("microcode", ""),
        "cores": os.cpu_count(),
        "memory": mem,
        "isa": [f for f in FEATURES if f in flags],
        "os": platform.platform(),
    }
    m["family"] = family_of(m)
    return m


def family_of(m):
    """The machine family a run's rows are filed under: speed ratios differ
    between families (AMX, or a second FMA port, change who is fastest), so
    RESULTS.md gives each its own section and never compares across them.
    m is machine()'s dict; rows from before the vendor was recorded (only
    "cpu" and "isa") are placed by the name and features."""
    isa = set(m.get("isa", []))
    vendor = m.get("vendor") or ("AuthenticAMD" if "AMD" in m.get("cpu", "") else "GenuineIntel" if "Intel" in m.get("cpu", "") else "")
    if vendor == "AuthenticAMD":
        fam = m.get("cpu_family")
        if fam == 26:
            return "amd-zen5"
        if "avx512f" in isa and fam in (25, None):  # family 25 with AVX-512 is Zen 4 (Zen 3 has none)
            return "amd-zen4"
        return "amd-avx512" if "avx512f" in isa else "amd-avx2"
    if vendor == "GenuineIntel":
        if isa & {"amx_tile", "amx_bf16", "amx_int8"}:
            return "intel-amx"
        return "intel-avx512" if "avx512f" in isa else "intel-avx2"
    return platform.machine().lower() or "unknown"


def family_title(fam):
    return FAMILY_TITLES.get(fam, fam)


def flops(crossrank, mdir, set_name, n):
    """The forward pass's FLOPs on the cell's real tokens, as
    benchmarks.Shape.FLOPs counts them for this architecture (one count for
    every contender: `crossrank bench --flops`)."""
    out = subprocess.run([crossrank, "bench", "--flops", "--model", mdir, "--set", set_name, "--n", str(n)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[0])["flops"]


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
    ap.add_argument("--rounds", type=int, default=1, help="run each cell's contenders this many times, in turn and then in reverse order, and keep each one's faster round (a shared, noisy machine)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds one contender may take on one cell before it is left out")
    ap.add_argument("--preliminary", default="", help="a note that marks the run as preliminary (e.g. a noisy machine)")
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--crossrank-bin", default="", help="use this crossrank binary instead of building ./cmd/crossrank")
    ap.add_argument("--merge", action="store_true", help="keep the rows of results.json that this run does not redo (their commands stay in the header)")
    ap.add_argument("--render", action="store_true", help="only rewrite RESULTS.md, the README's speed table and the chart from results.json and results.meta.json")
    ap.add_argument("--family", default="", help="file this run's rows under this machine family instead of the one /proc/cpuinfo gives (see family_of)")
    args = ap.parse_args()
    if args.render:
        rows, metas = load_results(args.out)
        write_all(args.out, rows, metas)
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
        mdir = gen_models.generate(model, onnx=any(c.split("-")[0] in ("ort", "ov", "genai", "hugot") for c in contenders))
        cells = [("short", n) for n in ns]
        if args.long and model in gen_models.LONG:
            cells.append(("long", 20))
        arch = gen_models.MODELS[model][1]
        for set_name, n in cells:
            cell_flops = flops(crossrank, mdir, set_name, n)
            # --rounds R: the cell's contenders run R times, in turn and then
            # in reverse order, so that a slow spell of the shared machine
            # falls on several contenders' rounds rather than one
            # contender's whole figure; each keeps its faster round, and
            # the row lists every round's pairs/s.
            got = {}
            for rnd in range(args.rounds):
                for c in (contenders if rnd % 2 == 0 else contenders[::-1]):
                    if rnd and c not in got:
                        continue  # failed, timed out or not run on this model in round 1
                    if c.startswith("genai-") and arch not in GENAI_ARCHS:
                        continue
                    if c == "crossrank-http" and arch == "qwen3":
                        # benchmarks.Run refuses it too: the stand-in's tokenizer
                        # does not give the workload's text back as its ids, and
                        # the card's prompt adds tokens to every pair.
                        missing.append(f"{c} on {model}: not run on the Qwen3 stand-in (its tokenizer does not turn the workload's text into its ids)")
                        continue
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
                        print(f"run.py: {c} on {model} {set_name} n={n} failed ({e.returncode}); " + (f"round {rnd + 1} left out" if rnd else "left out"), file=sys.stderr)
                        missing.append(f"{c} on {model} {set_name} N={n}: " + (f"round {rnd + 1} failed (exit {e.returncode}); its row is the best of the others" if rnd else f"failed (exit {e.returncode})"))
                        continue
                    except subprocess.TimeoutExpired:
                        print(f"run.py: {c} on {model} {set_name} n={n} timed out; " + (f"round {rnd + 1} left out" if rnd else "left out"), file=sys.stderr)
                        missing.append(f"{c} on {model} {set_name} N={n}: " + (f"round {rnd + 1} not done within --timeout {args.timeout:g} s; its row is the best of the others" if rnd else f"not done within --timeout {args.timeout:g} s"))
                        continue
                    with open(out) as f:
                        r = json.loads(f.readline())
                    r.setdefault("set", set_name)
                    r["contender"] = c
                    r["flops_per_request"] = cell_flops
                    r["gflops"] = r["flops_per_request"] * r["pairs_per_s"] / n / 1e9
                    if r.get("peak_gflops"):
                        # crossrank measured it in its own process, after its
                        # runs: keep the mean of that and the one before.
                        r["peak_gflops"] = (r["peak_gflops"] + peak["gflops"]) / 2
                    elif peak["gflops"] > 0:
                        r["peak_gflops"] = peak["gflops"]
                    if r.get("peak_gflops"):
                        r["fraction_of_peak"] = r["gflops"] / r["peak_gflops"]
                    got.setdefault(c, []).append(r)
            cell = []
            for c in contenders:
                rs = got.get(c)
                if not rs:
                    continue
                best = max(rs, key=lambda r: r["pairs_per_s"])
                if args.rounds > 1:
                    best["rounds"] = [r["pairs_per_s"] for r in rs]
                cell.append(best)
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

    mach = machine()
    if args.family:
        mach["family"] = args.family
    fam = mach["family"]
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": mach,
        "commands": [command],
        "preliminary": args.preliminary,
        "budget_s": args.budget,
        "concurrency": args.concurrency,
        "missing": missing,
        "versions": versions(),
    }
    if args.crossrank_bin:
        meta["versions"]["crossrank"] = f"binary {args.crossrank_bin} (given with --crossrank-bin; tree at {meta['versions'].get('crossrank', '?')})"
    clean = [dict({k: v for k, v in r.items() if k != "logits"}, date=meta["date"], family=fam, cpu=mach["cpu"]) for r in rows]
    old, metas = load_results(args.out)
    # A run replaces rows of its own machine family only: all of them, or
    # with --merge the ones it redoes. Other families' rows and headers stay
    # as they are, and no ratio ever takes numbers from two families.
    before = metas.get(fam)
    if args.merge and before:
        redone = {(r["contender"], r["model"], r["set"], r["n"]) for r in clean}
        keep = [r for r in old if r["family"] != fam or (r["contender"], r["model"], r["set"], r["n"]) not in redone]
        meta["commands"] = before.get("commands", []) + meta["commands"]
        meta["missing"] = before.get("missing", []) + missing
        meta["date"] = before["date"].split(" to ")[0] + " to " + meta["date"]
        if not args.preliminary:
            meta["preliminary"] = before.get("preliminary", "")
        # The header names the first run's machine; a merged run on another
        # machine of the same family is named too.
        meta["machine"] = before["machine"]
        meta["other_machines"] = before.get("other_machines", [])
        if not same_machine(before["machine"], mach) and not any(same_machine(o, mach) for o in meta["other_machines"]):
            meta["other_machines"].append(mach)
        if not meta["other_machines"]:
            del meta["other_machines"]
    else:
        keep = [r for r in old if r["family"] != fam]
    metas[fam] = meta
    write_all(args.out, keep + clean, metas)


def same_machine(a, b):
    return a.get("cpu") == b.get("cpu") and a.get("isa") == b.get("isa") and a.get("cores") == b.get("cores")


def load_results(out):
    """results.json's rows and results.meta.json's headers, one per machine
    family ({"families": {family: header}}). Files from before families (one
    header, rows without "family") are read as one family, the one their
    machine gives."""
    rows, metas = [], {}
    if os.path.exists(os.path.join(out, "results.meta.json")):
        with open(os.path.join(out, "results.meta.json")) as f:
            meta = json.load(f)
        if "families" in meta:
            metas = meta["families"]
        else:
            metas = {family_of(meta["machine"]): meta}
    if os.path.exists(os.path.join(out, "results.json")):
        with open(os.path.join(out, "results.json")) as f:
            rows = json.load(f)
    legacy = next(iter(metas), "unknown") if len(metas) == 1 else "unknown"
    for r in rows:
        r.setdefault("family", legacy)
    return rows, metas


def write_all(out, rows, metas):
    # Families in a fixed order (their names), so that a rerun on one
    # machine does not move the other's section.
    rows = sorted(rows, key=lambda r: r["family"])  # stable: run order within a family
    metas = dict(sorted(metas.items()))
    write_rows(out, rows)
    with open(os.path.join(out, "results.meta.json"), "w") as f:
        json.dump({"families": metas}, f, indent=1)
        f.write("\n")
    notes = load_notes()
    write_markdown(os.path.join(out, "RESULTS.md"), rows, metas, notes)
    if os.path.abspath(out) == HERE:
        # Only the committed results rebuild the README's table.
        write_readme(rows, metas, notes)
    draw(out)


def draw(out):
    try:
        sh(["go", "run", ".", "-in", os.path.join(out, "results.json"), "-out", os.path.join(out, "results.png")], cwd=os.path.join(HERE, "chart"))
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        print(f"run.py: chart not drawn: {e}", file=sys.stderr)


def versions():
    v = {"python": platform.python_version()}
    for mod in ["torch", "transformers", "sentence_transformers", "onnxruntime", "openvino", "nncf"]:
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
CROSSRANK_PRECISIONS = ["crossrank", "crossrank-bf16", "crossrank-int8"]


def agrees(r):
    d = r.get("max_abs_logit_diff")
    return d is None or r["precision"] != "fp32" or d <= FP32_AGREE


def cell_key(r):
    # One family's model, set and N: the only rows a ratio may combine.
    return (r["family"], r["model"], r["set"], r["n"])


def set_ratios(rows):
    """Sets each row's "ratio": its pairs/s over the fastest peer's in the
    same machine family, model, set and N, peers that compute another
    function (agrees) excluded; None where no peer ran, and None where that
    peer's row is from another run than this one (a --merge can leave a
    cell's rows from two runs: ratio_across_runs says so, and RESULTS.md
    gives no figure). RESULTS.md and the chart read it."""
    best = {}
    for r in rows:
        if r["contender"] in PEERS and agrees(r):
            k = cell_key(r)
            if k not in best or r["pairs_per_s"] > best[k]["pairs_per_s"]:
                best[k] = r
    for r in rows:
        b = best.get(cell_key(r))
        r["ratio_across_runs"] = bool(b) and r.get("date") != b.get("date")
        r["ratio"] = r["pairs_per_s"] / b["pairs_per_s"] if b and not r["ratio_across_runs"] else None


def write_rows(out, rows):
    set_ratios(rows)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
        f.write("\n")


def standing(cell):
    """Where crossrank stands in one cell (rows of one family, model, set
    and N): the fastest peer at any precision against crossrank's fastest
    precision, and the fastest fp32 peer against crossrank fp32. None
    without a peer or a crossrank row."""
    peers = [r for r in cell if r["contender"] in PEERS and agrees(r)]
    crs = [r for r in cell if r["contender"] in CROSSRANK_PRECISIONS]
    if not peers or not crs:
        return None
    bp = max(peers, key=lambda r: r["pairs_per_s"])
    top = max(crs, key=lambda r: r["pairs_per_s"])
    st = {"peer": bp, "top": top, "ratio": top["pairs_per_s"] / bp["pairs_per_s"], "peer32": None, "cr32": None, "ratio32": None}
    p32 = [r for r in peers if r["precision"] == "fp32"]
    cr32 = next((r for r in crs if r["contender"] == "crossrank"), None)
    if p32 and cr32:
        st["peer32"] = max(p32, key=lambda r: r["pairs_per_s"])
        st["cr32"] = cr32
        st["ratio32"] = cr32["pairs_per_s"] / st["peer32"]["pairs_per_s"]
    # --merge can put rows of several runs in one cell: no ratio is given
    # between them (split() says so instead).
    st["runs"] = sorted({r["date"] for r in (bp, top, st["peer32"], st["cr32"]) if r and r.get("date")})
    return st


def split(st):
    """The words for a cell whose compared rows come from several runs (no
    ratio is given between runs), or "" where they come from one."""
    if len(st["runs"]) < 2:
        return ""
    return f"not compared: its fastest rows come from two runs ({', '.join(st['runs'])}); rerun the cell whole"


def verdict(st):
    """Plain words for crossrank's fastest precision against the fastest peer."""
    if st["ratio"] >= 1:
        return "ahead"
    return f"**behind** ({st['peer']['contender']} {1 / st['ratio']:.2f}x faster)"


def load_notes():
    """benchmarks/notes.json: what people wrote about each family's figures
    (why crossrank is behind where it is; a note on one run; a table quoted
    from elsewhere, shown while the family has no harness rows). Never
    written by run.py."""
    p = os.path.join(HERE, "notes.json")
    if not os.path.exists(p):
        return {}
    with open(p) as f:
        return {k: v for k, v in json.load(f).items() if not k.startswith("_")}


def quoted_cells(q):
    """A quoted table's cells as rows that standing() reads."""
    out = []
    for qr in q["rows"]:
        cell = [{"contender": c, "precision": q["precision"][c], "pairs_per_s": v, "family": "quoted",
                 "model": qr["model"], "set": qr["set"], "n": qr["n"]}
                for c, v in qr["pairs_per_s"].items() if v is not None]
        out.append(((qr["model"], qr["set"], qr["n"]), cell))
    return out


def family_cells(rows, fam):
    cells = {}
    for r in rows:
        if r["family"] == fam:
            cells.setdefault((r["model"], r["set"], r["n"]), []).append(r)
    return cells


def contender_order(c):
    return ORDER.index(c) if c in ORDER else len(ORDER)


def write_markdown(path, rows, metas, notes):
    L = []
    L.append("# crossrank benchmark results\n")
    import run_embed  # each family's Embeddings part (benchmarks/run_embed.py)

    out = os.path.dirname(os.path.abspath(path))
    fams = sorted(set(metas) | {f for f, n in notes.items() if n.get("quoted")} | run_embed.families(out))
    L.append("One section per machine family (the CPU decides who is fastest: AMX, VNNI, how many FMA ports). "
             "**Every ratio compares rows of one section, and within it rows of one model, set and N**; no figure is "
             "compared across families or across runs of different dates. Sections: "
             + ", ".join(f"[{family_title(f)}](#{anchor(f)})" for f in fams) + ".")
    L.append("")
    L.append("Models are **shape-exact stand-ins**: the published config.json of each model with seeded random "
             "weights (benchmarks/gen_models.py); speed does not depend on the weights' values. The workload "
             "(benchmarks/workload.json) fixes the token ids, so **tokenization is not timed**, except for "
             "crossrank-http (which receives text) and hugot / hugot-ort (text only; the text tokenizes to the same ids).")
    L.append("")
    L.append("Columns: *ratio* = pairs/s over the fastest peer's pairs/s in the same family, model and N (peers: "
             "sentence-transformers, ONNX Runtime, OpenVINO, hugot, hugot-ort); *GFLOP/s* counts the forward pass on the real tokens "
             "only (padding a peer computes is not credited; *tokens computed* shows it: real tokens, or the padded batches' size); *% peak* is that over the FP32 FMA peak measured by "
             "`crossrank bench --peak 1s` just before the contender ran (for crossrank, averaged with the one its own process measured after its runs; the FP32 peak does not bound the bf16 and int8 rows, which can pass 100%; and GFLOP/s credit the standard forward pass's work, while crossrank from 2026-12-02 22:00 UTC on runs its last layer only on the rows the head reads, K and V excepted (benchmarks/flops.go: about 14% less work on MiniLM-L6, 7% on MiniLM-L12 and bge-reranker-base, 3-3.5% on the others), so its *% peak* is a work rate that can read above what its kernels execute); *max |Δlogit|* is against crossrank's library logits on the "
             "same checkpoint (crossrank's own row: against sentence-transformers fp32); an fp32 peer more than "
             f"{FP32_AGREE:g} from crossrank computes another function: its row is marked **differs** and left out of the ratios. "
             "OpenVINO's rows give the precision its CPU plugin reports (INFERENCE_PRECISION_HINT) in *precision*.")
    L.append("")
    for fam in fams:
        L.extend(family_markdown(fam, rows, metas.get(fam), notes.get(fam, {})))
        L.extend(run_embed.family_markdown(out, fam))
    with open(path, "w") as f:
        f.write("\n".join(L))


def anchor(fam):
    # GitHub's heading anchor of family_markdown's "## title (fam)".
    t = f"{family_title(fam)} ({fam})".lower()
    return "".join(c for c in t.replace(" ", "-") if c.isalnum() or c in "-_")


def rounds_words(r):
    """ (rounds 0.29, 0.17): every round's pairs/s of a row from --rounds, in run order."""
    return f" (rounds {', '.join(fmt(x, 2) for x in r['rounds'])})" if r.get("rounds") else ""


def family_markdown(fam, rows, meta, note):
    L = [f"## {family_title(fam)} ({fam})\n"]
    cells = family_cells(rows, fam)
    if not cells and note.get("quoted"):
        return L + quoted_markdown(note["quoted"], note)
    if meta is None:
        return L + ["No harness run on this family.", ""]
    m = meta["machine"]
    current = note.get("for_date") == meta["date"]
    if note.get("run_note") and current:
        L.append(f"> {note['run_note']}\n")
    if meta["preliminary"]:
        L.append(f"> **PRELIMINARY: {meta['preliminary']}**\n")
    L.append(f"- Date: {meta['date']}")
    L.append(f"- Machine: {machine_line(m)}")
    for o in meta.get("other_machines", []):
        L.append(f"- Also (a --merge run): {machine_line(o)}")
    L.append(f"- Versions: {', '.join(f'{k} {v}' for k, v in meta['versions'].items())}")
    cmds = meta.get("commands") or [meta.get("command", "")]
    L.append("- Commands (from the repository root, after `make bench-peers`; `make bench` runs run.py): "
             + "; ".join(f"`{c}`" for c in cmds))
    L.append(f"- Timing: one warm-up request, then requests one at a time for {meta['budget_s']:g} s "
             "(at least --min-reps; the last command's figures: each command gives its own); the Go contenders then run "
             "GOMAXPROCS requests at once for as long (not in commands with --concurrency 1), and pairs/s is the "
             "better of the two. Each contender runs in its own process.")
    if any(r.get("rounds") for rs in cells.values() for r in rs):
        spread = max(max(r["rounds"]) / min(r["rounds"]) for rs in cells.values() for r in rs if r.get("rounds"))
        L.append("- Rounds: in the cells of commands with `--rounds R`, the cell's contenders ran R times, in turn and then in "
                 "reverse order, and each row is that contender's faster round; its *pairs/s* lists every round's figure. "
                 f"A contender's rounds differed by up to {spread:.2f}x in this section (the machine's noise, on one binary and one workload).")
    ran = sorted({r["contender"] for rs in cells.values() for r in rs}, key=contender_order)
    L.append(f"- Contenders: {', '.join(ran)}")
    absent = absent_words([c for c in DEFAULT if c not in ran], m, {k[0] for k in cells})
    if absent:
        L.append(f"- Not run on this family: {'; '.join(absent)}")
    # Contenders that ran on some cells of this family but not all, grouped
    # by the cells they lack.
    lacking = {}
    for c in ran:
        miss = tuple(f"{model} {set_name} N={n}" for (model, set_name, n), rs in cells.items() if c not in {r["contender"] for r in rs})
        if miss:
            lacking.setdefault(miss, []).append(c)
    for miss, cs in lacking.items():
        L.append(f"- {', '.join(cs)} not on: {'; '.join(miss)} (on request, or see Left out)")
    L.append("")
    summary = []
    for model in dict.fromkeys(k[0] for k in cells):
        L.append(f"### {model}\n")
        L.append("| set | N | contender | precision | p50 ms | p95 ms | reps | pairs/s | ratio | tokens computed | GFLOP/s | % peak | peak RSS MB | max abs Δlogit |")
        L.append("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for key in [k for k in cells if k[0] == model]:
            cell = sorted(cells[key], key=lambda r: contender_order(r["contender"]))
            for r in cell:
                d = r.get("max_abs_logit_diff")
                diff = "" if d is None else f"{d:.2g}"
                frac = r.get("fraction_of_peak")
                name = r["contender"] + (f" (batch {r['batch']})" if r.get("batch") not in (None, 32) else "")
                name += " (**differs**: not in the ratios)" if r["contender"] in PEERS and not agrees(r) else ""
                L.append(
                    f"| {r['set']} | {r['n']} | {name} | {r['precision']} | {fmt(r['latency_p50_ms'])} | "
                    f"{fmt(r['latency_p95_ms'])} | {r.get('reps', '')} | {fmt(r['pairs_per_s'], 2)}{rounds_words(r)} | "
                    f"{'– (its fastest peer ran in another run)' if r.get('ratio_across_runs') else fmt(r.get('ratio'), 2)} | {r.get('padded_tokens') or r['tokens']} | {fmt(r.get('gflops'))} | {fmt(100 * frac if frac else None)} | "
                    f"{fmt(r['peak_rss_mb'], 0)} | {diff} |"
                )
            st = standing(cell)
            if st:
                summary.append(standing_line(model, key, st))
        L.append("")
    if meta.get("missing"):
        L.append("### Left out\n")
        L.extend(f"- {x}" for x in meta["missing"])
        L.append("")
    L.append("### Where crossrank stands\n")
    L.extend(summary or ["- no crossrank rows"])
    L.append("")
    if note.get("why"):
        L.append("### Why, where crossrank is behind\n")
        if not current:
            L.append(f"*Written for the run of {note.get('for_date')}, not this one: check it against the tables above.*\n")
        L.extend(f"- {w}" for w in note["why"])
        L.append("")
    return L


def machine_line(m):
    ids = ""
    if m.get("cpu_family") is not None:
        ids = f" (vendor {m.get('vendor')}, family {m['cpu_family']}, model {m.get('cpu_model')}, stepping {m.get('stepping')})"
    return f"{m['cpu']}{ids}, {m['cores']} cores, {m['memory']}; {', '.join(m['isa'])}; {m['os']}"


def standing_line(model, key, st):
    top, bp = st["top"], st["peer"]
    if split(st):
        return f"- {model}, {key[1]} N={key[2]}: {split(st)}."
    s = (f"- {model}, {key[1]} N={key[2]}: fastest peer {bp['contender']} ({bp['precision']}); "
         f"crossrank's fastest precision ({top['precision']}) {st['ratio']:.2f}x its pairs/s: {verdict(st)}")
    if st["ratio32"] is not None:
        cr, p32 = st["cr32"], st["peer32"]
        s += f". crossrank fp32 {st['ratio32']:.2f}x the fastest fp32 peer's ({p32['contender']})"
        if cr.get("latency_p50_ms") and p32.get("latency_p50_ms"):
            s += f"; median latency {cr['latency_p50_ms']:.0f} ms against its {p32['latency_p50_ms']:.0f} ms"
        if cr.get("fraction_of_peak"):
            s += f"; {100 * cr['fraction_of_peak']:.0f}% of the FP32 peak on real tokens"
    return s + "."


def quoted_markdown(q, note):
    L = [f"> **Quoted, not harness output.** {q['source']} No harness run on this family has been recorded yet; "
         "this table is not in results.json or the chart, and nothing in it is compared with another section.\n"]
    L.append(f"- Measured: {q['date']}, {q['machine']}")
    L.append(f"- How: {q['how']}")
    L.append(f"- Contenders: {', '.join(q['contenders'])} (precisions: "
             + ", ".join(f"{c} {q['precision'][c]}" for c in q["contenders"]) + ")")
    if q.get("absent"):
        L.append(f"- Not run: {q['absent']}")
    if q.get("logits"):
        L.append(f"- Logits: {q['logits']}")
    if q.get("memory"):
        L.append(f"- Peak RSS: {q['memory']}")
    L.append("")
    L.append("| model | set | N | " + " | ".join(q["contenders"]) + " |")
    L.append("|---|---|---:|" + "---:|" * len(q["contenders"]))
    for qr in q["rows"]:
        L.append(f"| {qr['model']} | {qr['set']} | {qr['n']} | "
                 + " | ".join(fmt(qr["pairs_per_s"].get(c)) or "-" for c in q["contenders"]) + " |")
    L.append("")
    L.append("pairs/s. Within the table (one run):\n")
    for (model, set_name, n), cell in quoted_cells(q):
        st = standing(cell)
        if st:
            L.append(standing_line(model, (model, set_name, n), st))
    L.append("")
    if note.get("why"):
        L.append("### Why, where crossrank is behind\n")
        L.extend(f"- {w}" for w in note["why"])
        L.append("")
    return L


SHORT_NAMES = {
    "ms-marco-MiniLM-L-6-v2": "MiniLM-L6",
    "ms-marco-MiniLM-L-12-v2": "MiniLM-L12",
}
README_BEGIN = "<!-- speed-table: written by benchmarks/run.py from benchmarks/results.json and notes.json; edit those, not this -->"
README_END = "<!-- /speed-table -->"


def long_range():
    with open(os.path.join(HERE, "workload.json")) as f:
        sets = [s for s in json.load(f)["sets"] if s["name"] == "long"]
    ls = [len(p["input_ids"]) for s in sets for p in s["pairs"]]
    return f"{min(ls):,}-{max(ls):,}" if ls else ""


def readme_table(cells, note_short):
    L = ["| model shape, documents | fastest peer | crossrank's fastest precision / fastest peer | crossrank fp32 / fastest fp32 peer | crossrank fp32, % of FP32 peak |",
         "|---|---|---|---|---:|"]
    for (model, set_name, n), cell in cells:
        st = standing(cell)
        if not st:
            continue
        docs = f"{n}" if set_name == "short" else f"{n} long documents ({long_range()} tokens a pair)"
        bp = st["peer"]
        words = f"{st['top']['precision']} {st['ratio']:.2f}x: {verdict(st)}"
        if st["ratio"] < 1 and note_short:
            words += f"; {note_short}"
        r32 = f"{st['ratio32']:.2f}x ({st['peer32']['contender']})" if st["ratio32"] is not None else "no fp32 peer ran"
        if split(st):
            words, r32 = split(st), "not compared"
        cr = next((r for r in cell if r["contender"] == "crossrank"), {})
        frac = f"{100 * cr['fraction_of_peak']:.0f}%" if cr.get("fraction_of_peak") else "not recorded"
        L.append(f"| {SHORT_NAMES.get(model, model)}, {docs} | {bp['contender']} ({bp['precision']}) | {words} | {r32} | {frac} |")
    return L


def readme_block(rows, metas, notes):
    fams = sorted(set(metas) | {f for f, n in notes.items() if n.get("quoted")})
    L = [README_BEGIN, ""]
    L.append("Scoring the same token ids as sentence-transformers (PyTorch), ONNX Runtime and OpenVINO, in pairs/s, "
             "each family's figures from one machine; crossrank's fastest precision against the fastest peer at any "
             "precision, crossrank fp32 against the fastest fp32 peer. Ratios never cross families. *% of FP32 peak* credits "
             "the standard forward pass's FLOPs; crossrank's last layer computes only the rows the head reads (rows run from "
             "2026-12-02 22:00 UTC on), so for those rows it is a work rate, above what the kernels execute.")
    L.append("")
    for fam in fams:
        note = notes.get(fam, {})
        cells = family_cells(rows, fam)
        if cells:
            meta = metas[fam]
            m = meta["machine"]
            ran = {r["contender"] for rs in cells.values() for r in rs}
            absent = absent_words([c for c in DEFAULT if c not in ran], m, {k[0] for k in cells})
            days = sorted({r["date"].split(" ")[0] for rs in cells.values() for r in rs if r.get("date")}) or [meta["date"].split(" ")[0]]
            runs = f"harness run of {days[0]}" if len(days) == 1 else f"harness runs of {', '.join(days[:-1])} and {days[-1]}"
            head = f"**{family_title(fam)}**: {m['cpu']}, {m['cores']} cores, {runs}"
            if absent:
                head += f"; not run on it: {'; '.join(absent)}"
            # A contender run on some models only: say which models lack
            # it, so that a ratio's "fastest peer" is read with its field.
            models = sorted({k[0] for k in cells}, key=lambda mo: cell_order((mo, "short", 0)))
            lacking = {}
            for c in PEERS:
                if c not in ran or c.startswith("hugot") or c.startswith("genai"):
                    continue
                have = {k[0] for k, rs in cells.items() if any(r["contender"] == c for r in rs)}
                miss = tuple(mo for mo in models if mo not in have)
                if miss:
                    lacking.setdefault(miss, []).append(c)
            for miss, cs in lacking.items():
                head += f"; {', '.join(cs)} not on {', '.join(SHORT_NAMES.get(mo, mo) for mo in miss)}"
            L.append(head + ".")
            L.append("")
            L.extend(readme_table(sorted(cells.items(), key=lambda kv: cell_order(kv[0])), note.get("readme")))
        elif note.get("quoted"):
            q = note["quoted"]
            L.append(f"**{family_title(fam)}**: quoted, not harness output: one session's table, measured {q['date']} on "
                     f"{q['machine']} (contenders: {', '.join(q['contenders'])}); see RESULTS.md.")
            L.append("")
            L.extend(readme_table(quoted_cells(q), note.get("readme")))
        L.append("")
    L.append(README_END)
    return "\n".join(L)


def absent_words(absent, machine, models):
    """The contenders of DEFAULT a family has no rows of, each with the
    reason when it is not a choice: crossrank-bf16 where the CPU lacks
    AVX512_BF16 (crossrank's bf16 would run as fp32 there, so its bench
    refuses to time it), genai-* while the family has no decoder rows."""
    out, genai = [], []
    for c in absent:
        if c == "crossrank-bf16" and "avx512_bf16" not in machine.get("isa", []):
            out.append("crossrank-bf16 (no AVX512_BF16 on this CPU: crossrank runs bf16 as fp32 there, "
                       "so `crossrank bench` refuses to time it)")
        elif c.startswith("genai-") and not any(gen_models.MODELS.get(mo, (None, None))[1] in GENAI_ARCHS for mo in models):
            genai.append(c)
        else:
            out.append(c)
    if genai:
        out.append(f"{', '.join(genai)} (decoder re-rankers only; no such rows yet)")
    return out


def cell_order(k):
    model, set_name, n = k
    names = list(gen_models.MODELS)
    return (names.index(model) if model in names else len(names), set_name != "short", n)


def write_readme(rows, metas, notes):
    p = os.path.join(ROOT, "README.md")
    with open(p) as f:
        text = f.read()
    i, j = text.find(README_BEGIN), text.find(README_END)
    if i < 0 or j < i:
        print("run.py: README.md has no speed-table markers; its table is not rewritten", file=sys.stderr)
        return
    new = text[:i] + readme_block(rows, metas, notes) + text[j + len(README_END):]
    if new != text:
        with open(p, "w") as f:
            f.write(new)
        print("run.py: README.md speed table rewritten", flush=True)


if __name__ == "__main__":
    main()
