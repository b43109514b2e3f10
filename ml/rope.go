package ml

import "math"

// RoPERun is a Run with rotary position embeddings (RoPE), the position
// encoding of ModernBERT, Qwen3 and most models after 2023.
type RoPERun interface {
	// RoPE rotates, in place, every head of x ([tokens, heads*headDim],
	// headDim even) by the position of its token in its own sequence:
	// position 0 is row offsets[s]. With half = headDim/2 and, for i <
	// half, angle = position * InvFreq(theta, headDim)[i] (in float32),
	// the pair (x[i], x[i+half]) becomes
	// (x[i]·cos - x[i+half]·sin, x[i+half]·cos + x[i]·sin): transformers'
	// apply_rotary_pos_emb with rotate_half, cos and sin being
	// cat(freqs, freqs).
	RoPE(x Tensor, heads int, theta float64, offsets []int32)
}

// InvFreq is the default rope's inverse frequencies,
// 1 / theta^(arange(0, dim, 2) / dim), rounded as torch computes them in
// float32 (compute_default_rope_parameters). Every backend takes its
// angles from here, so that they agree to the bit.
func InvFreq(theta float64, dim int) []float32 {
	out := make([]float32, dim/2)
	for i := range out {
		e := float32(2*i) / float32(dim)
		out[i] = 1 / float32(math.Pow(float64(float32(theta)), float64(e)))
	}
	return out
}
