package rerank

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/crossrank/crossrank/internal/batch"
)

// Reranker scores (query, document) pairs with one cross-encoder. Create it
// once per model and share it: it is safe for concurrent use by any number
// of goroutines, and concurrent calls are batched together.
type Reranker struct {
	info   Info
	opts   Options // with defaults filled in
	enc    textEncoder
	mdl    model
	b      *batcher
	act    Activation // never Default
	label  int
	maxLen int
	log    *slog.Logger

	closeOnce sync.Once
	closeErr  error
	onClose   func()

	lastTruncWarn atomic.Int64 // unix nanoseconds
}

// New loads a cross-encoder. model is a local folder holding a Hugging Face
// checkpoint (config.json, model.safetensors, tokenizer.json) or a Hub
// reference org/name[@revision], resolved through the Hugging Face cache.
func New(ctx context.Context, model string, opts Options) (*Reranker, error) {
	if model == "" {
		return nil, errors.New("rerank: no model given")
	}
	dir := model
	if st, err := os.Stat(model); err != nil || !st.IsDir() {
		resolve := opts.Resolve
		if resolve == nil {
			resolve = defaultResolve
		}
		d, rerr := resolve(ctx, model)
		if rerr != nil {
			return nil, fmt.Errorf("rerank: model %q: %w", model, rerr)
		}
		dir = d
	}
	eng, err := loadEngine(ctx, dir, opts)
	if err != nil {
		return nil, fmt.Errorf("rerank: model %q: %w", model, err)
	}
	eng.info.Model = model
	eng.info.Dir = dir
	r, err := newReranker(eng, opts)
	if err != nil {
		eng.mdl.close()
		return nil, fmt.Errorf("rerank: model %q: %w", model, err)
	}
	noteLoad(r, model)
	return r, nil
}

// engine is what loadEngine gives newReranker.
type engine struct {
	enc  textEncoder
	mdl  model
	info Info       // Device, Precision, Labels, Architecture
	act  Activation // the model's default (sentence-transformers' rule)
	// defaultMaxLength, if > 0, caps the pair limit when Options.MaxLength
	// is 0 (a decoder re-ranker's card limit, below its positions).
	defaultMaxLength int
}

// newReranker checks opts against the engine and starts the batcher.
func newReranker(eng engine, opts Options) (*Reranker, error) {
	r := &Reranker{enc: eng.enc, mdl: eng.mdl, info: eng.info, log: opts.Logger}
	if r.log == nil {
		r.log = slog.Default()
	}

	limit := eng.mdl.maxTokens()
	if tl := eng.enc.maxLength(); tl > 0 && (limit <= 0 || tl < limit) {
		limit = tl
	}
	switch {
	case opts.MaxLength < 0:
		return nil, fmt.Errorf("MaxLength %d is negative", opts.MaxLength)
	case opts.MaxLength == 0:
		if limit <= 0 {
			return nil, errors.New("the model states no maximum length; set Options.MaxLength")
		}
		r.maxLen = limit
		if d := eng.defaultMaxLength; d > 0 && d < limit {
			r.maxLen = d
		}
	default:
		// A longer limit than the tokenizer's is allowed (as max_length is in
		// Hugging Face), but not past the position embeddings.
		if m := eng.mdl.maxTokens(); m > 0 && opts.MaxLength > m {
			return nil, fmt.Errorf("MaxLength %d is more than the model's %d positions", opts.MaxLength, m)
		}
		r.maxLen = opts.MaxLength
	}
	if r.maxLen <= eng.enc.specials() {
		return nil, fmt.Errorf("MaxLength %d leaves no room beside the %d special tokens", r.maxLen, eng.enc.specials())
	}
	if _, ok := eng.enc.(instructed); opts.Instruction != "" && !ok {
		return nil, ErrNoInstruction
	}
	if !utf8.ValidString(opts.Instruction) {
		return nil, fmt.Errorf("Instruction: %w", ErrInvalidUTF8)
	}
	if opts.QueryBudget < 0 {
		return nil, fmt.Errorf("QueryBudget %d is negative", opts.QueryBudget)
	}
	if opts.Truncation < LongestFirst || opts.Truncation > NoTruncation {
		return nil, fmt.Errorf("unknown Truncation %d", opts.Truncation)
	}
	if w := opts.LongDocs; w != nil {
		if w.Size < 0 || w.MaxWindows < 0 {
			return nil, fmt.Errorf("LongDocs %+v: negative size", *w)
		}
		if w.Size > 0 && w.Stride >= w.Size {
			return nil, fmt.Errorf("LongDocs: Stride %d must be less than Size %d", w.Stride, w.Size)
		}
	}

	n := eng.mdl.numLabels()
	switch {
	case opts.ScoreLabel != nil:
		if *opts.ScoreLabel < 0 || *opts.ScoreLabel >= n {
			return nil, fmt.Errorf("ScoreLabel %d: the model has %d labels", *opts.ScoreLabel, n)
		}
		r.label = *opts.ScoreLabel
	case n == 1:
	case n == 2:
		r.label = 1
	default:
		return nil, fmt.Errorf("the model has %d labels; set Options.ScoreLabel to the one that means relevant", n)
	}
	switch opts.Activation {
	case Default:
		r.act = eng.act
		if r.act == Default {
			r.act = defaultActivation(n)
		}
	case None, Sigmoid, Softmax:
		r.act = opts.Activation
	default:
		return nil, fmt.Errorf("unknown Activation %d", opts.Activation)
	}

	if opts.BatchSize < 0 || opts.MaxBatchTokens < 0 || opts.Workers < 0 || opts.MaxDocuments < 0 || opts.BatchWait < 0 {
		return nil, errors.New("BatchSize, MaxBatchTokens, Workers, MaxDocuments and BatchWait must not be negative")
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 32
	}
	if opts.MaxBatchTokens == 0 {
		opts.MaxBatchTokens = opts.BatchSize * r.maxLen
	}
	if opts.Workers == 0 {
		opts.Workers = 1
	}
	opts.Logger = r.log
	r.opts = opts

	r.info.MaxLength = r.maxLen
	r.info.NumLabels = n
	r.info.Activation = r.act
	r.b = newBatcher(eng.mdl, opts.BatchSize, opts.MaxBatchTokens, opts.Workers, opts.BatchWait, opts.OnBatch, r.log)
	return r, nil
}

