// Package bert is the model code of BertForSequenceClassification and
// XLMRobertaForSequenceClassification: token ids in, classification logits
// out, matching Hugging Face transformers.
//
// Each Hugging Face module is one Go type (modeling.go) whose weights are
// struct fields tagged with the checkpoint's names, bound once at load by
// package ml's binder. The modules call only the operations of the backend
// seam (package ml), so every backend (package cpu, the default; package
// reference; package cuda) runs the same model code. Batches are packed:
// the tokens of all sequences in one [tokens, hidden] matrix plus offsets,
// so no work goes to padding and a sequence's logits do not depend on its
// batch.
//
// The package registers both architectures with ml.Register (by
// config.json's architectures and model_type), so ml.Load, and through it
// package rerank, loads them.
//
// Typical use:
//
//	m, err := bert.Load(ctx, "path/to/cross-encoder", bert.Options{})
//	...
//	logits, err := m.Forward(ctx, []ml.Sequence{{IDs: enc.IDs, TypeIDs: enc.TypeIDs}})
//
// Options.Backend chooses the backend: nil is the CPU in fp32
// (cpu.Default); cpu.New(cpu.Options{Precision: "bf16"}) or "int8" the
// reduced precisions; reference.New() the plain-loop oracle; cuda.New the
// GPU.
package bert
