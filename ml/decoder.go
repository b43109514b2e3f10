package ml

// Optional operations of decoder architectures (Qwen3, Llama-like), beside
// the ones they share with the encoders (AddRun, RoPERun): added
// to the seam as optional interfaces (see the package comment), each
// defined by the Hugging Face code it names. A model needing them checks
// them at load with Need; package reference holds their plain definitions,
// package cpu its kernels; package cuda has none yet, so a decoder refuses
// to load there with ErrUnsupported.

// RMSNormRun is LlamaRMSNorm / Qwen3RMSNorm: weight * x / sqrt(mean(x²) +
// eps), computed over each consecutive group of len(weight) values of
// every row of x (x.Cols() a multiple of it). With a weight of hidden_size
// values it is the layers' norm; with head_dim values it is Qwen3's
// per-head q_norm / k_norm on [tokens, heads*head_dim]. weight is a
// Vector. The result is a new tensor.
type RMSNormRun interface {
	RMSNorm(x Tensor, weight Weight, eps float32) Tensor
}

// CausalAttentionRun is scaled dot-product attention over packed
// sequences (offsets, as Attention) in which token t of a sequence attends
// to tokens 0..t of its own sequence only (the causal mask), with grouped
// query heads: q is [tokens, heads*headDim], k and v [tokens,
// kvHeads*headDim], and query head h reads key-value head h/(heads/kvHeads)
// (repeat_kv). Scores are scaled by 1/sqrt(headDim). The result has q's
// shape.
type CausalAttentionRun interface {
	CausalAttention(q, k, v Tensor, heads, kvHeads int, offsets []int32) Tensor
}

// SwiGLURun is the gated MLP's act_fn(gate_proj(x)) * up_proj(x) with
// act_fn silu: gate becomes gate·sigmoid(gate)·up element-wise, in place,
// and is returned. gate and up have one shape.
type SwiGLURun interface {
	SwiGLU(gate, up Tensor) Tensor
}