// defaultActivation is sentence-transformers' CrossEncoder rule when the
// model's config names none: sigmoid for one label, identity otherwise.
func defaultActivation(numLabels int) Activation {
	if numLabels == 1 {
		return Sigmoid
	}
	return None
}

// Rerank scores every document against query and returns them best first,
// ties in input order, after MinScore and TopK. No documents give an empty
// result; an empty query is ErrEmptyQuery; a document that is not valid
// UTF-8 fails the call with a *DocumentError naming its index.
func (r *Reranker) Rerank(ctx context.Context, query string, docs []Document, o RerankOptions) ([]Result, error) {
	if err := r.checkCall(query, len(docs), o); err != nil {
		return nil, err
	}
	texts := make([]string, len(docs))
	for i := range docs {
		texts[i] = docs[i].Text
	}
	scored, err := r.scoreDocs(ctx, query, texts, o)
	if err != nil {
		return nil, err
	}
	res := make([]Result, len(docs))
	for i, s := range scored {
		res[i] = Result{
			Document: docs[i], Index: i, Logits: s.Logits, Logit: s.Logit, Score: s.Score,
			Tokens: s.Tokens, Truncated: s.Truncated, QueryTruncated: s.QueryTruncated,
			Window: s.Window, Windows: s.Windows,
		}
	}
	return rank(res, o), nil
}

// RerankStrings is Rerank for plain texts; each result's Document.Text is
// the input string and its ID is empty.
func (r *Reranker) RerankStrings(ctx context.Context, query string, docs []string, o RerankOptions) ([]Result, error) {
	d := make([]Document, len(docs))
	for i, t := range docs {
		d[i].Text = t
	}
	return r.Rerank(ctx, query, d, o)
}

