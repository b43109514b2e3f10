package rerank

import (
	"context"
	"io"
)

// BM25Options tune the BM25 retriever; the zero value is Lucene's defaults.
type BM25Options struct {
	K1 float64 // term-frequency saturation (default 1.2)
	B  float64 // length normalisation (default 0.75); use NoLengthNorm for 0
	// TenantKey is the metadata field that holds a document's tenant
	// (default "tenant"). Retrieve with tenant "" searches every document.
	TenantKey string
}

// BM25 is an in-memory Okapi BM25 index: the first-stage retriever that
// lets the pipeline run with no other service. It is safe for concurrent
// use once built.
type BM25 struct {
	docs []Document
	opts BM25Options
}

// NewBM25 indexes docs.
func NewBM25(docs []Document, opts BM25Options) *BM25 {
	return &BM25{docs: docs, opts: opts}
}

// LoadBM25JSONL indexes a JSONL corpus: one object per line with "text" (or
// "content"), optional "id" (default: the line number) and any other fields,
// which become the document's metadata.
func LoadBM25JSONL(r io.Reader, opts BM25Options) (*BM25, error) {
	return nil, errNotImplemented
}

// Retrieve returns the k best documents for query within tenant, best
// first, ties in corpus order; documents sharing no term with the query are
// not returned.
func (b *BM25) Retrieve(ctx context.Context, query, tenant string, k int) ([]Document, error) {
	return nil, errNotImplemented
}

var _ Retriever = (*BM25)(nil)
