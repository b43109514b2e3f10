#!/usr/bin/env bash
# CI: the cuda-tagged build compiles and vets, and package cuda's tests run
# (those that need a GPU skip; the CPU fallback is tested). Needs no GPU and
# no CUDA toolkit: package cuda opens libcuda.so.1 and libcublas with dlopen
# at run time, so the tagged build needs only cgo's C compiler.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v gcc >/dev/null 2>&1; then
	apt-get update -q && apt-get install -y -q --no-install-recommends gcc libc6-dev
fi
export CGO_ENABLED=1
go build -tags cuda ./...
go vet -tags cuda ./cuda/
go test -tags cuda -count=1 ./cuda/
# Optional: driver.go's hand-written CUDA declarations against the real
# headers, where they are installed (e.g. Debian's nvidia-cuda-dev:
# CROSSRANK_CUDA_HEADERS=/usr/include).
if [ -n "${CROSSRANK_CUDA_HEADERS:-}" ]; then
	cc -fsyntax-only -I"$CROSSRANK_CUDA_HEADERS" cuda/kernels/abi_check.c
	echo "cuda: declarations match $CROSSRANK_CUDA_HEADERS"
fi