// Score scores pairs in input order, without sorting or filtering, as
// CrossEncoder.predict does. The Reranker's truncation and long-document
// options apply.
func (r *Reranker) Score(ctx context.Context, pairs []Pair) ([]Scored, error) {
	if r.opts.MaxDocuments > 0 && len(pairs) > r.opts.MaxDocuments {
		return nil, fmt.Errorf("%w: %d pairs, the limit is %d", ErrTooManyDocuments, len(pairs), r.opts.MaxDocuments)
	}
	// Pairs sharing a query are scored together, so each query is
	// tokenized once.
	byQuery := map[string][]int{}
	var queries []string
	for i, p := range pairs {
		if err := checkQuery(p.Query); err != nil {
			return nil, &DocumentError{Index: i, Err: err}
		}
		if _, ok := byQuery[p.Query]; !ok {
			queries = append(queries, p.Query)
		}
		byQuery[p.Query] = append(byQuery[p.Query], i)
	}
	out := make([]Scored, len(pairs))
	if len(queries) == 1 {
		texts := make([]string, len(pairs))
		for i, p := range pairs {
			texts[i] = p.Document
		}
		s, err := r.scoreDocs(ctx, queries[0], texts, RerankOptions{})
		return s, err
	}
	// Several queries: one call each, concurrently, so they still share
	// batches.
	var wg sync.WaitGroup
	errs := make([]error, len(queries))
	for qi, q := range queries {
		wg.Go(func() {
			idx := byQuery[q]
			texts := make([]string, len(idx))
			for k, i := range idx {
				texts[k] = pairs[i].Document
			}
			s, err := r.scoreDocs(ctx, q, texts, RerankOptions{})
			if err != nil {
				var de *DocumentError
				if errors.As(err, &de) {
					err = &DocumentError{Index: idx[de.Index], Err: de.Err}
				}
				errs[qi] = err
				return
			}
			for k, i := range idx {
				out[i] = s[k]
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Info describes the loaded model and where it runs.
func (r *Reranker) Info() Info { return r.info }

// Close releases the model. Queued calls fail with ErrClosed, batches in
// flight finish first, later calls fail with ErrClosed.
func (r *Reranker) Close() error {
	r.closeOnce.Do(func() {
		r.b.Close()
		r.closeErr = r.mdl.close()
		if r.onClose != nil {
			r.onClose()
		}
	})
	return r.closeErr
}

func checkQuery(q string) error {
	if strings.TrimSpace(q) == "" {
		return ErrEmptyQuery
	}
	if !utf8.ValidString(q) {
		return fmt.Errorf("%w in the query", ErrInvalidUTF8)
	}
	return nil
}

func (r *Reranker) checkCall(query string, n int, o RerankOptions) error {
	if err := checkQuery(query); err != nil {
		return err
	}
	if r.opts.MaxDocuments > 0 && n > r.opts.MaxDocuments {
		return fmt.Errorf("%w: %d documents, the limit is %d", ErrTooManyDocuments, n, r.opts.MaxDocuments)
	}
	if o.TopK < 0 || o.MaxLength < 0 || o.MaxDocTokens < 0 {
		return errors.New("rerank: TopK, MaxLength and MaxDocTokens must not be negative")
	}
	if o.MinScore != nil && math.IsNaN(*o.MinScore) {
		return errors.New("rerank: MinScore is NaN")
	}
	if o.MinScoreScale != ScaleScore && o.MinScoreScale != ScaleLogit {
		return fmt.Errorf("rerank: unknown MinScoreScale %d", o.MinScoreScale)
	}
	if o.Truncation != nil && (*o.Truncation < LongestFirst || *o.Truncation > NoTruncation) {
		return fmt.Errorf("rerank: unknown Truncation %d", *o.Truncation)
	}
	if o.Instruction != "" {
		if _, ok := r.enc.(instructed); !ok {
			return ErrNoInstruction
		}
		if !utf8.ValidString(o.Instruction) {
			return fmt.Errorf("rerank: instruction: %w", ErrInvalidUTF8)
		}
	}
	return nil
}

// plan is how one document became sequences.
type plan struct {
	first, n       int // its sequences in the call's list
	tokens         int
	truncated      int
	queryTruncated int
	windows        int
}

// scoreDocs tokenizes, batches and scores texts against query, in order.
func (r *Reranker) scoreDocs(ctx context.Context, query string, texts []string, o RerankOptions) ([]Scored, error) {
	if len(texts) == 0 {
		return []Scored{}, nil
	}
	for i, t := range texts {
		if !utf8.ValidString(t) {
			return nil, &DocumentError{Index: i, Err: ErrInvalidUTF8}
		}
	}
	maxLen := r.maxLen
	if o.MaxLength > 0 && o.MaxLength < maxLen {
		maxLen = o.MaxLength
	}
	budget := maxLen - r.enc.specials()
	if budget <= 0 {
		return nil, fmt.Errorf("rerank: MaxLength %d leaves no room beside the %d special tokens", maxLen, r.enc.specials())
	}
	strategy := r.opts.Truncation
	if o.Truncation != nil {
		strategy = *o.Truncation
	}

	if _, ok := r.enc.(instructed); ok && strategy == LongestFirst {
		// The prompt's fixed parts and the query stay whole; the document
		// is cut, as the model card cuts the formatted text from its end.
		strategy = OnlyDocument
	}
	q, err := r.queryIDs(query, o.Instruction)
	if err != nil {
		return nil, fmt.Errorf("rerank: query: %w", err)
	}
	queryCut := 0
	if qb := r.opts.QueryBudget; qb > 0 {
		// The seed's query budget: the query keeps at most qb tokens and
		// the document gets the rest.
		if len(q) > qb {
			queryCut = len(q) - qb
			q = keep(q, qb, o.TruncateLeft)
		}
		if strategy == LongestFirst {
			strategy = OnlyDocument
		}
	}

	plans := make([]plan, len(texts))
	perDoc := make([][]seq, len(texts))
	err = batch.Parallel(ctx, len(texts), func(i int) error {
		p, s, err := r.planDoc(q, texts[i], budget, strategy, o.MaxDocTokens, o.TruncateLeft)
		if err != nil {
			return &DocumentError{Index: i, Err: err}
		}
		p.queryTruncated += queryCut
		plans[i], perDoc[i] = p, s
		return nil
	})
	if err != nil {
		return nil, err
	}
	var seqs []seq
	truncated := 0
	for i := range plans {
		plans[i].first, plans[i].n = len(seqs), len(perDoc[i])
		seqs = append(seqs, perDoc[i]...)
		if plans[i].truncated > 0 {
			truncated++
		}
	}
	if truncated > 0 {
		r.warnTruncated(truncated, len(texts), maxLen)
	}

	logits, err := r.b.Run(ctx, seqs)
	if err != nil {
		return nil, err
	}
	for _, l := range logits {
		if len(l) <= r.label {
			return nil, fmt.Errorf("rerank: the model gave %d logits, label %d is scored", len(l), r.label)
		}
	}
	out := make([]Scored, len(texts))
	for i, p := range plans {
		best := -1
		var bestScore float64
		for w := range p.n {
			s := r.score(logits[p.first+w])
			if best < 0 || s > bestScore || (math.IsNaN(bestScore) && !math.IsNaN(s)) {
				best, bestScore = w, s
			}
		}
		l := logits[p.first+best]
		out[i] = Scored{
			Logits: l, Logit: l[r.label], Score: bestScore,
			Tokens: p.tokens, Truncated: p.truncated, QueryTruncated: p.queryTruncated,
			Window: -1, Windows: p.windows,
		}
		if p.windows > 0 {
			out[i].Window = best
		}
	}
	return out, nil
}

// planDoc turns one document into its sequence, or its windows.
// left keeps the ends of the texts instead of their beginnings.
func (r *Reranker) planDoc(q []int32, text string, budget int, strategy Truncation, maxDocTokens int, left bool) (plan, []seq, error) {
	d, err := r.enc.tokenize(text)
	if err != nil {
		return plan{}, nil, err
	}
	var p plan
	if maxDocTokens > 0 && len(d) > maxDocTokens {
		p.truncated = len(d) - maxDocTokens
		d = d[:maxDocTokens]
	}
	if w := r.opts.LongDocs; w != nil && len(q)+len(d) > budget {
		return r.planWindows(p, q, d, budget, strategy, w)
	}
	kq, kd, err := fitPair(len(q), len(d), budget, strategy)
	if err != nil {
		return plan{}, nil, err
	}
	s := r.enc.pair(keep(q, kq, left), keep(d, kd, left))
	p.tokens = len(s.ids)
	p.truncated += len(d) - kd
	p.queryTruncated = len(q) - kq
	return p, []seq{s}, nil
}

// planWindows splits a document that does not fit beside the query into
// overlapping windows. The query keeps at most half of the budget so that
// windows are not starved by a long query.
func (r *Reranker) planWindows(p plan, q, d []int32, budget int, strategy Truncation, w *Windows) (plan, []seq, error) {
	kq := len(q)
	if kq > budget/2 {
		if strategy == NoTruncation {
			return plan{}, nil, fmt.Errorf("%w: the query's %d tokens leave no room for document windows (%d tokens in all)", ErrTooLong, kq, budget)
		}
		kq = budget / 2
	}
	size := budget - kq
	if w.Size > 0 && w.Size < size {
		size = w.Size
	}
	stride := w.Stride
	switch {
	case stride == 0:
		stride = size / 4
	case stride < 0:
		stride = 0
	}
	if stride >= size {
		return plan{}, nil, fmt.Errorf("LongDocs: Stride %d must be less than the window of %d tokens", stride, size)
	}
	ranges := windowRanges(len(d), size, stride, w.MaxWindows)
	seqs := make([]seq, len(ranges))
	for i, rg := range ranges {
		seqs[i] = r.enc.pair(q[:kq], d[rg[0]:rg[1]])
		p.tokens += len(seqs[i].ids)
	}
	p.truncated += len(d) - ranges[len(ranges)-1][1]
	p.queryTruncated = len(q) - kq
	p.windows = len(ranges)
	return p, seqs, nil
}

// keep returns the first n ids, or the last n if left (Hugging Face's
// truncation_side="left").
func keep(ids []int32, n int, left bool) []int32 {
	if left {
		return ids[len(ids)-n:]
	}
	return ids[:n]
}

// score applies the activation to one row of logits.
func (r *Reranker) score(l []float32) float64 {
	x := float64(l[r.label])
	switch r.act {
	case Sigmoid:
		return sigmoid(x)
	case Softmax:
		m := math.Inf(-1)
		for _, v := range l {
			m = math.Max(m, float64(v))
		}
		sum := 0.0
		for _, v := range l {
			sum += math.Exp(float64(v) - m)
		}
		return math.Exp(x-m) / sum
	}
	return x
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// rank sorts results best first (ties by input order, NaN last), then
// applies MinScore and TopK.
func rank(res []Result, o RerankOptions) []Result {
	slices.SortStableFunc(res, func(a, b Result) int {
		an, bn := math.IsNaN(a.Score), math.IsNaN(b.Score)
		switch {
		case an && bn:
			return cmp.Compare(a.Index, b.Index)
		case an:
			return 1
		case bn:
			return -1
		}
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Index, b.Index)
	})
	if o.MinScore != nil {
		threshold := *o.MinScore
		kept := res[:0]
		for _, x := range res {
			v := x.Score
			if o.MinScoreScale == ScaleLogit {
				v = float64(x.Logit)
			}
			if v >= threshold {
				kept = append(kept, x)
			}
		}
		res = kept
	}
	if o.TopK > 0 && len(res) > o.TopK {
		res = res[:o.TopK]
	}
	return res
}

// warnTruncated says, at most once a minute, that documents lost tokens:
// the seed's "scores all low" and "good chunks scored poorly" failure modes
// start with a silent cut.
func (r *Reranker) warnTruncated(n, of, maxLen int) {
	now := time.Now().UnixNano()
	last := r.lastTruncWarn.Load()
	if now-last < int64(time.Minute) || !r.lastTruncWarn.CompareAndSwap(last, now) {
		return
	}
	msg := "rerank: documents truncated to fit the maximum length; see Result.Truncated"
	if r.opts.LongDocs == nil {
		msg += ", or set Options.LongDocs to score long documents by their best window"
	}
	r.log.Warn(msg, "truncated", n, "documents", of, "max_length", maxLen)
}

var shared struct {
	sync.Mutex
	m      map[string]*sharedEntry
	loaded map[string]int // open Rerankers per model reference
}

type sharedEntry struct {
	done chan struct{}
	r    *Reranker
	err  error
}

// Shared returns the process-wide Reranker for model, creating it with opts
// on first use (the seed's get_reranker singleton); concurrent first calls
// load the model once. Later calls return the same Reranker whatever their
// opts. Closing it removes it, and the next call loads it again.
func Shared(ctx context.Context, model string, opts Options) (*Reranker, error) {
	shared.Lock()
	if shared.m == nil {
		shared.m = map[string]*sharedEntry{}
	}
	e, ok := shared.m[model]
	if !ok {
		e = &sharedEntry{done: make(chan struct{})}
		shared.m[model] = e
		shared.Unlock()
		e.r, e.err = New(ctx, model, opts)
		shared.Lock()
		if e.err != nil {
			delete(shared.m, model) // let a later call try again
		} else {
			prev := e.r.onClose
			e.r.onClose = func() {
				shared.Lock()
				if shared.m[model] == e {
					delete(shared.m, model)
				}
				shared.Unlock()
				if prev != nil {
					prev()
				}
			}
		}
		close(e.done)
		shared.Unlock()
		return e.r, e.err
	}
	shared.Unlock()
	select {
	case <-e.done:
		return e.r, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// noteLoad warns when a model is loaded while another Reranker of it is
// open: the seed's "model loaded per request" failure mode.
func noteLoad(r *Reranker, model string) {
	shared.Lock()
	if shared.loaded == nil {
		shared.loaded = map[string]int{}
	}
	shared.loaded[model]++
	n := shared.loaded[model]
	shared.Unlock()
	if n > 1 {
		r.log.Warn("rerank: model loaded again while loaded; create one Reranker and share it (rerank.Shared)", "model", model, "open", n)
	}
	r.onClose = func() {
		shared.Lock()
		shared.loaded[model]--
		shared.Unlock()
	}
}
