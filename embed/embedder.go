package embed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/crossrank/crossrank/internal/batch"
	"github.com/crossrank/crossrank/internal/shared"
	"github.com/crossrank/crossrank/weights"
)

// Embedder turns texts into vectors with one bi-encoder. Create it once per
// model and share it: it is safe for concurrent use, and concurrent calls
// share forward passes (length-sorted, packed batches: internal/batch, the
// re-ranker's batcher).
type Embedder struct {
	info   Info
	opts   Options
	st     *weights.SentenceTransformer
	enc    textEncoder
	mdl    encoder
	b      *batch.Batcher[seq]
	maxLen int
	log    *slog.Logger
	// clsOnly is set when the pooling is [cls] alone: forward then asks the
	// encoder for the one row each text's pooling reads (hiddenRows). Tests
	// clear it to compare with the path through every hidden state.
	clsOnly bool

	closeOnce sync.Once
	closeErr  error
	onClose   func() // Shared's: forget this Embedder
}

// seq is one tokenized text on its way to the encoder.
type seq struct {
	ids, typeIDs []int32
	// skip is how many leading tokens pooling leaves out: [CLS] and the
	// prompt when the Pooling module has include_prompt false.
	skip int
}

// textEncoder is the tokenizer as the embedder needs it.
type textEncoder interface {
	// encode returns text's ids and type ids with the special tokens.
	encode(text string) (ids, typeIDs []int32, err error)
	// frame is how many special tokens encode puts before and after the text.
	frame() (pre, post int)
	// maxLength is the tokenizer's model_max_length (0 if none).
	maxLength() int
}

// encoder runs the transformer and returns the last hidden states.
type encoder interface {
	// hidden returns each sequence's last hidden states, len(ids) rows of
	// hiddenSize, row-major.
	hidden(ctx context.Context, batch []seq) ([][]float32, error)
	// hiddenRows returns row rows[i] of sequence i's last hidden states,
	// hiddenSize values each: what CLS pooling reads, for less work where
	// the model can compute only those rows in its last layer.
	hiddenRows(ctx context.Context, batch []seq, rows []int) ([][]float32, error)
	hiddenSize() int
	// maxTokens is the longest sequence the position table allows.
	maxTokens() int
	close() error
}

// New loads an embedding model. model is a local folder (a
// sentence-transformers model, or a transformers encoder, which gets mean
// pooling) or a Hub reference org/name[@revision].
func New(ctx context.Context, model string, opts Options) (*Embedder, error) {
	if model == "" {
		return nil, errors.New("embed: no model given")
	}
	dir := model
	if st, err := os.Stat(model); err != nil || !st.IsDir() {
		resolve := opts.Resolve
		if resolve == nil {
			resolve = func(ctx context.Context, ref string) (string, error) {
				return weights.Resolve(ctx, ref, weights.ResolveOptions{})
			}
		}
		d, err := resolve(ctx, model)
		if err != nil {
			return nil, fmt.Errorf("embed: model %q: %w", model, err)
		}
		dir = d
	}
	eng, err := loadEngine(ctx, dir, opts)
	if err != nil {
		return nil, fmt.Errorf("embed: model %q: %w", model, err)
	}
	eng.info.Model, eng.info.Dir = model, dir
	e, err := newEmbedder(eng, opts)
	if err != nil {
		eng.mdl.close()
		return nil, fmt.Errorf("embed: model %q: %w", model, err)
	}
	return e, nil
}

// engine is what loadEngine gives newEmbedder.
type engine struct {
	st   *weights.SentenceTransformer
	enc  textEncoder
	mdl  encoder
	info Info // Architecture, Device, Precision
}

