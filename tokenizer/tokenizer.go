package tokenizer

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"
)

// Tokenizer encodes texts and (query, document) pairs into model token ids.
// It is immutable after loading and safe for concurrent use.
type Tokenizer struct {
	added      *addedVocab
	normalizer normalizer   // nil: text goes to the pre-tokenizer as is
	pre        preTokenizer // nil: each normalised piece is one word
	model      model
	post       *template // never nil; no post-processor is an empty template

	// firstScheme: a Metaspace pre-tokenizer prepends only at the start of
	// the text, so encoding must know which words start there.
	firstScheme bool

	vocabSize      int
	padID          int32
	modelMaxLength int

	addedByID   map[int32]string // added tokens' contents by id
	specials    map[string]bool  // contents of the special added tokens
	decoder     decoderKind
	decoderName string

	pool sync.Pool // *scratch
}

// Encoding is one encoded text or pair, ready for the forward pass.
type Encoding struct {
	IDs           []int32
	TypeIDs       []int32
	AttentionMask []int32
	// Truncated counts the tokens each side lost to truncation (First is the
	// single text or the query, Second the document).
	Truncated struct{ First, Second int }
}

// NewEncoding wraps ids a caller assembled itself (a prompt made of
// pieces, say) as an Encoding: type ids 0, attention mask 1, nothing
// truncated. ids is used, not copied.
func NewEncoding(ids []int32) *Encoding {
	back := make([]int32, 2*len(ids))
	e := &Encoding{IDs: ids, TypeIDs: back[:len(ids):len(ids)], AttentionMask: back[len(ids):]}
	for i := range e.AttentionMask {
		e.AttentionMask[i] = 1
	}
	return e
}

// Len is the number of tokens, special tokens included.
func (e *Encoding) Len() int { return len(e.IDs) }

// Strategy says which side of a pair loses tokens when it is too long. The
// names and behaviour are Hugging Face's truncation strategies.
type Strategy int

const (
	// LongestFirst removes tokens one at a time from the longer side (HF's
	// default, and what sentence-transformers' CrossEncoder uses).
	LongestFirst Strategy = iota
	// OnlyFirst truncates only the first text (the query); it is an error if
	// that is not enough.
	OnlyFirst
	// OnlySecond truncates only the second text (the document); it is an
	// error if that is not enough, or if there is no second text.
	OnlySecond
	// DoNotTruncate keeps every token; MaxLength is ignored.
	DoNotTruncate
)

var strategyNames = [...]string{"longest_first", "only_first", "only_second", "do_not_truncate"}

