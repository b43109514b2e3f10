// Package qwen3 is the forward pass of the Qwen3 re-rankers: Qwen3ForCausalLM
// as Qwen/Qwen3-Reranker-0.6B, -4B and -8B ship it, scored from the lm_head
// rows of "yes" and "no" at the last token, and the converted
// Qwen3ForSequenceClassification whose one score row is lm_head[yes] -
// lm_head[no]. It reads config.json in the Hub's form (rope_theta) and
// transformers 5's (rope_parameters) and safetensors by the checkpoint's
// names. Qwen2ForCausalLM (mixedbread-ai/mxbai-rerank-base-v2, -large-v2)
// is the same decoder with biased q/k/v projections and no q_norm/k_norm;
// its score reads the rows of "1" and "0".
//
// modeling.go holds one Go type per Hugging Face module (Qwen3RMSNorm,
// Qwen3RotaryEmbedding, Qwen3Attention with q_norm/k_norm and grouped
// key-value heads, Qwen3MLP, Qwen3DecoderLayer, Qwen3Model) over the
// backend seam of package ml; batches are packed (offsets), each sequence
// attends causally to its own tokens at positions 0..n-1, and its last
// token is read. reference.go is the same computation in plain float32
// loops, one sequence at a time: the oracle the model is tested against.
//
// The package registers its architectures with ml.Register (register.go),
// so ml.LoadWith loads them like any other; a CausalLM needs the caller's
// Request.TokenID for the ids of its answer tokens (Arch.ScoreTokens).
// The prompt, the tokenizer and the score's activation are package rerank's:
// this package turns token ids into one logit per sequence (yes - no).
package qwen3
