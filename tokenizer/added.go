package tokenizer

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// addedToken is one entry of tokenizer.json's added_tokens.
type addedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// matcher finds added tokens in a text with leftmost-longest semantics, as
// tokenizers' Aho-Corasick automaton (MatchKind::LeftmostLongest) does.
// Added tokens are few, so a first-byte filter and a prefix test per
// candidate beat an automaton in practice.
type matcher struct {
	tokens []matchToken
	first  [256][]int // first byte -> indices into tokens, longest first
}

type matchToken struct {
	pattern string
	tok     addedToken
}

// addedVocab holds the two matchers of tokenizers' AddedVocabulary: raw
// matches tokens with normalized=false on the original text, norm matches
// tokens with normalized=true on the normalised text.
type addedVocab struct {
	raw, norm matcher
}

// segment is a piece of text: an added token (id >= 0) or text for the
// normal pipeline (id < 0), as byte offsets.
type segment struct {
	start, end int
	id         int32
}

func (m *matcher) add(pattern string, tok addedToken) {
	if pattern == "" {
		return
	}
	m.tokens = append(m.tokens, matchToken{pattern, tok})
}

func (m *matcher) build() {
	for i := range m.first {
		m.first[i] = nil
	}
	// Later entries with the same pattern replace earlier ones, as a map
	// keyed by content does in tokenizers.
	seen := map[string]int{}
	uniq := m.tokens[:0]
	for _, t := range m.tokens {
		if j, ok := seen[t.pattern]; ok {
			uniq[j] = t
			continue
		}
		seen[t.pattern] = len(uniq)
		uniq = append(uniq, t)
	}
	m.tokens = uniq
	for i, t := range m.tokens {
		b := t.pattern[0]
		m.first[b] = append(m.first[b], i)
	}
	for b := range m.first {
		l := m.first[b]
		sort.SliceStable(l, func(i, j int) bool { return len(m.tokens[l[i]].pattern) > len(m.tokens[l[j]].pattern) })
	}
}

// split appends to dst the segments of text: added tokens found by m and
// the text between them. Empty text segments are left out. It follows
// AddedVocabulary::find_matches, including single_word, lstrip and rstrip.
func (v *addedVocab) split(dst []segment, text string, m *matcher) []segment {
	if len(text) == 0 {
		return dst
	}
	if len(m.tokens) == 0 {
		return append(dst, segment{0, len(text), -1})
	}
	startOffset := 0
	i := 0
	for i < len(text) {
		cands := m.first[text[i]]
		if len(cands) == 0 {
			i++
			continue
		}
		found := -1
		for _, c := range cands {
			if strings.HasPrefix(text[i:], m.tokens[c].pattern) {
				found = c
				break
			}
		}
		if found < 0 {
			i++
			continue
		}
		mt := &m.tokens[found]
		start, stop := i, i+len(mt.pattern)
		// The automaton resumes after a match, even a discarded one.
		i = stop
		if mt.tok.SingleWord {
			startSpace := start == 0 || !endsWithWord(text[:start])
			stopSpace := stop == len(text) || !startsWithWord(text[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if mt.tok.LStrip {
			ns := leftmostSpaceAtEnd(text[:start])
			start = maxInt(ns, startOffset)
		}
		if mt.tok.RStrip {
			stop += rightmostSpaceAtStart(text[stop:])
			i = stop
		}
		if startOffset < start {
			dst = append(dst, segment{startOffset, start, -1})
		}
		dst = append(dst, segment{start, stop, mt.tok.ID})
		startOffset = stop
	}
	if startOffset < len(text) {
		dst = append(dst, segment{startOffset, len(text), -1})
	}
	return dst
}

// isWordChar is regex's Unicode \w: letters, marks, decimal digits,
// connector punctuation and the joiners.
func isWordChar(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) ||
		unicode.Is(unicode.Pc, r) || unicode.Is(unicode.Nl, r) || r == 0x200C || r == 0x200D
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return len(s) > 0 && isWordChar(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return len(s) > 0 && isWordChar(r)
}

// leftmostSpaceAtEnd is the start of the whitespace run that ends s.
func leftmostSpaceAtEnd(s string) int {
	i := len(s)
	for i > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:i])
		if !unicode.IsSpace(r) {
			break
		}
		i -= n
	}
	return i
}

// rightmostSpaceAtStart is the length of the whitespace run that starts s.
func rightmostSpaceAtStart(s string) int {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return i
}

// unsafeBytes views s as bytes without copying; callers never write to it.
func unsafeBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// unsafeString views b as a string without copying; b must not change
// while the string is in use.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
