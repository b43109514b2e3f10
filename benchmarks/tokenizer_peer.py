"""Times the Hugging Face `tokenizers` library (Rust, called from Python) on
the corpus, on one core, for comparison with crossrank's tokenizer benchmark
(go test -run '^$' -bench Encode -cpu 1 ./tokenizer/).

The workloads match BenchmarkEncode exactly: "single" encodes every line of
testdata/corpus.jsonl as one text with special tokens; "pair512" encodes
line i with line i+1 (i even) as a pair, longest_first at max_length 512.
Tokens/s counts the ids produced, special tokens included, so both sides
count the same tokens (their ids are identical: see the tokenizer golden
test).

Each workload is timed two ways: `encode` per text (one Python call per
text, as transformers' single calls do) and `encode_batch` over the whole
list with Rayon held to one thread (the Rust library's best case). Both are
pinned to one CPU.

usage: python benchmarks/tokenizer_peer.py [--models bert,xlmr] [--repeat 5]
Prints one line per (model, workload, mode): name, tokens, best seconds,
tokens/s; with --json, JSON lines.
"""
import argparse
import json
import os
import sys
import time

# One core: Rayon's pool must be sized before tokenizers is imported.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["RAYON_RS_NUM_CPUS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import tokenizers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="bert,xlmr")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the first allowed)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
    with open(os.path.join(ROOT, "testdata", "corpus.jsonl"), encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    pairs = [(texts[i], texts[i + 1]) for i in range(0, len(texts) - 1, 2)]
    for model in args.models.split(","):
        tok = Tokenizer.from_file(os.path.join(ROOT, "testdata", "models", model, "tokenizer.json"))
        tok.no_padding()  # a tokenizer.json may carry padding (transformers drops it per call)
        for workload in ("single", "pair512"):
            if workload == "single":
                tok.no_truncation()
                inputs = texts
                one = lambda x: tok.encode(x)  # noqa: E731
            else:
                tok.enable_truncation(512, strategy="longest_first")
                inputs = pairs
                one = lambda x: tok.encode(x[0], x[1])  # noqa: E731
            for mode in ("encode", "encode_batch"):
                best, best_cpu, tokens = None, None, 0
                for _ in range(args.repeat):
                    t0, c0 = time.perf_counter(), time.process_time()
                    if mode == "encode":
                        encs = [one(x) for x in inputs]
                    else:
                        encs = tok.encode_batch(inputs)
                    dt, dc = time.perf_counter() - t0, time.process_time() - c0
                    tokens = sum(len(e.ids) for e in encs)
                    best = dt if best is None else min(best, dt)
                    best_cpu = dc if best_cpu is None else min(best_cpu, dc)
                # CPU time is the steadier measure on a shared machine; the
                # Go benchmark reports it too (tokens/cpu-s).
                rec = {"peer": "tokenizers " + tokenizers.__version__, "model": model, "workload": workload,
                       "mode": mode, "tokens": tokens, "seconds": best, "tokens_per_s": tokens / best,
                       "cpu_seconds": best_cpu, "tokens_per_cpu_s": tokens / best_cpu}
                if args.json:
                    print(json.dumps(rec))
                else:
                    print(f"tokenizers/{model}/{workload}/{mode}\t{tokens}\t{best:.4f}s\t{tokens / best:.0f} tokens/s"
                          f"\t{tokens / best_cpu:.0f} tokens/cpu-s")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
