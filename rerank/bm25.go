package rerank

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// BM25Options tune the BM25 retriever; the zero value is Lucene's defaults.
type BM25Options struct {
	// K1 is the term-frequency saturation (default 1.2).
	K1 float64
	// B is the document-length normalisation (default 0.75; a negative
	// value means 0, no normalisation).
	B float64
	// TenantKey is the metadata field that holds a document's tenant
	// (default "tenant"). Each tenant is a separate index with its own
	// statistics; Retrieve with tenant "" searches every document.
	TenantKey string
}

// BM25 is an in-memory Okapi BM25 index: the first-stage retriever that
// lets the pipeline run with no other service. It is safe for concurrent
// use.
//
// Text is split into lowercase runs of letters and digits; characters of
// scripts written without spaces (Han, Hiragana, Katakana, Thai...) are a
// term each. Scores use Lucene's BM25: idf = ln(1 + (N - df + 0.5)/(df +
// 0.5)), tf part = tf·(k1+1) / (tf + k1·(1 - b + b·len/avglen)), summed over
// the query's terms.
type BM25 struct {
	docs    []Document
	k1, b   float64
	all     *bm25Index
	tenants map[string]*bm25Index
}

// bm25Index is the inverted index of a set of documents.
type bm25Index struct {
	docs     []int // indices into BM25.docs, in corpus order
	lens     []int // terms per document, by position in docs
	avgLen   float64
	postings map[string][]posting
}

type posting struct {
	doc int // position in bm25Index.docs
	tf  int
}

// NewBM25 indexes docs.
func NewBM25(docs []Document, opts BM25Options) *BM25 {
	bm := &BM25{docs: docs, k1: opts.K1, b: opts.B, tenants: map[string]*bm25Index{}}
	if bm.k1 == 0 {
		bm.k1 = 1.2
	}
	switch {
	case bm.b == 0:
		bm.b = 0.75
	case bm.b < 0:
		bm.b = 0
	}
	key := opts.TenantKey
	if key == "" {
		key = "tenant"
	}
	terms := make([][]string, len(docs))
	byTenant := map[string][]int{}
	var tenantOrder []string
	all := make([]int, len(docs))
	for i, d := range docs {
		terms[i] = bm25Terms(d.Text)
		all[i] = i
		if v, ok := d.Metadata[key]; ok && v != nil {
			t := fmt.Sprint(v)
			if _, seen := byTenant[t]; !seen {
				tenantOrder = append(tenantOrder, t)
			}
			byTenant[t] = append(byTenant[t], i)
		}
	}
	bm.all = newBM25Index(all, terms)
	for _, t := range tenantOrder {
		bm.tenants[t] = newBM25Index(byTenant[t], terms)
	}
	return bm
}

func newBM25Index(docs []int, terms [][]string) *bm25Index {
	ix := &bm25Index{docs: docs, lens: make([]int, len(docs)), postings: map[string][]posting{}}
	total := 0
	tf := map[string]int{}
	for p, d := range docs {
		clear(tf)
		for _, t := range terms[d] {
			tf[t]++
		}
		for t, n := range tf {
			ix.postings[t] = append(ix.postings[t], posting{p, n})
		}
		ix.lens[p] = len(terms[d])
		total += len(terms[d])
	}
	if len(docs) > 0 {
		ix.avgLen = float64(total) / float64(len(docs))
	}
	return ix
}

// Len is the number of documents indexed.
func (b *BM25) Len() int { return len(b.docs) }

// Retrieve returns the k best documents for query within tenant ("" for
// all), best first, ties in corpus order; k <= 0 means every match.
// Documents sharing no term with the query are not returned, and an
// unknown tenant has none.
func (b *BM25) Retrieve(ctx context.Context, query, tenant string, k int) ([]Document, error) {
	hits := b.Search(query, tenant, k)
	out := make([]Document, len(hits))
	for i, h := range hits {
		out[i] = b.docs[h.Index]
	}
	return out, ctx.Err()
}

// BM25Hit is one Search result.
type BM25Hit struct {
	Index int // the document's position in the corpus
	Score float64
}

