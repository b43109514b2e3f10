package rerank

import (
	"context"
	"sync"
)

// Reranker scores (query, document) pairs with one cross-encoder. Create it
// once per model and share it: it is safe for concurrent use by any number
// of goroutines, and concurrent calls are batched together.
type Reranker struct {
	info Info
	opts Options
}

// New loads a cross-encoder. model is a local folder holding a Hugging Face
// checkpoint (config.json, model.safetensors, tokenizer.json) or a Hub
// reference org/name[@revision] resolved through the Hugging Face cache.
func New(ctx context.Context, model string, opts Options) (*Reranker, error) {
	return nil, errNotImplemented
}

var shared struct {
	sync.Mutex
	m map[string]*Reranker
}

// Shared returns the process-wide Reranker for model, creating it with opts
// on first use (the seed's get_reranker singleton). Later calls return the
// same Reranker whatever their opts. Closing a shared Reranker removes it.
func Shared(ctx context.Context, model string, opts Options) (*Reranker, error) {
	return nil, errNotImplemented
}

// Rerank scores every document against query and returns them best first,
// ties in input order, after MinScore and TopK. No documents give an empty
// result; an empty query is ErrEmptyQuery; a document that is not valid
// UTF-8 fails the call with a *DocumentError naming its index.
func (r *Reranker) Rerank(ctx context.Context, query string, docs []Document, o RerankOptions) ([]Result, error) {
	return nil, errNotImplemented
}

// RerankStrings is Rerank for plain texts; each result's Document.ID is
// empty and Document.Text is the input string.
func (r *Reranker) RerankStrings(ctx context.Context, query string, docs []string, o RerankOptions) ([]Result, error) {
	d := make([]Document, len(docs))
	for i, t := range docs {
		d[i].Text = t
	}
	return r.Rerank(ctx, query, d, o)
}

// Score scores pairs in input order, without sorting (CrossEncoder.predict).
func (r *Reranker) Score(ctx context.Context, pairs []Pair) ([]Scored, error) {
	return nil, errNotImplemented
}

// Info describes the loaded model and where it runs.
func (r *Reranker) Info() Info { return r.info }

// Close releases the model. Calls in progress finish; later calls fail
// with ErrClosed.
func (r *Reranker) Close() error { return nil }