func newEmbedder(eng engine, opts Options) (*Embedder, error) {
	e := &Embedder{st: eng.st, enc: eng.enc, mdl: eng.mdl, info: eng.info, log: opts.Logger}
	if e.log == nil {
		e.log = slog.Default()
	}
	st := eng.st
	if st.Pooling.Dimension != eng.mdl.hiddenSize() {
		return nil, fmt.Errorf("the pooling expects %d-dimensional token embeddings, the encoder gives %d", st.Pooling.Dimension, eng.mdl.hiddenSize())
	}
	// sentence-transformers: max_seq_length, else the tokenizer's
	// model_max_length capped by max_position_embeddings.
	limit := st.MaxSeqLength
	if limit == 0 {
		limit = eng.enc.maxLength()
	}
	if m := eng.mdl.maxTokens(); limit <= 0 || limit > m {
		limit = m
	}
	switch {
	case opts.MaxLength < 0:
		return nil, fmt.Errorf("MaxLength %d is negative", opts.MaxLength)
	case opts.MaxLength > eng.mdl.maxTokens():
		return nil, fmt.Errorf("MaxLength %d is more than the model's %d positions", opts.MaxLength, eng.mdl.maxTokens())
	case opts.MaxLength > 0:
		limit = opts.MaxLength
	}
	pre, post := eng.enc.frame()
	if limit <= pre+post {
		return nil, fmt.Errorf("MaxLength %d leaves no room beside the %d special tokens", limit, pre+post)
	}
	e.maxLen = limit
	e.clsOnly = slices.Equal(st.Pooling.Modes, []weights.PoolingMode{weights.PoolCLS})
	if opts.BatchSize < 0 || opts.MaxBatchTokens < 0 || opts.Workers < 0 || opts.MaxInputs < 0 || opts.BatchWait < 0 {
		return nil, errors.New("BatchSize, MaxBatchTokens, Workers, MaxInputs and BatchWait must not be negative")
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 32
	}
	if opts.MaxBatchTokens == 0 {
		opts.MaxBatchTokens = opts.BatchSize * e.maxLen
	}
	e.opts = opts
	if st.DoLowerCase {
		e.log.Warn("embed: sentence_bert_config.json has do_lower_case; texts are lower-cased with Go's Unicode rules before tokenizing")
	}
	for _, n := range st.Notes {
		e.log.Warn("embed: " + n)
	}

	e.info.Dim = st.Dim()
	if st.TruncateDim > 0 {
		e.info.Dim = st.TruncateDim
	}
	e.info.MaxLength = e.maxLen
	for _, m := range st.Pooling.Modes {
		e.info.Pooling = append(e.info.Pooling, string(m))
	}
	e.info.Normalized = st.Normalized()
	e.info.Prompts = st.Prompts
	e.info.DefaultPromptName = st.DefaultPromptName
	e.info.Similarity = st.SimilarityFnName
	if e.info.Similarity == "" {
		e.info.Similarity = "cosine"
	}
	e.info.Notes = st.Notes

	var on func(batch.Stats)
	if opts.OnBatch != nil {
		on = func(s batch.Stats) {
			opts.OnBatch(BatchStats{Texts: s.Items, Tokens: s.Tokens, Callers: s.Callers, Wait: s.Wait, Duration: s.Duration, Retried: s.Retried})
		}
	}
	e.b = batch.New(e.forward, func(s seq) int { return len(s.ids) }, batch.Options{
		MaxItems: opts.BatchSize, MaxTokens: opts.MaxBatchTokens, Workers: opts.Workers, Wait: opts.BatchWait,
		OnBatch: on, Log: e.log, Closed: ErrClosed, IsOutOfMemory: batch.IsOutOfMemory, Name: "embed",
	})
	return e, nil
}

// forward is one batch: the encoder, then each text's module stack.
func (e *Embedder) forward(ctx context.Context, b []seq) ([][]float32, error) {
	if e.clsOnly {
		return e.forwardCLS(ctx, b)
	}
	hs, err := e.mdl.hidden(ctx, b)
	if err != nil {
		return nil, err
	}
	if len(hs) != len(b) {
		return nil, fmt.Errorf("embed: the encoder returned %d sequences for %d", len(hs), len(b))
	}
	d := e.mdl.hiddenSize()
	out := make([][]float32, len(b))
	for i, s := range b {
		if len(hs[i]) != len(s.ids)*d {
			return nil, fmt.Errorf("embed: the encoder returned %d values for %d tokens of %d", len(hs[i]), len(s.ids), d)
		}
		out[i] = head(e.st, hs[i], len(s.ids), d, s.skip)
	}
	return out, nil
}

