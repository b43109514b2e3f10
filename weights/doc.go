// Package weights reads what a Hugging Face cross-encoder checkpoint is made
// of: safetensors files (memory-mapped, tensors handed out without copying),
// sharded checkpoints (model.safetensors.index.json), config.json, and the
// Hugging Face cache layout that huggingface_hub shares with Python users,
// including downloads from the Hub into it.
//
// It knows nothing about tokenizers or the forward pass: package bert asks it
// for tensors by their canonical Hugging Face names and converts nothing
// itself.
package weights
