package ml

// Optional operations of a last layer that computes only the rows its head
// reads. A cross-encoder's head reads one row per sequence (BERT/XLM-R and
// ModernBERT with "cls" pooling the first token, Qwen3 the last), so the
// last layer needs its keys and values for every token but its queries,
// attention output, output projection and MLP for those rows only. A model
// asks its run for these with a type assertion and, when the backend lacks
// them (cuda today), runs the whole last layer as before: the result is the
// same up to float32 rounding either way.

// AttentionRowsRun is a Run with attention for one query per sequence.
type AttentionRowsRun interface {
	// AttentionRows is scaled dot-product attention in which q holds one
	// row per sequence (len(offsets)-1 rows, heads*headDim columns): row
	// s attends to every key of sequence s (rows offsets[s] to
	// offsets[s+1]-1 of k and v, [tokens, kvHeads*headDim]; no sequence
	// empty), query head h reading key-value head h/(heads/kvHeads) as in
	// CausalAttention. Scores are scaled by 1/sqrt(headDim). That is
	// Attention's output at any one row of a sequence when q is that row's
	// query (heads == kvHeads), and CausalAttention's at a sequence's last
	// row. The result has q's shape.
	AttentionRows(q, k, v Tensor, heads, kvHeads int, offsets []int32) Tensor
}

// RoPEAtRun is a Run that applies rotary position embeddings at given
// positions, for rows gathered out of their sequences.
type RoPEAtRun interface {
	// RoPEAt is RoPE with row i of x at position positions[i] (>= 0):
	// the same rotation, to the bit, that RoPE gives a token at that
	// position in its sequence.
	RoPEAt(x Tensor, heads int, theta float64, positions []int32)
}
