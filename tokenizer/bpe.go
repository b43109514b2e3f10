package tokenizer

import (
	"fmt"
	"sync"
	"unicode/utf8"
)

// bpe is tokenizers' BPE model (models/bpe/model.rs): a word starts as its
// characters, and adjacent pairs are merged, lowest merge rank first (the
// leftmost of equal ranks), until no pair of the word is a merge.
// Characters missing from the vocabulary become <0xXX> byte tokens
// (byte_fallback), the unk token (fused into one with fuse_unk), or
// nothing.
type bpe struct {
	vocab  map[string]int32
	tokens []string // id -> token ("" for ids no token has)
	merges map[uint64]bpeMerge
	// charID holds the ids of one-character tokens below U+0800, -1 if
	// absent (without a prefix or suffix): byte-level words are made of
	// such characters.
	charID       [0x800]int32
	unk          int32 // -1: no unk token
	unkName      string
	fuseUnk      bool
	byteFallback bool
	byteIDs      [256]int32 // <0xXX> tokens, -1 if absent
	ignoreMerges bool
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix
	size         int
	cache        *bpeCache
}

// bpeMerge is the result of merging a pair: its rank (position in merges)
// and the merged token's id.
type bpeMerge struct {
	rank, id int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// bpeOptions are the model fields of tokenizer.json besides vocab and merges.
type bpeOptions struct {
	unk          *string
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	prefix       string
	suffix       string
}

// newBPE builds the model as BpeBuilder::build does: every merge's two
// tokens and their concatenation (the second without the continuing
// prefix) must be in the vocabulary; a pair given twice keeps its last rank.
func newBPE(vocab map[string]int32, merges [][2]string, o bpeOptions) (*bpe, error) {
	m := &bpe{vocab: vocab, unk: -1, fuseUnk: o.fuseUnk, byteFallback: o.byteFallback, ignoreMerges: o.ignoreMerges,
		prefix: o.prefix, suffix: o.suffix, merges: make(map[uint64]bpeMerge, len(merges))}
	for tok, id := range vocab {
		if id < 0 {
			return nil, fmt.Errorf("vocab: token %q has negative id %d", tok, id)
		}
		m.size = max(m.size, int(id)+1)
	}
	m.tokens = make([]string, m.size)
	for tok, id := range vocab {
		// Two tokens with one id: keep one deterministically.
		if m.tokens[id] == "" || tok < m.tokens[id] {
			m.tokens[id] = tok
		}
	}
	for i, mg := range merges {
		a, ok := vocab[mg[0]]
		if !ok {
			return nil, fmt.Errorf("merges[%d]: token %q is not in the vocabulary", i, mg[0])
		}
		b, ok := vocab[mg[1]]
		if !ok {
			return nil, fmt.Errorf("merges[%d]: token %q is not in the vocabulary", i, mg[1])
		}
		// tokenizers drops the prefix's length from the second token
		// without looking at it.
		if len(mg[1]) < len(o.prefix) {
			return nil, fmt.Errorf("merges[%d]: %q is shorter than the continuing_subword_prefix %q", i, mg[1], o.prefix)
		}
		merged := mg[0] + mg[1][len(o.prefix):]
		id, ok := vocab[merged]
		if !ok {
			return nil, fmt.Errorf("merges[%d]: the merged token %q is not in the vocabulary", i, merged)
		}
		m.merges[pairKey(a, b)] = bpeMerge{int32(i), id}
	}
	if o.unk != nil {
		m.unkName = *o.unk
		if id, ok := vocab[*o.unk]; ok {
			m.unk = id
		} else {
			// tokenizers fails on the first word that needs it.
			m.unk = -2
		}
	}
	for i := range m.charID {
		m.charID[i] = -1
	}
	if o.prefix == "" && o.suffix == "" {
		for tok, id := range vocab {
			if r, n := utf8.DecodeRuneInString(tok); n == len(tok) && r < rune(len(m.charID)) && r != utf8.RuneError {
				m.charID[r] = id
			}
		}
	}
	for b := range m.byteIDs {
		m.byteIDs[b] = -1
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	m.cache = newBPECache()
	return m, nil
}

func (m *bpe) kind() string   { return "bpe" }
func (m *bpe) vocabSize() int { return m.size }
func (m *bpe) tokenID(tok string) (int32, bool) {
	id, ok := m.vocab[tok]
	return id, ok
}

func (m *bpe) idToken(id int32) (string, bool) {
	if id < 0 || int(id) >= len(m.tokens) || m.tokens[id] == "" {
		return "", false
	}
	return m.tokens[id], true
}

// bpeSymbol is one symbol of a word being merged, in a linked list over
// the word's initial characters.
type bpeSymbol struct {
	id         int32
	prev, next int32 // -1: none
	gone       bool  // merged into its left neighbour
}

// bpeCand is a pair waiting in the merge queue.
type bpeCand struct {
	rank, pos, id int32
}

func (m *bpe) tokenize(dst []int32, word []byte, sc *scratch) ([]int32, error) {
	if len(word) == 0 {
		return dst, nil
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[unsafeString(word)]; ok {
			return append(dst, id), nil
		}
	}
	if ids, ok := m.cache.get(word); ok {
		return append(dst, ids...), nil
	}
	mark := len(dst)
	dst, err := m.mergeWord(dst, word, sc)
	if err != nil {
		return dst, err
	}
	m.cache.put(word, dst[mark:])
	return dst, nil
}

// mergeWord is merge_word followed by Word::merge_all.
func (m *bpe) mergeWord(dst []int32, word []byte, sc *scratch) ([]int32, error) {
	syms := sc.bpeSyms[:0]
	add := func(id int32) {
		syms = append(syms, bpeSymbol{id: id, prev: int32(len(syms)) - 1, next: int32(len(syms)) + 1})
	}
	unk, unkPending := int32(-1), false
	for i := 0; i < len(word); {
		n := 1
		r := rune(word[i])
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(word[i:])
		}
		id := int32(-1)
		var key []byte // the character with prefix and suffix, when looked up
		if r < rune(len(m.charID)) && m.prefix == "" && m.suffix == "" {
			id = m.charID[r]
		} else {
			key = m.charKey(word, i, n, sc)
			if v, ok := m.vocab[unsafeString(key)]; ok {
				id = v
			}
		}
		if id >= 0 {
			if unkPending {
				add(unk)
				unkPending = false
			}
			add(id)
			i += n
			continue
		}
		if key == nil {
			key = word[i : i+n]
		}
		if m.byteFallback && m.allBytes(key) {
			// The bytes of the looked-up string (prefix and suffix
			// included), and a pending unk is not flushed first: both as
			// tokenizers does.
			for _, b := range key {
				add(m.byteIDs[b])
			}
			i += n
			continue
		}
		if m.unk != -1 {
			if m.unk < 0 {
				return dst, fmt.Errorf("tokenizer: BPE: unk token %q is not in the vocabulary", m.unkName)
			}
			if unkPending && !m.fuseUnk {
				add(unk)
			}
			unk, unkPending = m.unk, true
		}
		i += n
	}
	if unkPending {
		add(unk)
	}
	if len(syms) == 0 {
		sc.bpeSyms = syms
		return dst, nil
	}
	syms[len(syms)-1].next = -1
	syms = m.mergeAll(syms, sc)
	for i := int32(0); i >= 0; i = syms[i].next {
		dst = append(dst, syms[i].id)
	}
	sc.bpeSyms = syms[:0]
	return dst, nil
}

// charKey is the vocabulary key of the character word[i:i+n]: with the
// continuing prefix unless it is first, with the end-of-word suffix if it
// is last.
func (m *bpe) charKey(word []byte, i, n int, sc *scratch) []byte {
	if (m.prefix == "" || i == 0) && (m.suffix == "" || i+n < len(word)) {
		return word[i : i+n]
	}
	b := sc.bpeBuf[:0]
	if i > 0 {
		b = append(b, m.prefix...)
	}
	b = append(b, word[i:i+n]...)
	if i+n == len(word) {
		b = append(b, m.suffix...)
	}
	sc.bpeBuf = b
	return b
}

func (m *bpe) allBytes(s []byte) bool {
	for _, b := range s {
		if m.byteIDs[b] < 0 {
			return false
		}
	}
	return true
}

// mergeAll is Word::merge_all: a priority queue of the word's mergeable
// pairs by (rank, position); an entry whose pair has changed since it was
// queued is dropped when it comes up.
func (m *bpe) mergeAll(syms []bpeSymbol, sc *scratch) []bpeSymbol {
	h := bpeHeap(sc.bpeHeap[:0])
	for i := 0; i+1 < len(syms); i++ {
		if mg, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			h = h.push(bpeCand{mg.rank, int32(i), mg.id})
		}
	}
	for len(h) > 0 {
		var top bpeCand
		h, top = h.pop()
		s := &syms[top.pos]
		if s.gone || s.next < 0 {
			continue
		}
		right := syms[s.next]
		if mg, ok := m.merges[pairKey(s.id, right.id)]; !ok || mg.id != top.id {
			continue
		}
		s.id = top.id
		syms[s.next].gone = true
		s.next = right.next
		if right.next >= 0 {
			syms[right.next].prev = top.pos
		}
		if s.prev >= 0 {
			if mg, ok := m.merges[pairKey(syms[s.prev].id, s.id)]; ok {
				h = h.push(bpeCand{mg.rank, s.prev, mg.id})
			}
		}
		if s.next >= 0 {
			if mg, ok := m.merges[pairKey(s.id, syms[s.next].id)]; ok {
				h = h.push(bpeCand{mg.rank, top.pos, mg.id})
			}
		}
	}
	sc.bpeHeap = h[:0]
	return syms
}

