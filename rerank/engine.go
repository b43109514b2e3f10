package rerank

import (
	"context"

	"github.com/crossrank/crossrank/internal/batch"
)

// The two halves of a cross-encoder, as the Reranker sees them. The real
// ones wrap package tokenizer and package bert (engine_model.go); the
// tests also use small fakes, so batching, ordering and windows are tested
// apart from the numbers.

// seq is one tokenized pair, special tokens included, ready for the model.
type seq struct {
	ids, typeIDs []int32
}

// textEncoder is the tokenizer, reduced to what re-ranking needs: token ids
// of a text without special tokens, and the pair template around two lists
// of ids. Truncation, windows and query reuse are done on the id lists
// (truncate.go), so a query is tokenized once per call however many
// documents it is paired with.
type textEncoder interface {
	// tokenize returns the ids of text, without special tokens.
	tokenize(text string) ([]int32, error)
	// pair returns [CLS] q [SEP] d [SEP] (or the model's equivalent) with
	// its token type ids.
	pair(q, d []int32) seq
	// specials is how many special tokens pair adds.
	specials() int
	// maxLength is the tokenizer's model_max_length (0 if it has none).
	maxLength() int
}

// model runs forward passes over packed batches.
type model interface {
	// forward returns one row of logits per sequence, in order.
	forward(ctx context.Context, batch []seq) ([][]float32, error)
	// maxTokens is the longest sequence the position embeddings allow.
	maxTokens() int
	numLabels() int
	close() error
}

// IsOutOfMemory reports whether err says the device ran out of memory, so
// that a smaller batch may fit: cuda.ErrOutOfMemory (errors.Is), or any
// error in the chain with a method OutOfMemory() bool that returns true
// (for backends outside this module).
func IsOutOfMemory(err error) bool { return batch.IsOutOfMemory(err) }
