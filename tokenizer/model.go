package tokenizer

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// model turns one pre-tokenised word into ids, appended to dst.
type model interface {
	tokenize(dst []int32, word []byte, sc *scratch) ([]int32, error)
	kind() string
	vocabSize() int
	tokenID(tok string) (int32, bool)
	idToken(id int32) (string, bool)
}

// byteTrie maps byte strings to ids. The root's children are a direct
// table; other nodes keep their edges sorted, and most have one or two.
type byteTrie struct {
	root  [256]int32 // child node of the root per byte, 0 = none
	nodes []trieNode // nodes[0] is the root
	edges []trieEdge
}

type trieNode struct {
	id       int32 // -1: no token ends here
	first, n int32 // edges[first:first+n]
}

type trieEdge struct {
	b     byte
	child int32
}

// buildTrie builds a trie of keys; ids[i] is the value of keys[i]. A key
// given twice keeps its last id, as a Rust HashMap insert does. Keys are
// sorted first, so that each node's edges can be laid out together without
// per-node maps (a 250,000-piece vocabulary loads in milliseconds).
func buildTrie(keys []string, ids []int32) *byteTrie {
	order := make([]int32, 0, len(keys))
	for i, k := range keys {
		if k != "" {
			order = append(order, int32(i))
		}
	}
	// Sorted by key, then by position, so the last of equal keys is last.
	slices.SortFunc(order, func(a, b int32) int {
		if c := strings.Compare(keys[a], keys[b]); c != 0 {
			return c
		}
		return int(a - b)
	})
	uniq := order[:0]
	for i, o := range order {
		if i+1 < len(order) && keys[order[i+1]] == keys[o] {
			continue
		}
		uniq = append(uniq, o)
	}
	t := &byteTrie{nodes: []trieNode{{id: -1}}}
	var build func(node int32, lo, hi, depth int)
	build = func(node int32, lo, hi, depth int) {
		if lo < hi && len(keys[uniq[lo]]) == depth {
			t.nodes[node].id = ids[uniq[lo]]
			lo++
		}
		first := int32(len(t.edges))
		for i := lo; i < hi; {
			b := keys[uniq[i]][depth]
			j := i + 1
			for j < hi && keys[uniq[j]][depth] == b {
				j++
			}
			t.nodes = append(t.nodes, trieNode{id: -1})
			t.edges = append(t.edges, trieEdge{b, int32(len(t.nodes) - 1)})
			i = j
		}
		t.nodes[node].first, t.nodes[node].n = first, int32(len(t.edges))-first
		k := first
		for i := lo; i < hi; k++ {
			b := keys[uniq[i]][depth]
			j := i + 1
			for j < hi && keys[uniq[j]][depth] == b {
				j++
			}
			build(t.edges[k].child, i, j, depth+1)
			i = j
		}
	}
	build(0, 0, len(uniq), 0)
	root := &t.nodes[0]
	for _, e := range t.edges[root.first : root.first+root.n] {
		t.root[e.b] = e.child
	}
	return t
}

