// Package bert runs the forward pass of BertForSequenceClassification and
// XLMRobertaForSequenceClassification: token ids in, classification logits
// out, matching Hugging Face transformers.
//
// Each Hugging Face module is one Go type (modeling.go) whose weights are
// struct fields tagged with the checkpoint's names and bound once at load
// (bind.go). The modules call only the operations of the backend seam
// (backend.go), so the CPU backend here and the CUDA backend (package cuda)
// run the same model code. Batches are packed: the tokens of all sequences
// in one [tokens, hidden] matrix plus offsets, so no work goes to padding and
// a sequence's logits do not depend on its batch.
//
// The default CPU backend (NewCPU, fastcpu.go) runs Linear on
// internal/gemm's packed AVX-512/AVX2 GEMM with the weights packed at load
// and the activation fused into its epilogue, attention per sequence and
// head in cache-sized query blocks, residual + LayerNorm in one pass, and
// keeps its activations in pooled arenas (no allocation per batch once
// warm). The reference CPU backend (NewReferenceCPU, cpu.go) stays as the
// oracle the fast one is tested against. Neither builds Gorgonia graphs.
//
// NewCPUWithOptions runs the fast backend's Linear layers in bf16 or int8
// (CPUOptions.Precision) on internal/gemm's AVX512_BF16 and VNNI kernels,
// with attention, LayerNorm and the activations in fp32; lowp_test.go
// holds the measured logit error of each against the fp32 goldens.
//
// The reference CPU backend uses gorgonia.org/tensor as its tensor engine but
// not Gorgonia's expression graphs: a graph per batch would cost about 40 us
// plus 0.75 us per op and allocate every intermediate, the batch shape changes
// with every request, and variable-length attention over packed sequences has
// no Gorgonia op. Calling tensor directly behind the seam keeps each operation
// one function call; BenchmarkGorgoniaGraphRun keeps the graph overhead
// visible for the comparison.
//
// Typical use:
//
//	m, err := bert.Load(ctx, "path/to/cross-encoder", bert.Options{})
//	...
//	logits, err := m.Forward(ctx, []ml.Sequence{{IDs: enc.IDs, TypeIDs: enc.TypeIDs}})
package bert
