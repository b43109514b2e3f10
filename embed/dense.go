package embed

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/crossrank/crossrank/rerank"
)

// DenseOptions configure a DenseIndex.
type DenseOptions struct {
	// CacheFile, if set, keeps the corpus's vectors between runs: read when
	// it was written by the same model for the same texts (its header
	// records both), else recomputed and rewritten.
	CacheFile string
	// Progress, if not nil, hears how many documents are embedded so far.
	Progress func(done, total int)
	// TenantKey is the metadata field that holds a document's tenant
	// (default "tenant"), as rerank.BM25Options.TenantKey.
	TenantKey string
	// ChunkSize is how many documents one Embed call carries (default 256).
	ChunkSize int
}

// DenseIndex is the dense half of hybrid search: every document's vector,
// searched exhaustively by cosine similarity (dot product for a model whose
// similarity_fn_name is "dot"). It is a rerank.Retriever, safe for
// concurrent use.
type DenseIndex struct {
	e       *Embedder
	docs    []rerank.Document
	vecs    []float32 // len(docs) x dim, unit length unless dot
	dim     int
	dot     bool
	tenants []string // per document, "" when none
	// FromCache reports that the vectors were read from DenseOptions.CacheFile.
	FromCache bool
}

// QueryPrompt is the prompt name sentence-transformers' encode_query uses
// for this model ("query" when the model has one), "" for none.
func (e *Embedder) QueryPrompt() string {
	if _, ok := e.st.Prompts["query"]; ok {
		return "query"
	}
	return ""
}

// DocumentPrompt is the prompt name encode_document uses: the first of
// "document", "passage", "corpus" the model has, "" for none.
func (e *Embedder) DocumentPrompt() string {
	for _, n := range []string{"document", "passage", "corpus"} {
		if _, ok := e.st.Prompts[n]; ok {
			return n
		}
	}
	return ""
}

// promptOpts is EmbedOptions for a prompt name; "" explicitly means no
// prompt, so a default_prompt_name does not apply to the other side.
func promptOpts(name string) EmbedOptions {
	if name == "" {
		empty := ""
		return EmbedOptions{Prompt: &empty}
	}
	return EmbedOptions{PromptName: name}
}

// NewDenseIndex embeds docs (with the model's document prompt) or reads
// their vectors from the cache.
func NewDenseIndex(ctx context.Context, e *Embedder, docs []rerank.Document, o DenseOptions) (*DenseIndex, error) {
	ix := &DenseIndex{e: e, docs: docs, dim: e.Info().Dim, dot: e.Info().Similarity == "dot"}
	key := o.TenantKey
	if key == "" {
		key = "tenant"
	}
	ix.tenants = make([]string, len(docs))
	for i, d := range docs {
		if v, ok := d.Metadata[key]; ok && v != nil {
			ix.tenants[i] = fmt.Sprint(v)
		}
	}
	hdr := ix.header()
	if o.CacheFile != "" {
		if vecs, err := readCache(o.CacheFile, hdr); err == nil {
			ix.vecs, ix.FromCache = vecs, true
			if o.Progress != nil {
				o.Progress(len(docs), len(docs))
			}
			return ix, nil
		}
	}
	chunk := o.ChunkSize
	if chunk <= 0 {
		chunk = 256
	}
	ix.vecs = make([]float32, 0, len(docs)*ix.dim)
	opts := promptOpts(e.DocumentPrompt())
	opts.Normalize = !ix.dot
	texts := make([]string, len(docs))
	for i, d := range docs {
		texts[i] = d.Text
	}
	for lo := 0; lo < len(texts); lo += chunk {
		hi := min(lo+chunk, len(texts))
		vs, err := e.EmbedStrings(ctx, texts[lo:hi], opts)
		if err != nil {
			var ie *InputError
			if errors.As(err, &ie) {
				return nil, fmt.Errorf("embed: document %d: %w", lo+ie.Index, ie.Err)
			}
			return nil, err
		}
		for _, v := range vs {
			ix.vecs = append(ix.vecs, v...)
		}
		if o.Progress != nil {
			o.Progress(hi, len(texts))
		}
	}
	if o.CacheFile != "" {
		if err := writeCache(o.CacheFile, hdr, ix.vecs); err != nil {
			return ix, fmt.Errorf("embed: caching the corpus's vectors: %w", err)
		}
	}
	return ix, nil
}

