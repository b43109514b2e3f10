// Package modernbert is ModernBertForSequenceClassification, the
// architecture of the ModernBERT re-rankers (Alibaba-NLP/gte-reranker-
// modernbert-base and the ModernBERT cross-encoders of sentence-transformers),
// loaded from its Hugging Face files.
//
// ModernBERT differs from BERT in four ways that matter here: positions come
// from rotary embeddings (RoPE) in attention, not from a table; the MLP is a
// gated GELU (GeGLU: Wi gives input and gate halves, Wo(act(input)*gate));
// the layers alternate between global attention and a local sliding window
// of local_attention tokens (global every global_attn_every_n_layers layers,
// or as layer_types lists them), each with its own RoPE base; and its norms
// and linear layers usually have no bias. The classifier reads the final
// norm's output pooled by [CLS] or by the mean over the sequence, through a
// head of dense, activation and norm.
//
// Reference (reference.go) is the forward pass as plain float32 loops, one
// sequence at a time: the oracle the tests hold everything else to.
package modernbert