func (s Strategy) String() string {
	if s >= 0 && int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

// ParseStrategy reads a strategy by its Hugging Face name ("longest_first",
// "only_first", "only_second", "do_not_truncate").
func ParseStrategy(name string) (Strategy, error) {
	for i, n := range strategyNames {
		if n == name {
			return Strategy(i), nil
		}
	}
	return 0, fmt.Errorf("tokenizer: unknown truncation strategy %q (want longest_first, only_first, only_second or do_not_truncate)", name)
}

// Truncation bounds the length of an encoding.
type Truncation struct {
	// MaxLength is the most tokens the encoding may have, special tokens
	// included (HF's max_length). 0 means no limit.
	MaxLength int
	// Strategy picks the side that loses tokens (LongestFirst by default).
	Strategy Strategy
	// QueryBudget, when positive, caps the query at this many tokens and
	// gives the document whatever MaxLength leaves; Strategy is then not
	// consulted. 0 means no query budget.
	QueryBudget int
	// Side is where each sequence loses its tokens: Right (the default)
	// keeps the start, Left keeps the end (HF's truncation_side "left").
	Side Side
}

// Side is the end of a sequence that truncation cuts or padding fills.
type Side int

const (
	Right Side = iota // the end: HF's default truncation_side and padding_side
	Left              // the start
)

func (s Side) String() string {
	switch s {
	case Right:
		return "right"
	case Left:
		return "left"
	}
	return fmt.Sprintf("Side(%d)", int(s))
}

// ErrSequenceTooShort is returned when OnlyFirst or OnlySecond cannot meet
// MaxLength by truncating only their side (HF: "Sequence to truncate too
// short to respect the provided max_length").
var ErrSequenceTooShort = errors.New("tokenizer: the sequence to truncate is too short to respect max_length")

// ErrNoSecondSequence is returned when OnlySecond must truncate a single
// text (HF: "Second sequence not provided").
var ErrNoSecondSequence = errors.New("tokenizer: only_second truncation needs a second sequence")

// Query is a query encoded once, to be paired with many documents.
type Query struct {
	t   *Tokenizer
	ids []int32 // content tokens, no special tokens
}

// Len is the number of content tokens of the query (special tokens excluded).
func (q *Query) Len() int { return len(q.ids) }

// Encode encodes a single text with the model's special tokens and no
// truncation.
func (t *Tokenizer) Encode(text string) (*Encoding, error) {
	return t.EncodeTruncated(text, Truncation{Strategy: DoNotTruncate})
}

// EncodeTruncated encodes a single text with special tokens, truncated to
// opts.MaxLength as HF does for one sequence.
func (t *Tokenizer) EncodeTruncated(text string, opts Truncation) (*Encoding, error) {
	sc := t.getScratch()
	defer t.putScratch(sc)
	ids, err := t.encodeContent(sc, text, sc.idsA[:0])
	sc.idsA = ids
	if err != nil {
		return nil, err
	}
	return t.finish(ids, nil, false, opts)
}

// EncodePair encodes a (query, document) pair with special tokens, truncated
// as opts says.
//
// An empty document is still a second sequence ([CLS] query [SEP] [SEP]),
// as in the Rust library and in transformers' batched calls, which
// sentence-transformers' CrossEncoder makes. A single transformers call,
// tokenizer(query, ""), drops an empty document and encodes the query alone;
// callers who need that use EncodeTruncated.
func (t *Tokenizer) EncodePair(query, document string, opts Truncation) (*Encoding, error) {
	sc := t.getScratch()
	defer t.putScratch(sc)
	a, err := t.encodeContent(sc, query, sc.idsA[:0])
	sc.idsA = a
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	b, err := t.encodeContent(sc, document, sc.idsB[:0])
	sc.idsB = b
	if err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	return t.finish(a, b, true, opts)
}

// EncodeQuery encodes a query once for EncodePairWithQuery.
func (t *Tokenizer) EncodeQuery(query string) (*Query, error) {
	sc := t.getScratch()
	defer t.putScratch(sc)
	ids, err := t.encodeContent(sc, query, nil)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return &Query{t: t, ids: ids}, nil
}

// EncodePairWithQuery is EncodePair with the query's tokens reused; the
// result is identical.
func (t *Tokenizer) EncodePairWithQuery(q *Query, document string, opts Truncation) (*Encoding, error) {
	if q == nil || q.t != t {
		return nil, errors.New("tokenizer: EncodePairWithQuery: query was encoded by another tokenizer")
	}
	sc := t.getScratch()
	defer t.putScratch(sc)
	b, err := t.encodeContent(sc, document, sc.idsB[:0])
	sc.idsB = b
	if err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	return t.finish(q.ids, b, true, opts)
}

// Tokenize returns the model ids of text without special tokens: the
// content Encode frames. With EncodeIDs it lets a caller cut a long document
// into windows of its own tokens.
func (t *Tokenizer) Tokenize(text string) ([]int32, error) {
	sc := t.getScratch()
	defer t.putScratch(sc)
	return t.encodeContent(sc, text, nil)
}

// EncodeIDs frames content ids from Tokenize with the special tokens and
// type ids, truncating as opts says: EncodeIDs(Tokenize(q), Tokenize(d),
// true, opts) is EncodePair(q, d, opts), and with pair false (b unused) it is
// EncodeTruncated. a and b are not modified.
func (t *Tokenizer) EncodeIDs(a, b []int32, pair bool, opts Truncation) (*Encoding, error) {
	if !pair {
		b = nil
	}
	for _, s := range [][]int32{a, b} {
		for _, id := range s {
			if id < 0 || int(id) >= t.vocabSize {
				return nil, fmt.Errorf("tokenizer: EncodeIDs: id %d is outside the vocabulary (size %d)", id, t.vocabSize)
			}
		}
	}
	return t.finish(a, b, pair, opts)
}

// NumSpecialTokens is the number of tokens the post-processor adds to a
// single text (pair false) or a pair (pair true).
func (t *Tokenizer) NumSpecialTokens(pair bool) int { return t.post.numSpecial(pair) }

// VocabSize is the number of ids the model can produce (the embedding
// matrix needs at least this many rows).
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// PadID is the id of the padding token ([PAD] or <pad>), or 0 if the
// tokenizer has none.
func (t *Tokenizer) PadID() int32 { return t.padID }

// Kind names the model: "wordpiece", "unigram" or "bpe".
func (t *Tokenizer) Kind() string { return t.model.kind() }

// ModelMaxLength is tokenizer_config.json's model_max_length, or 0 when the
// checkpoint does not give a usable one.
func (t *Tokenizer) ModelMaxLength() int { return t.modelMaxLength }

// finish truncates the content ids, frames them with special tokens and
// builds the Encoding.
func (t *Tokenizer) finish(a, b []int32, pair bool, opts Truncation) (*Encoding, error) {
	na, nb, err := t.truncLengths(len(a), len(b), pair, opts)
	if err != nil {
		return nil, err
	}
	n := na + nb + t.post.numSpecial(pair)
	// One backing array for the three slices: one allocation per encoding.
	back := make([]int32, 3*n)
	e := &Encoding{IDs: back[:0:n], TypeIDs: back[n : n : 2*n], AttentionMask: back[2*n : 3*n]}
	e.Truncated.First = len(a) - na
	e.Truncated.Second = len(b) - nb
	if opts.Side == Left {
		a, b = a[len(a)-na:], b[len(b)-nb:]
	} else {
		a, b = a[:na], b[:nb]
	}
	e.IDs, e.TypeIDs = t.post.apply(e.IDs, e.TypeIDs, a, b, pair)
	for i := range e.AttentionMask {
		e.AttentionMask[i] = 1
	}
	return e, nil
}

// truncLengths returns how many content tokens each side keeps.
func (t *Tokenizer) truncLengths(la, lb int, pair bool, opts Truncation) (int, int, error) {
	if opts.Side != Right && opts.Side != Left {
		return 0, 0, fmt.Errorf("tokenizer: unknown truncation side %d", int(opts.Side))
	}
	if opts.Strategy < LongestFirst || opts.Strategy > DoNotTruncate {
		return 0, 0, fmt.Errorf("tokenizer: unknown truncation strategy %d", int(opts.Strategy))
	}
	if opts.MaxLength < 0 || opts.QueryBudget < 0 {
		return 0, 0, fmt.Errorf("tokenizer: negative truncation length (max_length %d, query budget %d)", opts.MaxLength, opts.QueryBudget)
	}
	if opts.Strategy == DoNotTruncate {
		if opts.QueryBudget > 0 {
			return 0, 0, errors.New("tokenizer: a query budget needs truncation (strategy is do_not_truncate)")
		}
		return la, lb, nil
	}
	if opts.QueryBudget > 0 {
		if !pair {
			return 0, 0, errors.New("tokenizer: a query budget needs a pair")
		}
		na := min(la, opts.QueryBudget)
		if opts.MaxLength == 0 {
			return na, lb, nil
		}
		special := t.post.numSpecial(true)
		if opts.MaxLength < special {
			return 0, 0, fmt.Errorf("tokenizer: max_length %d is smaller than the %d special tokens of a pair", opts.MaxLength, special)
		}
		room := opts.MaxLength - special
		na = min(na, room)
		return na, min(lb, room-na), nil
	}
	if opts.MaxLength == 0 {
		return la, lb, nil
	}
	special := t.post.numSpecial(pair)
	if opts.MaxLength < special {
		what := "a single text"
		if pair {
			what = "a pair"
		}
		return 0, 0, fmt.Errorf("tokenizer: max_length %d is smaller than the %d special tokens of %s", opts.MaxLength, special, what)
	}
	return truncate(la, lb, pair, opts.MaxLength-special, opts.Strategy)
}

// truncate is tokenizers' truncate_encodings (utils/truncation.rs) on
// lengths: max is the budget for content tokens, specials already taken off.
func truncate(la, lb int, pair bool, max int, s Strategy) (int, int, error) {
	if max == 0 {
		return 0, 0, nil
	}
	total := la + lb
	if total <= max {
		return la, lb, nil
	}
	toRemove := total - max
	switch s {
	case LongestFirst:
		if !pair {
			return total - toRemove, 0, nil
		}
		// n1 is the shorter side. If it fits in half the budget it stays
		// whole and the longer side gets the rest; otherwise both get half,
		// the odd token going to the longer side.
		n1, n2 := la, lb
		swap := n1 > n2
		if swap {
			n1, n2 = n2, n1
		}
		if n1 > max {
			n2 = n1
		} else {
			n2 = maxInt(n1, max-n1)
		}
		if n1+n2 > max {
			n1 = max / 2
			n2 = n1 + max%2
		}
		if swap {
			n1, n2 = n2, n1
		}
		return min(la, n1), min(lb, n2), nil
	case OnlyFirst:
		if la > toRemove {
			return la - toRemove, lb, nil
		}
		return 0, 0, ErrSequenceTooShort
	case OnlySecond:
		if !pair {
			return 0, 0, ErrNoSecondSequence
		}
		if lb > toRemove {
			return la, lb - toRemove, nil
		}
		return 0, 0, ErrSequenceTooShort
	}
	return la, lb, nil
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// scratch is the reusable working memory of one encode call.
type scratch struct {
	idsA, idsB []int32
	segs       []segment
	nsegs      []segment
	bufs       [][]byte // stack for normalizers
	words      []*words // stack for pre-tokenizers
	out        words
	viterbi    []viterbiNode
	pieces     []piece // Split pre-tokenizer
	bpeSyms    []bpeSymbol
	bpeHeap    []bpeCand
	bpeBuf     []byte
}

func (t *Tokenizer) getScratch() *scratch {
	if sc, ok := t.pool.Get().(*scratch); ok {
		return sc
	}
	return &scratch{}
}

// maxPooledScratch bounds what a pooled scratch may hold: one huge
// document should not pin its buffers for the life of the process.
const maxPooledScratch = 4 << 20

func (t *Tokenizer) putScratch(sc *scratch) {
	size := 4*(cap(sc.idsA)+cap(sc.idsB)) + cap(sc.out.buf) + 24*cap(sc.viterbi) + 24*cap(sc.pieces) + 12*(cap(sc.bpeSyms)+cap(sc.bpeHeap))
	for _, b := range sc.bufs {
		size += cap(b)
	}
	for _, w := range sc.words {
		size += cap(w.buf)
	}
	if size <= maxPooledScratch {
		t.pool.Put(sc)
	}
}

func (sc *scratch) getBuf() []byte {
	if n := len(sc.bufs); n > 0 {
		b := sc.bufs[n-1]
		sc.bufs = sc.bufs[:n-1]
		return b[:0]
	}
	return make([]byte, 0, 256)
}

func (sc *scratch) putBuf(b []byte) { sc.bufs = append(sc.bufs, b) }

func (sc *scratch) getWords() *words {
	if n := len(sc.words); n > 0 {
		w := sc.words[n-1]
		sc.words = sc.words[:n-1]
		w.reset()
		return w
	}
	return &words{}
}

func (sc *scratch) putWords(w *words) { sc.words = append(sc.words, w) }

// encodeContent appends the model ids of text (no special tokens) to dst.
// It follows tokenizers' encode_single_sequence: added tokens are cut out of
// the raw text, each remaining piece is normalised, normalised added tokens
// are cut out of that, and each piece is pre-tokenised and run through the
// model.
func (t *Tokenizer) encodeContent(sc *scratch, text string, dst []int32) ([]int32, error) {
	if !utf8.ValidString(text) {
		return dst, errors.New("tokenizer: input is not valid UTF-8")
	}
	sc.segs = t.added.split(sc.segs[:0], text, &t.added.raw)
	for _, sg := range sc.segs {
		if sg.id >= 0 {
			dst = append(dst, sg.id)
			continue
		}
		piece := text[sg.start:sg.end]
		var norm []byte
		var nbuf []byte
		if t.normalizer != nil {
			nbuf = sc.getBuf()
			nbuf = t.normalizer.normalize(nbuf, piece, sc)
			norm = nbuf
		} else {
			norm = unsafeBytes(piece)
		}
		var err error
		// tokenizers re-slices every normalised piece, so a piece "starts
		// the text" when its first normalised byte comes from the text's
		// first character, which a normaliser may have deleted.
		first := sg.start == 0
		if first && t.firstScheme && t.normalizer != nil {
			first = !leadingDeleted(t.normalizer, piece, norm, sc)
		}
		if len(t.added.norm.tokens) == 0 {
			dst, err = t.encodeNormalized(sc, dst, norm, first)
		} else {
			nsegs := t.added.split(sc.nsegs[:0], unsafeString(norm), &t.added.norm)
			for _, ns := range nsegs {
				if err != nil {
					break
				}
				if ns.id >= 0 {
					dst = append(dst, ns.id)
					continue
				}
				dst, err = t.encodeNormalized(sc, dst, norm[ns.start:ns.end], first && ns.start == 0)
			}
			sc.nsegs = nsegs[:0]
		}
		if nbuf != nil {
			sc.putBuf(nbuf)
		}
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// encodeNormalized pre-tokenises one normalised piece and runs the model on
// each word. first says the piece starts at the beginning of the original
// text (Metaspace's prepend_scheme "first" needs it).
func (t *Tokenizer) encodeNormalized(sc *scratch, dst []int32, norm []byte, first bool) ([]int32, error) {
	if len(norm) == 0 {
		return dst, nil
	}
	if t.pre == nil {
		return t.model.tokenize(dst, norm, sc)
	}
	w := &sc.out
	w.reset()
	t.pre.split(w, norm, first, sc)
	var err error
	for i := range w.spans {
		word := w.word(i)
		if len(word) == 0 {
			continue
		}
		if dst, err = t.model.tokenize(dst, word, sc); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// leadingDeleted says whether normalising piece (giving norm) dropped its
// first character entirely: then the first normalised byte comes from a
// later character. It is asked only for the "first" prepend scheme, so the
// second normalisation (of the piece without its first character) costs
// nothing elsewhere: when the first character contributed nothing, the rest
// normalises to the same text.
func leadingDeleted(n normalizer, piece string, norm []byte, sc *scratch) bool {
	_, size := utf8.DecodeRuneInString(piece)
	rest := sc.getBuf()
	rest = n.normalize(rest, piece[size:], sc)
	same := string(rest) == string(norm)
	sc.putBuf(rest)
	return same
}
