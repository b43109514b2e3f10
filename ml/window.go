package ml

// WindowAttentionRun is a Run with local (sliding-window) attention, as in
// ModernBERT's local layers.
type WindowAttentionRun interface {
	// WindowAttention is Attention in which token i of a sequence attends
	// only to the tokens j of the same sequence with |i - j| <= window: a
	// bidirectional band of 2·window+1 tokens (ModernBERT's local_attention
	// is 2·window). window >= 0. Its cost should grow with the band, not
	// with the sequence's length: that is what a local layer is for.
	WindowAttention(q, k, v Tensor, heads int, offsets []int32, window int) Tensor
}
