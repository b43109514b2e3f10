package benchmarks

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/crossrank/crossrank/embed"
	"github.com/crossrank/crossrank/rerank"
)

// The embedding half of the harness (issue 22): texts/s of the embed
// package on the workload's documents, and hybrid search latency over a
// synthetic corpus. benchmarks/run_embed.py drives it through `crossrank
// bench embed` and `crossrank bench hybrid`, beside the Python peers.

// EmbedTexts are the short set's documents of a tokenizer family (their
// text, which tokenizes back to the set's ids) for an embedding run of n
// texts: the documents of the short set with that N, or, when n is the
// number of all short-set documents (the N = 20 set's, then the N = 100
// set's), all of them. docTokens are each document's own tokens, special
// tokens excluded.
func (w *Workload) EmbedTexts(family string, n int) (texts []string, docTokens []int, err error) {
	var all []string
	var allTok []int
	var have []string
	for _, s := range w.Sets {
		if s.Name != "short" || s.Family != family {
			continue
		}
		have = append(have, fmt.Sprint(s.N))
		for i, p := range s.Pairs {
			all = append(all, p.Text)
			allTok = append(allTok, s.DocTokens[i])
		}
	}
	if s, err := w.Find("short", family, n); err == nil {
		texts = make([]string, len(s.Pairs))
		for i, p := range s.Pairs {
			texts[i] = p.Text
		}
		return texts, slices.Clone(s.DocTokens), nil
	}
	if n == len(all) && n > 0 {
		return all, allTok, nil
	}
	return nil, nil, fmt.Errorf("workload: no %d short-set documents of family %s (have the sets of N = %s, and all %d together)",
		n, family, strings.Join(have, ", "), len(all))
}

// EmbedResult is one embedding contender's figures on one model and set of
// texts: the fields of embed_results.json (embed_peers.py writes the same
// object).
type EmbedResult struct {
	Contender    string  `json:"contender"`
	Precision    string  `json:"precision"`
	Model        string  `json:"model"`
	N            int     `json:"n"`
	TextsPerS    float64 `json:"texts_per_s"`
	LatencyP50Ms float64 `json:"latency_p50_ms"` // one request: all N texts in one call
	LatencyP95Ms float64 `json:"latency_p95_ms"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`
	LoadS        float64 `json:"load_s"`
	// MaxAbsDiff is filled in by the driver: the largest difference of one
	// component against crossrank fp32's vectors of the same texts.
	MaxAbsDiff  *float64 `json:"max_abs_diff"`
	Tokens      int      `json:"tokens"`    // tokens the model read in one request, special tokens included
	Truncated   int      `json:"truncated"` // texts cut to the model's maximum length
	Dim         int      `json:"dim"`
	Reps        int      `json:"reps"`
	Concurrency int      `json:"concurrency"` // concurrent requests at which texts_per_s was reached
	Threads     int      `json:"threads"`
	Batch       int      `json:"batch"`
	Notes       string   `json:"notes,omitempty"`
	// Vectors are the warm-up request's embeddings, in text order, for the
	// driver's comparison.
	Vectors [][]float32 `json:"vectors,omitempty"`
}

