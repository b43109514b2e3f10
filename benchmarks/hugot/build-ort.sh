#!/bin/sh
# Builds hugot-ort-bench: benchmarks/hugot with -tags ORT (hugot's ONNX
# Runtime backend). That build needs cgo and the Rust tokenizers library
# libtokenizers.a of github.com/daulet/tokenizers, which is built here with
# cargo from that module's source in the Go module cache. Its Cargo.toml
# takes tiktoken-rs from a GitHub branch; the copy built here takes the
# crates.io release instead (tiktoken is not used by BERT/XLM-R tokenizers),
# so the build needs crates.io only. ONNX Runtime itself is loaded at run
# time from the path given with --ort-lib (run.py uses the onnxruntime
# wheel's libonnxruntime.so).
#
# usage: build-ort.sh OUTPUT-BINARY [WORK-DIR]
set -eu
out=$1
case $out in /*) ;; *) out=$PWD/$out ;; esac
work=${2:-${CROSSRANK_CACHE:-$HOME/.cache/crossrank}/hugot-ort}
here=$(cd "$(dirname "$0")" && pwd)
go=${GO:-go}
command -v "${CC:-cc}" >/dev/null || { echo "build-ort.sh: no C compiler (cgo)" >&2; exit 1; }
cd "$here"
src=$($go list -m -f '{{.Dir}}' github.com/daulet/tokenizers)
if [ -z "$src" ] || [ ! -f "$src/Cargo.toml" ]; then
	$go mod download github.com/daulet/tokenizers
	src=$($go list -m -f '{{.Dir}}' github.com/daulet/tokenizers)
fi
ver=$($go list -m -f '{{.Version}}' github.com/daulet/tokenizers)
rs=$work/tokenizers-$ver
if [ ! -f "$rs/target/release/libtokenizers.a" ]; then
	command -v cargo >/dev/null || { echo "build-ort.sh: cargo not found (needed to build libtokenizers.a)" >&2; exit 1; }
	rm -rf "$rs"
	mkdir -p "$rs"
	cp -r "$src/Cargo.toml" "$src/Cargo.lock" "$src/src" "$src/benches" "$rs/"
	chmod -R u+w "$rs"
	sed -i 's|^tiktoken-rs = .*|tiktoken-rs = "0.9"|' "$rs/Cargo.toml"
	(cd "$rs" && cargo build --release)
fi
CGO_ENABLED=1 CGO_LDFLAGS="-L$rs/target/release" $go build -tags ORT -o "$out" .
echo "build-ort.sh: built $out"