// bpeHeap is a binary min-heap of candidates by (rank, pos).
type bpeHeap []bpeCand

func (a bpeCand) less(b bpeCand) bool {
	return a.rank < b.rank || a.rank == b.rank && a.pos < b.pos
}

func (h bpeHeap) push(c bpeCand) bpeHeap {
	h = append(h, c)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func (h bpeHeap) pop() (bpeHeap, bpeCand) {
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h[r].less(h[l]) {
			j = r
		}
		if !h[j].less(h[i]) {
			break
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
	return h, top
}

// bpeCache remembers the ids of words already merged, as tokenizers' BPE
// cache does: at most bpeCacheWords words, each shorter than
// bpeCacheMaxLen bytes; once full it stops taking new words.
type bpeCache struct {
	mu    sync.RWMutex
	words map[string][]int32
}

const (
	bpeCacheWords  = 10000
	bpeCacheMaxLen = 256
)

func newBPECache() *bpeCache { return &bpeCache{words: make(map[string][]int32)} }

func (c *bpeCache) get(word []byte) ([]int32, bool) {
	if c == nil || len(word) >= bpeCacheMaxLen {
		return nil, false
	}
	c.mu.RLock()
	ids, ok := c.words[unsafeString(word)]
	c.mu.RUnlock()
	return ids, ok
}

func (c *bpeCache) put(word []byte, ids []int32) {
	if c == nil || len(word) >= bpeCacheMaxLen {
		return
	}
	c.mu.Lock()
	if len(c.words) < bpeCacheWords {
		if _, ok := c.words[string(word)]; !ok {
			c.words[string(word)] = append([]int32(nil), ids...)
		}
	}
	c.mu.Unlock()
}