// cacheHeader identifies what a cache file holds.
type cacheHeader struct {
	Format string `json:"format"`
	Model  string `json:"model"` // digest of the model identity and the options that change vectors
	Corpus string `json:"corpus"`
	Count  int    `json:"count"`
	Dim    int    `json:"dim"`
}

const cacheFormat = "crossrank-embeddings-1"

func (ix *DenseIndex) header() cacheHeader {
	info := ix.e.Info()
	m := sha256.New()
	for _, s := range []string{info.Model, info.Dir, info.Architecture, info.Precision, fmt.Sprint(info.MaxLength, info.Pooling, info.Dim), ix.e.DocumentPrompt(), fmt.Sprint(ix.dot)} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	if b, err := os.ReadFile(filepath.Join(info.Dir, "config.json")); err == nil {
		m.Write(b)
	}
	c := sha256.New()
	for _, d := range ix.docs {
		binary.Write(c, binary.LittleEndian, uint64(len(d.Text)))
		c.Write([]byte(d.Text))
	}
	return cacheHeader{Format: cacheFormat, Model: hex.EncodeToString(m.Sum(nil)), Corpus: hex.EncodeToString(c.Sum(nil)), Count: len(ix.docs), Dim: ix.dim}
}

// CacheKey is a short digest of the model identity, for cache file names.
func (ix *DenseIndex) CacheKey() string { return ix.header().Model[:16] }

// CacheKey is the digest NewDenseIndex would give the embedder's cache
// file, to name it before the index exists.
func CacheKey(e *Embedder) string {
	return (&DenseIndex{e: e, dim: e.Info().Dim, dot: e.Info().Similarity == "dot"}).CacheKey()
}

func readCache(path string, want cacheHeader) ([]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var got cacheHeader
	if err := json.Unmarshal(line, &got); err != nil || got != want {
		return nil, errors.New("embed: the cache was made by another model or for other texts")
	}
	vecs := make([]float32, want.Count*want.Dim)
	if err := binary.Read(r, binary.LittleEndian, vecs); err != nil {
		return nil, err
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return nil, errors.New("embed: the cache file is longer than its header says")
	}
	return vecs, nil
}

// writeCache writes atomically (a temporary file renamed), so a reader
// never sees half a cache.
func writeCache(path string, h cacheHeader, vecs []float32) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".embeddings-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	tmp.Chmod(0o644) // CreateTemp makes 0600; the cache is as readable as the corpus beside it
	w := bufio.NewWriter(tmp)
	hb, _ := json.Marshal(h)
	w.Write(append(hb, '\n'))
	binary.Write(w, binary.LittleEndian, vecs)
	if err := errors.Join(w.Flush(), tmp.Close()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Len is the number of documents indexed.
func (ix *DenseIndex) Len() int { return len(ix.docs) }

// DenseHit is one Search result.
type DenseHit struct {
	Index int // the document's position in the corpus
	Score float64
}

// Search embeds query (with the model's query prompt) and returns the k
// most similar documents within tenant ("" for all), ties in corpus order;
// k <= 0 means all.
func (ix *DenseIndex) Search(ctx context.Context, query, tenant string, k int) ([]DenseHit, error) {
	opts := promptOpts(ix.e.QueryPrompt())
	opts.Normalize = !ix.dot
	qv, err := ix.e.EmbedStrings(ctx, []string{query}, opts)
	if err != nil {
		return nil, err
	}
	q := qv[0]
	hits := make([]DenseHit, 0, len(ix.docs))
	for i := range ix.docs {
		if tenant != "" && ix.tenants[i] != tenant {
			continue
		}
		v := ix.vecs[i*ix.dim : (i+1)*ix.dim]
		s := 0.0
		for j, x := range q {
			s += float64(x) * float64(v[j])
		}
		if math.IsNaN(s) {
			continue
		}
		hits = append(hits, DenseHit{Index: i, Score: s})
	}
	slices.SortStableFunc(hits, func(a, b DenseHit) int { return cmp.Compare(b.Score, a.Score) })
	if k > 0 && len(hits) > k {
		hits = hits[:k]
	}
	return hits, nil
}

// Retrieve is Search returning the documents.
func (ix *DenseIndex) Retrieve(ctx context.Context, query, tenant string, k int) ([]rerank.Document, error) {
	hits, err := ix.Search(ctx, query, tenant, k)
	if err != nil {
		return nil, err
	}
	out := make([]rerank.Document, len(hits))
	for i, h := range hits {
		out[i] = ix.docs[h.Index]
	}
	return out, nil
}