// forwardCLS is forward for a pooling of [cls] alone, which reads one row
// per text: the first the mask keeps (row skip, as pool's cls), so only that
// row is asked of the encoder and pooled as a one-token sequence.
func (e *Embedder) forwardCLS(ctx context.Context, b []seq) ([][]float32, error) {
	rows := make([]int, len(b))
	for i, s := range b {
		rows[i] = s.skip
	}
	hs, err := e.mdl.hiddenRows(ctx, b, rows)
	if err != nil {
		return nil, err
	}
	if len(hs) != len(b) {
		return nil, fmt.Errorf("embed: the encoder returned %d sequences for %d", len(hs), len(b))
	}
	d := e.mdl.hiddenSize()
	out := make([][]float32, len(b))
	for i := range b {
		if len(hs[i]) != d {
			return nil, fmt.Errorf("embed: the encoder returned %d values for one row of %d", len(hs[i]), d)
		}
		out[i] = head(e.st, hs[i], 1, d, 0)
	}
	return out, nil
}

// Info describes the model.
func (e *Embedder) Info() Info { return e.info }

// Close releases the model. Queued calls fail with ErrClosed.
func (e *Embedder) Close() error {
	e.closeOnce.Do(func() {
		if e.onClose != nil {
			e.onClose()
		}
		e.b.Close()
		e.closeErr = e.mdl.close()
	})
	return e.closeErr
}

// prompt resolves o's prompt as sentence-transformers' _resolve_prompt does.
func (e *Embedder) prompt(o EmbedOptions) (string, error) {
	if o.Prompt != nil {
		return *o.Prompt, nil
	}
	name := o.PromptName
	if name == "" {
		name = e.st.DefaultPromptName
	}
	if name == "" {
		return "", nil
	}
	p, ok := e.st.Prompts[name]
	if !ok {
		names := make([]string, 0, len(e.st.Prompts))
		for k := range e.st.Prompts {
			names = append(names, k)
		}
		return "", fmt.Errorf("%w %q (the model has %v)", ErrUnknownPrompt, name, names)
	}
	return p, nil
}

// Embed returns one vector per text, in order. Texts are tokenized with the
// prompt in front (as sentence-transformers does: prompt + text, then the
// tokenizer), cut to the maximum length as o.Truncation says, and batched
// with other calls' texts.
func (e *Embedder) Embed(ctx context.Context, texts []string, o EmbedOptions) ([]Embedding, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(texts) == 0 {
		return nil, ErrNoInput
	}
	if e.opts.MaxInputs > 0 && len(texts) > e.opts.MaxInputs {
		return nil, fmt.Errorf("%w: %d, at most %d", ErrTooManyInputs, len(texts), e.opts.MaxInputs)
	}
	full := e.st.Dim()
	if e.st.TruncateDim > 0 {
		full = e.st.TruncateDim
	}
	if o.Dimensions < 0 || o.Dimensions > full {
		return nil, fmt.Errorf("%w: %d, the model gives %d", ErrDimensions, o.Dimensions, full)
	}
	if o.Truncation < TruncateEnd || o.Truncation > NoTruncation {
		return nil, fmt.Errorf("embed: unknown Truncation %d", o.Truncation)
	}
	prompt, err := e.prompt(o)
	if err != nil {
		return nil, err
	}
	pre, post := e.enc.frame()
	skipPrompt := 0
	if prompt != "" && !e.st.Pooling.IncludePrompt {
		ids, _, err := e.enc.encode(e.lower(prompt))
		if err != nil {
			return nil, fmt.Errorf("embed: prompt: %w", err)
		}
		// _get_prompt_length: the prompt's tokens with the leading special
		// tokens, without the trailing one.
		skipPrompt = len(ids) - post
		if skipPrompt+post >= e.maxLen {
			return nil, fmt.Errorf("%w: the prompt %q takes %d of the %d tokens", ErrTooLong, prompt, skipPrompt+post, e.maxLen)
		}
	}
	seqs := make([]seq, len(texts))
	res := make([]Embedding, len(texts))
	err = batch.Parallel(ctx, len(texts), func(i int) error {
		t := texts[i]
		if !utf8.ValidString(t) {
			return &InputError{i, ErrInvalidUTF8}
		}
		ids, types, err := e.enc.encode(e.lower(prompt + t))
		if err != nil {
			return &InputError{i, err}
		}
		s := seq{ids: ids, typeIDs: types, skip: skipPrompt}
		if n := len(ids); n > e.maxLen {
			if o.Truncation == NoTruncation {
				return &InputError{i, fmt.Errorf("%w: %d tokens, at most %d", ErrTooLong, n, e.maxLen)}
			}
			s = cut(s, e.maxLen, pre, post, o.Truncation == TruncateStart)
			res[i].Truncated = true
		}
		seqs[i] = s
		res[i].Tokens = len(s.ids)
		return nil
	})
	if err != nil {
		return nil, err
	}
	vecs, err := e.b.Run(ctx, seqs)
	if err != nil {
		return nil, err
	}
	for i, v := range vecs {
		unit := e.st.Normalized()
		if e.st.TruncateDim > 0 {
			v = v[:e.st.TruncateDim]
			unit = false // sentence-transformers truncates after Normalize and leaves it so
		}
		if o.Dimensions > 0 && o.Dimensions < len(v) {
			v = v[:o.Dimensions:o.Dimensions]
		}
		if o.Normalize || (unit && o.Dimensions > 0) {
			normalize(v)
		}
		res[i].Vector = v
	}
	return res, nil
}

