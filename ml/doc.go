// Package ml is what every model architecture and every backend share: the
// backend seam, the weight binder, the modules common to architectures and
// the registry of architectures.
//
// # The seam
//
// Model code (package bert, and each architecture after it) calls only the
// operations of Backend and Run (backend.go). The backends implement them:
// package cpu (the fast CPU backend, the default), package reference (plain
// loops on gorgonia.org/tensor, the oracle the others are tested against,
// selectable with --backend reference) and package cuda (build tag cuda). A
// faster kernel plugs in behind the seam and the model code does not change.
//
// Batches are packed: the tokens of every sequence in a batch are laid one
// after the other in a [tokens, hidden] matrix, and offsets (cu_seqlens)
// say where each sequence starts: sequence i is rows offsets[i] to
// offsets[i+1]-1. Dense layers, activations and LayerNorm do not care where
// a sequence ends; only Attention and the heads (which read the first token of
// each sequence) use the offsets. No work is spent on padding, and a
// sequence's logits cannot depend on what else is in its batch.
//
// # Adding an operation
//
// The seam is a contract between the models and every backend: change it
// additively and keep every side building. An operation a new architecture
// needs (RMSNorm, rotary position embeddings, causal, grouped-query or
// local-window attention, SwiGLU / GeGLU) is added as an optional
// interface, as LinearActRun and Releaser are, not as a new method of Run:
//
//  1. Declare it here: an interface with one method (type RMSNormRun
//     interface{ RMSNorm(x Tensor, w Weight, eps float32) Tensor }) whose
//     comment is the contract. Where the plain operations can compose it, add
//     a function the model calls that falls back to them, as LinearAct does;
//     where they cannot, the architecture's constructor calls
//     Need[RMSNormRun](b, "RMSNorm") so that a backend without it fails at
//     load with an error naming the backend and the operation (wrapping
//     ErrUnsupported), never in the middle of a forward pass.
//  2. Implement it in package reference first, as the plain definition
//     (the formula of the Hugging Face module, a loop anyone can check), with
//     a test against torch's values.
//  3. Implement it in package cpu and test it against the reference on
//     random inputs (cpu's *_test.go compare every operation that way).
//  4. Package cuda refuses it through step 1's Need until it has a kernel,
//     tested against the CPU the same way.
//
// New weight kinds (a norm without bias, a fused gate/up matrix) are new
// Weight-preparing methods of an optional Backend interface, or new
// modules that prepare their weights with the existing ones; see Param
// (OptLinear and OptLayerNorm in nn_bias.go are of the second kind).
//
// The optional operations so far: LinearActRun, Releaser and TableBuilder
// (backend.go); RoPERun (rope.go), WindowAttentionRun (window.go), AddRun,
// GLURun and MeanRowsRun (elementwise.go), which ModernBERT needs;
// AttentionRowsRun and RoPEAtRun (rows.go), with which a last layer computes
// only the rows its head reads (bert, qwen3 and modernbert run the whole
// layer without them; bert's HiddenRows, an embedding model's [cls] row,
// likewise: RowsEncoder in model.go); reference and cpu have them all, cuda
// none of the latter seven yet.
//
// # Modules and binding
//
// Linear, LayerNorm and Embedding (nn.go) are torch's modules over the
// seam. A model's weights are the fields of its Go types, tagged with the
// checkpoint's names and shapes, and bound once at load by Binder (bind.go).
//
// # Architectures
//
// An architecture package registers a constructor under config.json's
// architectures entries (and model_type) in its init (Register); Load reads a
// checkpoint folder and builds whichever registered architecture its config
// names, as a Model. The constructor gets a Request: the folder, config.json's
// bytes (each architecture parses its own fields), the tensors, the backend
// and, from the caller's tokenizer, TokenID (LoadWith), which a decoder
// re-ranker asks for its answer tokens. Package rerank imports the
// architecture packages and loads every model through LoadWith, so a new
// architecture needs no change above it beyond, for a decoder, its prompt.
package ml
