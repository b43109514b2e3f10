// Package cpu is crossrank's fast CPU backend, the default one: the ml
// seam implemented with internal/gemm's packed GEMMs and AVX-512 kernels of
// its own. It owns the fp32, bf16 and int8 paths (Options.Precision), the
// variable-length attention, the element-wise kernels (GELU, softmax,
// residual + LayerNorm), the helper goroutine pool and the generated
// assembly (kern_gen.go writes kern_amd64.s: `go generate ./cpu`). It
// knows nothing of any architecture's modules.
//
// It computes what the reference backend (package reference) computes, op
// for op, but:
//
//   - Linear is internal/gemm's packed, multi-threaded MatMul against a
//     weight packed once at load, with the bias added by the micro-kernel and
//     an activation (LinearAct) applied by the GEMM's epilogue to each block
//     of the output while it is still in cache;
//   - attention runs per sequence and head on the sequence's own length,
//     four query rows at a time, so that the scores of a block (4 x L) stay in
//     L1/L2 and no [heads, L, L] matrix is ever built (attention.go);
//   - residual + LayerNorm is one pass per row (the row stays in L1 between
//     its mean, variance and output), GELU uses a float32 erf;
//   - activations live in buffers that a run takes from, and gives back to,
//     a pool of arenas shared by runs of similar size, so that a forward pass
//     in the steady state allocates nothing in the backend;
//   - the element-wise passes and attention share one pool of GOMAXPROCS-1
//     helper goroutines across all runs (parallel.go), and the GEMMs use
//     internal/gemm's pool, so that concurrent requests do not start more
//     threads than there are cores.
//
// In bf16 and int8 only the Linear layers (nearly all of the work) change
// arithmetic, on AVX512_BF16 and VNNI kernels; attention, LayerNorm and the
// activations stay fp32. Package bert's lowp_test.go holds the measured
// logit error of each against the fp32 goldens.
//
// The tests here compare every operation with the reference backend on
// fresh random data; package bert's tests compare whole models on both and
// with transformers' goldens.
package cpu
