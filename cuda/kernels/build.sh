#!/bin/sh
# Regenerates kernels.ptx from kernels.cu. Needs nvcc 11.8 or newer; the Go
# build embeds the committed PTX and never runs nvcc.
#
# compute_80 PTX: the driver compiles it at load for the card it finds
# (Ampere, Ada, Hopper and newer); bf16 arithmetic needs sm_80.
set -eu
cd "$(dirname "$0")"
NVCC=${NVCC:-nvcc}
"$NVCC" -ptx -O3 -arch=compute_80 -std=c++14 -o kernels.ptx kernels.cu