// Search is Retrieve with scores and corpus positions.
func (b *BM25) Search(query, tenant string, k int) []BM25Hit {
	ix := b.all
	if tenant != "" {
		ix = b.tenants[tenant]
		if ix == nil {
			return nil
		}
	}
	n := float64(len(ix.docs))
	scores := map[int]float64{}
	for _, t := range bm25Terms(query) {
		ps := ix.postings[t]
		if len(ps) == 0 {
			continue
		}
		df := float64(len(ps))
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		for _, p := range ps {
			tf := float64(p.tf)
			norm := b.k1 * (1 - b.b + b.b*float64(ix.lens[p.doc])/ix.avgLen)
			scores[p.doc] += idf * tf * (b.k1 + 1) / (tf + norm)
		}
	}
	hits := make([]BM25Hit, 0, len(scores))
	for p, s := range scores {
		hits = append(hits, BM25Hit{Index: ix.docs[p], Score: s})
	}
	slices.SortFunc(hits, func(x, y BM25Hit) int {
		if c := cmp.Compare(y.Score, x.Score); c != 0 {
			return c
		}
		return cmp.Compare(x.Index, y.Index)
	})
	if k > 0 && len(hits) > k {
		hits = hits[:k]
	}
	return hits
}

// bm25Terms splits text into index terms.
func bm25Terms(text string) []string {
	var terms []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			terms = append(terms, cur.String())
			cur.Reset()
		}
	}
	for _, r := range text {
		switch {
		case unspaced(r):
			flush()
			terms = append(terms, string(unicode.ToLower(r)))
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			cur.WriteRune(unicode.ToLower(r))
		default:
			flush()
		}
	}
	flush()
	return terms
}

// unspaced reports whether r belongs to a script written without spaces
// between words, where each character is taken as a term.
func unspaced(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar)
}

// LoadBM25JSONL indexes a JSONL corpus: one object per line with "text" (or
// "content", the seed's name), an optional "id" (a string or a number;
// default: the document's 0-based position) and any other fields, which
// become the document's metadata (numbers as json.Number, so they write
// back unchanged). Blank lines are skipped; an error names its line.
func LoadBM25JSONL(r io.Reader, opts BM25Options) (*BM25, error) {
	docs, err := ReadDocumentsJSONL(r)
	if err != nil {
		return nil, err
	}
	return NewBM25(docs, opts), nil
}

// ReadDocumentsJSONL reads documents in the JSONL form LoadBM25JSONL
// describes.
func ReadDocumentsJSONL(r io.Reader) ([]Document, error) {
	br := bufio.NewReader(r)
	var docs []Document
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			d, perr := parseDocumentJSON(b, len(docs))
			if perr != nil {
				return nil, fmt.Errorf("rerank: line %d: %w", line, perr)
			}
			docs = append(docs, d)
		}
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("rerank: line %d: %w", line, err)
		}
	}
}

func parseDocumentJSON(b []byte, index int) (Document, error) {
	if !utf8.Valid(b) {
		return Document{}, ErrInvalidUTF8
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return Document{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return Document{}, errors.New("more than one JSON value")
	}
	if m == nil {
		return Document{}, errors.New("not a JSON object: null")
	}
	d := Document{ID: strconv.Itoa(index)}
	textKey := "text"
	if _, ok := m["text"]; !ok {
		textKey = "content"
	}
	t, ok := m[textKey]
	if !ok {
		return Document{}, errors.New(`no "text" (or "content") field`)
	}
	if d.Text, ok = t.(string); !ok {
		return Document{}, fmt.Errorf("%q is %T, want a string", textKey, t)
	}
	delete(m, textKey)
	if id, ok := m["id"]; ok {
		switch v := id.(type) {
		case string:
			d.ID = v
		case json.Number:
			d.ID = v.String()
		default:
			return Document{}, fmt.Errorf(`"id" is %T, want a string or a number`, id)
		}
		delete(m, "id")
	}
	if len(m) > 0 {
		d.Metadata = m
	}
	return d, nil
}

var _ Retriever = (*BM25)(nil)