// EmbedStrings is Embed returning the vectors alone.
func (e *Embedder) EmbedStrings(ctx context.Context, texts []string, o EmbedOptions) ([][]float32, error) {
	res, err := e.Embed(ctx, texts, o)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(res))
	for i := range res {
		out[i] = res[i].Vector
	}
	return out, nil
}

func (e *Embedder) lower(s string) string {
	if e.st.DoLowerCase {
		return strings.ToLower(s)
	}
	return s
}

// cut shortens s to limit tokens, keeping the pre and post special tokens:
// the end of the text goes (Hugging Face's single-text truncation), or its
// start when fromStart. A prompt cut from the start no longer counts as
// skipped.
func cut(s seq, limit, pre, post int, fromStart bool) seq {
	n := len(s.ids)
	drop := n - limit
	out := seq{ids: make([]int32, 0, limit), typeIDs: make([]int32, 0, limit), skip: s.skip}
	lo, hi := pre, n-post-drop // the kept text span
	if fromStart {
		lo, hi = pre+drop, n-post
		if s.skip > 0 { // the prompt's tokens that survive stay left out
			out.skip = pre + max(0, s.skip-pre-drop)
		}
	}
	out.ids = append(append(append(out.ids, s.ids[:pre]...), s.ids[lo:hi]...), s.ids[n-post:]...)
	out.typeIDs = append(append(append(out.typeIDs, s.typeIDs[:pre]...), s.typeIDs[lo:hi]...), s.typeIDs[n-post:]...)
	// A prompt cut at the end keeps what is left of it out; the closing
	// special tokens always count (Embed refuses a prompt that leaves no
	// room for them).
	out.skip = min(out.skip, len(out.ids)-post)
	return out
}

var sharedEmbedders shared.Registry[*Embedder]

// Shared returns the process-wide Embedder for model, creating it with opts
// on first use (the seed's singleton pattern); concurrent first calls load
// it once, later calls get the same Embedder whatever their opts. Closing
// it removes it, and the next call loads it again.
func Shared(ctx context.Context, model string, opts Options) (*Embedder, error) {
	return sharedEmbedders.Get(ctx, model, func() (*Embedder, error) {
		e, err := New(ctx, model, opts)
		if err == nil {
			e.onClose = func() { sharedEmbedders.Forget(model, func(x *Embedder) bool { return x == e }) }
		}
		return e, err
	})
}