// child is the node reached from node by byte b, or -1.
func (t *byteTrie) child(node int32, b byte) int32 {
	if node == 0 {
		if c := t.root[b]; c != 0 {
			return c
		}
		return -1
	}
	n := &t.nodes[node]
	es := t.edges[n.first : n.first+n.n]
	if len(es) <= 8 {
		for _, e := range es {
			if e.b == b {
				return e.child
			}
		}
		return -1
	}
	lo, hi := 0, len(es)
	for lo < hi {
		m := (lo + hi) / 2
		if es[m].b < b {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(es) && es[lo].b == b {
		return es[lo].child
	}
	return -1
}

// longestPrefix returns the id and length of the longest key that is a
// prefix of s, or (-1, 0).
func (t *byteTrie) longestPrefix(s []byte) (int32, int) {
	id, n := int32(-1), 0
	node := int32(0)
	for i := 0; i < len(s); i++ {
		node = t.child(node, s[i])
		if node < 0 {
			break
		}
		if nid := t.nodes[node].id; nid >= 0 {
			id, n = nid, i+1
		}
	}
	return id, n
}

// wordPiece is tokenizers' WordPiece model: greedy longest-match-first
// sub-words, later pieces carrying the continuing-subword prefix; a word
// with any unmatched rest, or longer than maxChars characters, is one unk.
type wordPiece struct {
	vocab    map[string]int32
	start    *daTrie // tokens without the prefix
	cont     *daTrie // tokens with the prefix, prefix removed
	unk      int32
	unkName  string
	maxChars int
	size     int

	namesOnce sync.Once
	names     []string // id -> token, built on first use
}

func newWordPiece(vocab map[string]int32, unk, prefix string, maxChars int) (*wordPiece, error) {
	wp := &wordPiece{vocab: vocab, unkName: unk, maxChars: maxChars, unk: -1}
	var sk, ck []string
	var si, ci []int32
	for tok, id := range vocab {
		if id < 0 {
			return nil, fmt.Errorf("token %q has negative id %d", tok, id)
		}
		if int(id)+1 > wp.size {
			wp.size = int(id) + 1
		}
		sk, si = append(sk, tok), append(si, id)
		if prefix != "" && len(tok) > len(prefix) && tok[:len(prefix)] == prefix {
			ck, ci = append(ck, tok[len(prefix):]), append(ci, id)
		}
	}
	if prefix == "" {
		ck, ci = sk, si
	}
	wp.start, wp.cont = newDATrie(buildTrie(sk, si)), newDATrie(buildTrie(ck, ci))
	if id, ok := vocab[unk]; ok {
		wp.unk = id
	}
	return wp, nil
}

func (w *wordPiece) kind() string   { return "wordpiece" }
func (w *wordPiece) vocabSize() int { return w.size }
func (w *wordPiece) idToken(id int32) (string, bool) {
	w.namesOnce.Do(func() {
		w.names = make([]string, w.size)
		for tok, i := range w.vocab {
			if w.names[i] == "" || tok < w.names[i] {
				w.names[i] = tok
			}
		}
	})
	if id < 0 || int(id) >= len(w.names) || w.names[id] == "" {
		return "", false
	}
	return w.names[id], true
}

func (w *wordPiece) tokenID(tok string) (int32, bool) {
	id, ok := w.vocab[tok]
	return id, ok
}

func (w *wordPiece) tokenize(dst []int32, word []byte, _ *scratch) ([]int32, error) {
	if utf8.RuneCount(word) > w.maxChars {
		return w.unknown(dst)
	}
	mark := len(dst)
	trie := w.start
	for pos := 0; pos < len(word); {
		id, n := trie.longestPrefix(word[pos:])
		if id < 0 {
			return w.unknown(dst[:mark])
		}
		dst = append(dst, id)
		pos += n
		trie = w.cont
	}
	return dst, nil
}

func (w *wordPiece) unknown(dst []int32) ([]int32, error) {
	if w.unk < 0 {
		return dst, fmt.Errorf("tokenizer: WordPiece: unk token %q is not in the vocabulary", w.unkName)
	}
	return append(dst, w.unk), nil
}

// unigram is tokenizers' Unigram model: the segmentation with the highest
// sum of piece log-probabilities (Viterbi), unknown characters scored at
// the lowest piece score minus 10 and fused into one unk.
type unigram struct {
	pieces     []string
	scores     []float64
	vocab      map[string]int32
	trie       *daTrie
	unk        int32 // -1: none
	unkScore   float64
	byteIDs    [256]int32 // <0xXX> pieces for byte_fallback, -1 if absent
	byteFallbk bool
}

// unkPenalty is tokenizers' K_UNK_PENALTY.
const unkPenalty = 10.0

func newUnigram(pieces []string, scores []float64, unk int32, byteFallback bool) (*unigram, error) {
	u := &unigram{pieces: pieces, scores: scores, unk: unk, byteFallbk: byteFallback, vocab: make(map[string]int32, len(pieces))}
	if unk >= 0 {
		if len(pieces) == 0 {
			return nil, fmt.Errorf("the vocabulary is empty but at least <unk> is needed")
		}
		if int(unk) >= len(pieces) {
			return nil, fmt.Errorf("unk_id %d is larger than the vocabulary (%d pieces)", unk, len(pieces))
		}
	}
	minScore := math.Inf(1)
	ids := make([]int32, len(pieces))
	for i, p := range pieces {
		u.vocab[p] = int32(i)
		ids[i] = int32(i)
		if scores[i] < minScore {
			minScore = scores[i]
		}
	}
	// A piece given twice keeps its last id (and that id's score).
	u.trie = newDATrie(buildTrie(pieces, ids))
	u.unkScore = minScore - unkPenalty
	for b := 0; b < 256; b++ {
		u.byteIDs[b] = -1
		if id, ok := u.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			u.byteIDs[b] = id
		}
	}
	return u, nil
}

func (u *unigram) kind() string   { return "unigram" }
func (u *unigram) vocabSize() int { return len(u.pieces) }
func (u *unigram) idToken(id int32) (string, bool) {
	if id < 0 || int(id) >= len(u.pieces) {
		return "", false
	}
	return u.pieces[id], true
}

func (u *unigram) tokenID(tok string) (int32, bool) {
	id, ok := u.vocab[tok]
	return id, ok
}

// viterbiNode is the best path ending at a byte position.
type viterbiNode struct {
	score float64
	start int32 // -1: not reached
	id    int32
}

func (u *unigram) tokenize(dst []int32, word []byte, sc *scratch) ([]int32, error) {
	n := len(word)
	if n == 0 {
		return dst, nil
	}
	if cap(sc.viterbi) < n+1 {
		sc.viterbi = make([]viterbiNode, n+1)
	}
	best := sc.viterbi[:n+1]
	for i := range best {
		best[i] = viterbiNode{start: -1}
	}
	// The same order and tie rule as encode_optimized: start positions left
	// to right, pieces from a start shortest first, a later candidate wins
	// only with a strictly higher score, the unk candidate last.
	for pos := 0; pos < n; {
		here := best[pos].score
		mblen := 1
		if word[pos] >= utf8.RuneSelf {
			_, mblen = utf8.DecodeRune(word[pos:])
		}
		single := false
		node := int32(0)
		for i := pos; i < n; i++ {
			node = u.trie.child(node, word[i])
			if node < 0 {
				break
			}
			id := u.trie.id[node]
			if id < 0 {
				continue
			}
			end := i + 1
			cand := u.scores[id] + here
			if t := &best[end]; t.start < 0 || cand > t.score {
				*t = viterbiNode{cand, int32(pos), id}
			}
			if end-pos == mblen {
				single = true
			}
		}
		if !single {
			if u.unk < 0 {
				return dst, fmt.Errorf("tokenizer: Unigram: unknown character %q and the model has no unk_id", word[pos:pos+mblen])
			}
			cand := u.unkScore + here
			if t := &best[pos+mblen]; t.start < 0 || cand > t.score {
				*t = viterbiNode{cand, int32(pos), u.unk}
			}
		}
		pos += mblen
	}
	// Walk back from the end, writing ids in reverse, then flip them.
	mark := len(dst)
	unkEnd := -1 // end of a pending run of unks being fused
	for end := n; end > 0; {
		t := best[end]
		if t.id == u.unk {
			if unkEnd < 0 {
				unkEnd = end
			}
		} else {
			if unkEnd >= 0 {
				dst = u.appendUnk(dst, word[end:unkEnd], true)
				unkEnd = -1
			}
			dst = append(dst, t.id)
		}
		end = int(t.start)
	}
	if unkEnd >= 0 {
		dst = u.appendUnk(dst, word[:unkEnd], true)
	}
	rev := dst[mark:]
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return dst, nil
}

// appendUnk appends the ids of a fused run of unknown characters: the
// piece itself if the vocabulary has it, else its bytes as <0xXX> pieces
// (byte_fallback, if every byte has one), else unk. reversed says dst is
// being written back to front.
func (u *unigram) appendUnk(dst []int32, s []byte, reversed bool) []int32 {
	if id, ok := u.vocab[unsafeString(s)]; ok {
		return append(dst, id)
	}
	if u.byteFallbk {
		all := true
		for _, b := range s {
			if u.byteIDs[b] < 0 {
				all = false
				break
			}
		}
		if all {
			if reversed {
				for i := len(s) - 1; i >= 0; i-- {
					dst = append(dst, u.byteIDs[s[i]])
				}
			} else {
				for _, b := range s {
					dst = append(dst, u.byteIDs[b])
				}
			}
			return dst
		}
	}
	return append(dst, u.unk)
}
