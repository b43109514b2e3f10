#!/usr/bin/env bash
# gpu-check: what `make gpu-check` runs on a lent GPU machine, from the
# repository root. It needs the test binary built beforehand on a machine with
# Go (the GPU machines have none):
#
#   CGO_ENABLED=1 go test -c -tags cuda -o .gpubin/cuda.test ./cuda/
#
# (.gpubin/ is ignored; carry it to the device). Steps: the device; the
# kernels against their CPU references and the fixture checkpoints against
# transformers' logits, on the GPU (a missing GPU fails instead of skipping);
# random-weight checkpoints of bge-reranker-base and ms-marco-MiniLM-L-6-v2
# made with transformers; crossrank-cuda and PyTorch (CrossEncoder's model)
# timed on the benchmark workload; the table in $OUT/gpu-table.md.
#
# Each step's failure is printed and the script goes on; it exits non-zero
# if any step failed. Budget: about 4 minutes on an H100/H200.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/crossrank-gpu-check}
mkdir -p "$OUT"
BIN=$PWD/${CROSSRANK_GPU_BIN:-.gpubin/cuda.test}
MODELS=${CROSSRANK_BENCH_DIR:-/tmp/crossrank-bench}
export CROSSRANK_BENCH_SECONDS=${CROSSRANK_BENCH_SECONDS:-6}
export PYTHONUNBUFFERED=1
failed=0
step() { echo; echo "=== $(date -u +%H:%M:%S) $*"; }
fail() { echo "FAILED: $*"; failed=1; }

step "device"
nvidia-smi -L || fail "nvidia-smi"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm --format=csv || true
if command -v go >/dev/null; then
	CGO_ENABLED=1 go test -c -tags cuda -o "$BIN" ./cuda/ || fail "building the test binary"
fi
if [ ! -x "$BIN" ]; then
	echo "no test binary at $BIN: build it first (see the top of this script)"
	exit 1
fi
echo "cuBLAS libraries here:"
ls /usr/local/cuda/lib64/libcublas.so.* 2>/dev/null
python3 - <<'PY' 2>/dev/null
import glob, os, site
for d in site.getsitepackages():
    for p in sorted(glob.glob(os.path.join(d, "nvidia", "*", "lib", "libcublas.so.*"))):
        print(p)
PY

step "kernels and fixture checkpoints on the GPU"
(cd cuda && CROSSRANK_REQUIRE_GPU=1 timeout 150 "$BIN" -test.v -test.count=1 -test.run '^Test([^D]|D[^e])' >"$OUT/gpu-tests.log" 2>&1)
rc=$?
grep -E '^(--- |PASS|FAIL|ok|panic)|device:|relative error|logit error|free of|falling' "$OUT/gpu-tests.log" | grep -v -- '--- PASS.*/' | head -150
[ $rc -eq 0 ] || { tail -30 "$OUT/gpu-tests.log"; fail "GPU tests (exit $rc; log in gpu-tests.log)"; }

step "random-weight checkpoints (transformers)"
timeout 120 python3 cuda/gpu_bench.py models "$MODELS" >"$OUT/models.log" 2>&1 || fail "making checkpoints"
grep -v -i warn "$OUT/models.log" | tail -20

step "crossrank-cuda timing"
(cd cuda && CROSSRANK_REQUIRE_GPU=1 \
	CROSSRANK_BENCH_MODELS="bge-reranker-base=$MODELS/bge-reranker-base,ms-marco-MiniLM-L-6-v2=$MODELS/ms-marco-MiniLM-L-6-v2" \
	CROSSRANK_BENCH_OUT="$OUT/bench-crossrank.jsonl" \
	timeout 150 "$BIN" -test.v -test.count=1 -test.run '^TestDeviceBench$' >"$OUT/bench-crossrank.log" 2>&1) ||
	{ tail -20 "$OUT/bench-crossrank.log"; fail "crossrank timing"; }
cat "$OUT/bench-crossrank.jsonl" 2>/dev/null

step "PyTorch timing"
timeout 150 python3 cuda/gpu_bench.py torch "$MODELS" "$OUT/bench-pytorch.jsonl" >"$OUT/bench-pytorch.log" 2>&1 ||
	fail "PyTorch timing"
grep -v -i -E 'warn|Loading weights' "$OUT/bench-pytorch.log" | tail -20

step "table"
python3 cuda/gpu_bench.py table "$OUT/bench-crossrank.jsonl" "$OUT/bench-pytorch.jsonl" "$OUT/gpu-table.md" || fail "table"
echo
[ $failed -eq 0 ] && echo "gpu-check: all steps passed" || echo "gpu-check: some steps FAILED (see above)"
exit $failed