// RunEmbed loads the embedding model in dir on the fast CPU backend in
// opts.Precision and measures embed.Embedder.Embed on texts: a warm-up
// request (whose vectors are kept), requests one at a time, then
// opts.Concurrency requests at once (the embedder runs as many forward
// passes at once, Options.Workers); texts_per_s is the better of the two.
// Tokenization is timed: it is part of Embed, as of every peer's encode.
func RunEmbed(ctx context.Context, dir string, texts []string, opts Options) (*EmbedResult, error) {
	opts.defaults()
	if len(texts) == 0 {
		return nil, fmt.Errorf("bench: no texts to embed")
	}
	pb, err := cpuBackend(opts.Precision)
	if err != nil {
		return nil, err
	}
	opts.Progress("loading "+filepath.Base(dir), 0)
	t0 := time.Now()
	e, err := embed.New(ctx, dir, embed.Options{
		Backend: pb, BatchSize: opts.BatchSize, Workers: opts.Concurrency, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	res := &EmbedResult{
		Contender: Library, Precision: pb.Precision(), Model: filepath.Base(filepath.Clean(dir)), N: len(texts),
		LoadS: time.Since(t0).Seconds(), Dim: e.Info().Dim, Threads: runtime.GOMAXPROCS(0), Batch: opts.BatchSize,
		Notes: fmt.Sprintf("embed.Embedder.Embed, all %d texts in one call, packed batches of %d texts sorted longest first; tokenization included; %d workers",
			len(texts), opts.BatchSize, opts.Concurrency),
	}
	request := func() ([]embed.Embedding, error) { return e.Embed(ctx, texts, embed.EmbedOptions{}) }

	opts.Progress("warm-up", 0)
	embs, err := request()
	if err != nil {
		return nil, err
	}
	res.Vectors = make([][]float32, len(embs))
	for i, em := range embs {
		res.Vectors[i] = em.Vector
		res.Tokens += em.Tokens
		if em.Truncated {
			res.Truncated++
		}
	}

	lat, elapsed, err := sampleLatency(ctx, opts, func() error { _, err := request(); return err })
	if err != nil {
		return nil, err
	}
	res.Reps = len(lat)
	res.LatencyP50Ms = percentile(lat, 50)
	res.LatencyP95Ms = percentile(lat, 95)
	res.TextsPerS = float64(len(texts)*len(lat)) / elapsed.Seconds()
	res.Concurrency = 1
	if c := opts.Concurrency; c > 1 {
		done, d, err := concurrent(ctx, opts, c, func() error { _, err := request(); return err })
		if err != nil {
			return nil, err
		}
		if tp := float64(len(texts)*done) / d.Seconds(); tp > res.TextsPerS {
			res.TextsPerS, res.Concurrency = tp, c
		}
	}
	res.PeakRSSMB = PeakRSSMB()
	opts.Progress("done", 1)
	return res, nil
}

// sampleLatency runs f one call at a time: at least MinReps calls, then
// until Budget has passed, at most MaxReps.
func sampleLatency(ctx context.Context, opts Options, f func() error) ([]time.Duration, time.Duration, error) {
	var lat []time.Duration
	start := time.Now()
	for len(lat) < opts.MaxReps && (len(lat) < opts.MinReps || time.Since(start) < opts.Budget) {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		t0 := time.Now()
		if err := f(); err != nil {
			return nil, 0, err
		}
		lat = append(lat, time.Since(t0))
		opts.Progress("latency", max(float64(len(lat))/float64(opts.MinReps), float64(time.Since(start))/float64(opts.Budget)))
	}
	return lat, time.Since(start), nil
}

// concurrent keeps c calls of f in flight until Budget has passed and every
// client has finished at least one; it returns the calls done and the time.
func concurrent(ctx context.Context, opts Options, c int, f func() error) (int, time.Duration, error) {
	var mu sync.Mutex
	var done int
	var firstErr error
	var wg sync.WaitGroup
	t0 := time.Now()
	for range c {
		wg.Go(func() {
			for time.Since(t0) < opts.Budget || done < c {
				if err := f(); err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				mu.Lock()
				done++
				mu.Unlock()
				opts.Progress(fmt.Sprintf("throughput x%d", c), float64(time.Since(t0))/float64(opts.Budget))
			}
		})
	}
	wg.Wait()
	return done, time.Since(t0), firstErr
}

// HybridOptions configure RunHybrid. The zero value takes the defaults.
type HybridOptions struct {
	Options
	// Docs is the corpus's size (default 10,000).
	Docs int
	// Queries is how many distinct queries are cycled through (default 50).
	Queries int
	// RetrievalK is how many candidates retrieval gives the re-ranker
	// (default 20, crossrank search's --retrieval-k); RerankK how many it
	// keeps (default 5).
	RetrievalK, RerankK int
	// Seed makes the corpus and the queries (default HybridSeed).
	Seed uint64
	// CacheFile, if set, keeps the corpus's vectors between runs
	// (embed.DenseOptions.CacheFile); the result says whether they came
	// from it.
	CacheFile string
}

// HybridSeed is the default seed of the synthetic corpus.
const HybridSeed = 20261202

// HybridResult is RunHybrid's figures, one JSON object.
type HybridResult struct {
	Contender   string `json:"contender"` // "crossrank-hybrid"
	Precision   string `json:"precision"`
	EmbedModel  string `json:"embed_model"`
	RerankModel string `json:"rerank_model"`
	Docs        int    `json:"docs"`
	CorpusWords int    `json:"corpus_words"` // words (each one vocabulary token) in the whole corpus
	Queries     int    `json:"queries"`
	RetrievalK  int    `json:"retrieval_k"`
	RerankK     int    `json:"rerank_k"`
	Seed        uint64 `json:"seed"`
	Corpus      string `json:"corpus"` // what the corpus is, in words
	// The one-off indexing: BM25's index and the dense vectors (every
	// document embedded, or read from the cache: FromCache).
	BM25IndexS  float64 `json:"bm25_index_s"`
	DenseIndexS float64 `json:"dense_index_s"`
	FromCache   bool    `json:"from_cache"`
	// Per query, one at a time: each retriever alone, the fused retrieval
	// (BM25 + dense + RRF: the query embedded, both searched, fused),
	// re-ranking its RetrievalK candidates, and the two in turn.
	BM25P50Ms     float64 `json:"bm25_p50_ms"`
	BM25P95Ms     float64 `json:"bm25_p95_ms"`
	DenseP50Ms    float64 `json:"dense_p50_ms"`
	DenseP95Ms    float64 `json:"dense_p95_ms"`
	RetrieveP50Ms float64 `json:"retrieve_p50_ms"`
	RetrieveP95Ms float64 `json:"retrieve_p95_ms"`
	RerankP50Ms   float64 `json:"rerank_p50_ms"`
	RerankP95Ms   float64 `json:"rerank_p95_ms"`
	TotalP50Ms    float64 `json:"total_p50_ms"`
	TotalP95Ms    float64 `json:"total_p95_ms"`
	Reps          int     `json:"reps"` // samples of each phase
	PeakRSSMB     float64 `json:"peak_rss_mb"`
	Threads       int     `json:"threads"`
	QueriesPerS   float64 `json:"queries_per_s"` // 1000 / total_p50_ms
}

// HybridCorpus is the synthetic corpus RunHybrid searches: docs documents
// of whole vocabulary words (the words of the workload's short-set texts
// of family, each one token of that family's tokenizer), each as long as a
// workload document picked at random (32..256 words), its words drawn from
// a Zipf law over that vocabulary (s = 1.1, so that BM25's term statistics
// look like text's); and queries of 6 words, each taken from a random
// document, so that every query has documents that match it. Seeded: the
// same arguments give the same corpus.
func HybridCorpus(w *Workload, family string, docs, queries int, seed uint64) ([]rerank.Document, []string, int, error) {
	var vocab []string
	seen := map[string]bool{}
	var lengths []int
	for _, s := range w.Sets {
		if s.Name != "short" || s.Family != family {
			continue
		}
		for _, p := range s.Pairs {
			words := strings.Fields(p.Text)
			lengths = append(lengths, len(words))
			for _, wd := range words {
				if !seen[wd] {
					seen[wd] = true
					vocab = append(vocab, wd)
				}
			}
		}
	}
	if len(vocab) < 2 || docs <= 0 || queries <= 0 {
		return nil, nil, 0, fmt.Errorf("bench: hybrid corpus: %d words in family %s's short sets, %d documents, %d queries", len(vocab), family, docs, queries)
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	// rand.Zipf wants the old math/rand source; draw ranks by inversion of
	// the Zipf CDF instead.
	cdf := make([]float64, len(vocab))
	var sum float64
	for i := range vocab {
		sum += 1 / math.Pow(float64(i+1), 1.1)
		cdf[i] = sum
	}
	word := func() string {
		u := rng.Float64() * sum
		i, _ := slices.BinarySearch(cdf, u)
		return vocab[min(i, len(vocab)-1)]
	}
	out := make([]rerank.Document, docs)
	total := 0
	var b strings.Builder
	for i := range out {
		n := lengths[rng.IntN(len(lengths))]
		b.Reset()
		for j := range n {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(word())
		}
		total += n
		out[i] = rerank.Document{ID: fmt.Sprint(i), Text: b.String()}
	}
	qs := make([]string, queries)
	const queryWords = 6
	for i := range qs {
		words := strings.Fields(out[rng.IntN(len(out))].Text)
		pick := make([]string, queryWords)
		for j := range pick {
			pick[j] = words[rng.IntN(len(words))]
		}
		qs[i] = strings.Join(pick, " ")
	}
	return out, qs, total, nil
}

// RunHybrid measures hybrid search over the synthetic corpus
// (HybridCorpus of the bert family's words): the one-off indexing (BM25,
// then the corpus's vectors with embedDir's model), then per query, one at
// a time, retrieval (BM25 + dense, fused by reciprocal rank fusion, k = 60)
// and re-ranking of its RetrievalK candidates by rerankDir's cross-encoder,
// each timed on its own, and the two in turn.
func RunHybrid(ctx context.Context, w *Workload, embedDir, rerankDir string, o HybridOptions) (*HybridResult, error) {
	o.defaults()
	if o.Docs <= 0 {
		o.Docs = 10000
	}
	if o.Queries <= 0 {
		o.Queries = 50
	}
	if o.RetrievalK <= 0 {
		o.RetrievalK = 20
	}
	if o.RerankK <= 0 {
		o.RerankK = 5
	}
	if o.Seed == 0 {
		o.Seed = HybridSeed
	}
	docs, queries, words, err := HybridCorpus(w, "bert", o.Docs, o.Queries, o.Seed)
	if err != nil {
		return nil, err
	}
	pb, err := cpuBackend(o.Precision)
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	o.Progress("loading "+filepath.Base(embedDir), 0)
	e, err := embed.New(ctx, embedDir, embed.Options{Backend: pb, BatchSize: o.BatchSize, Logger: quiet})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	r, err := rerank.New(ctx, rerankDir, rerank.Options{Backend: pb, BatchSize: o.BatchSize, Logger: quiet})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	res := &HybridResult{
		Contender: "crossrank-hybrid", Precision: pb.Precision(),
		EmbedModel: filepath.Base(filepath.Clean(embedDir)), RerankModel: filepath.Base(filepath.Clean(rerankDir)),
		Docs: len(docs), CorpusWords: words, Queries: len(queries), RetrievalK: o.RetrievalK, RerankK: o.RerankK, Seed: o.Seed,
		Threads: runtime.GOMAXPROCS(0),
		Corpus: fmt.Sprintf("synthetic: %d documents of whole vocabulary words (the workload's short-set words, Zipf s=1.1), "+
			"lengths drawn from the short set's (32..256 words), seed %d; queries of 6 words from random documents", len(docs), o.Seed),
	}

	o.Progress("BM25 index", 0)
	t0 := time.Now()
	bm := rerank.NewBM25(docs, rerank.BM25Options{})
	res.BM25IndexS = time.Since(t0).Seconds()
	t0 = time.Now()
	dense, err := embed.NewDenseIndex(ctx, e, docs, embed.DenseOptions{
		CacheFile: o.CacheFile,
		Progress:  func(done, total int) { o.Progress("dense index", float64(done)/float64(total)) },
	})
	if err != nil {
		return nil, err
	}
	res.DenseIndexS = time.Since(t0).Seconds()
	res.FromCache = dense.FromCache
	fused := &rerank.Fusion{Retrievers: []rerank.Retriever{bm, dense}, Depth: o.RetrievalK}

	// Warm-up: every path once.
	cands := make([][]rerank.Document, len(queries))
	for i, q := range queries {
		if cands[i], err = fused.Retrieve(ctx, q, "", o.RetrievalK); err != nil {
			return nil, err
		}
	}
	if _, err := r.Rerank(ctx, queries[0], cands[0], rerank.RerankOptions{TopK: o.RerankK}); err != nil {
		return nil, err
	}
	phase := func(name string, f func(q int) error) ([]time.Duration, error) {
		i := 0
		po := o.Options
		po.Progress = func(_ string, frac float64) { o.Progress(name, frac) }
		lat, _, err := sampleLatency(ctx, po, func() error { err := f(i % len(queries)); i++; return err })
		return lat, err
	}
	lats := map[string][]time.Duration{}
	for _, p := range []struct {
		name string
		f    func(q int) error
	}{
		{"bm25", func(q int) error { _, err := bm.Retrieve(ctx, queries[q], "", o.RetrievalK); return err }},
		{"dense", func(q int) error { _, err := dense.Retrieve(ctx, queries[q], "", o.RetrievalK); return err }},
		{"retrieve", func(q int) error { _, err := fused.Retrieve(ctx, queries[q], "", o.RetrievalK); return err }},
		{"rerank", func(q int) error {
			_, err := r.Rerank(ctx, queries[q], cands[q], rerank.RerankOptions{TopK: o.RerankK})
			return err
		}},
		{"total", func(q int) error {
			c, err := fused.Retrieve(ctx, queries[q], "", o.RetrievalK)
			if err == nil {
				_, err = r.Rerank(ctx, queries[q], c, rerank.RerankOptions{TopK: o.RerankK})
			}
			return err
		}},
	} {
		l, err := phase(p.name, p.f)
		if err != nil {
			return nil, fmt.Errorf("bench: hybrid %s: %w", p.name, err)
		}
		lats[p.name] = l
	}
	res.BM25P50Ms, res.BM25P95Ms = percentile(lats["bm25"], 50), percentile(lats["bm25"], 95)
	res.DenseP50Ms, res.DenseP95Ms = percentile(lats["dense"], 50), percentile(lats["dense"], 95)
	res.RetrieveP50Ms, res.RetrieveP95Ms = percentile(lats["retrieve"], 50), percentile(lats["retrieve"], 95)
	res.RerankP50Ms, res.RerankP95Ms = percentile(lats["rerank"], 50), percentile(lats["rerank"], 95)
	res.TotalP50Ms, res.TotalP95Ms = percentile(lats["total"], 50), percentile(lats["total"], 95)
	res.Reps = len(lats["total"])
	if res.TotalP50Ms > 0 {
		res.QueriesPerS = 1000 / res.TotalP50Ms
	}
	res.PeakRSSMB = PeakRSSMB()
	o.Progress("done", 1)
	return res, nil
}
