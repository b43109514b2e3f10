package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// words is the output of pre-tokenisation: the bytes of all words in buf,
// and each word as a span of it.
type words struct {
	buf   []byte
	spans []span
}

type span struct {
	start, end int32
	// first: the word starts where the original text starts (tokenizers
	// checks offsets_original().0 == 0 for Metaspace's "first" scheme).
	first bool
}

func (w *words) reset() { w.buf, w.spans = w.buf[:0], w.spans[:0] }

func (w *words) word(i int) []byte { s := w.spans[i]; return w.buf[s.start:s.end] }

// addPiece copies piece into buf and returns its offset.
func (w *words) addPiece(piece []byte) int {
	off := len(w.buf)
	w.buf = append(w.buf, piece...)
	return off
}

func (w *words) emit(start, end int, first bool) {
	if end > start {
		w.spans = append(w.spans, span{int32(start), int32(end), first})
	}
}

// preTokenizer splits a normalised piece into words, appending them to out.
// first says the piece starts at the start of the original text.
type preTokenizer interface {
	split(out *words, piece []byte, first bool, sc *scratch)
}

// behavior is tokenizers' SplitDelimiterBehavior.
type behavior int

const (
	removed behavior = iota
	isolated
	mergedWithPrevious
	mergedWithNext
	contiguous
)

// splitRunes splits piece at every character for which delim is true,
// treating the delimiters as b says.
func splitRunes(out *words, piece []byte, first bool, delim func(rune) bool, b behavior) {
	off := out.addPiece(piece)
	emit := func(s, e int) { out.emit(off+s, off+e, first && s == 0) }
	start := 0 // start of the pending piece
	prevDelim := false
	for i := 0; i < len(piece); {
		r, n := rune(piece[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(piece[i:])
		}
		d := delim(r)
		if d {
			switch b {
			case removed:
				emit(start, i)
				start = i + n
			case isolated:
				emit(start, i)
				emit(i, i+n)
				start = i + n
			case mergedWithPrevious:
				emit(start, i+n)
				start = i + n
			case mergedWithNext:
				emit(start, i)
				start = i
			case contiguous:
				if !prevDelim {
					emit(start, i)
					start = i
				}
			}
		} else if b == contiguous && prevDelim {
			emit(start, i)
			start = i
		}
		prevDelim = d
		i += n
	}
	emit(start, len(piece))
}

func isSpaceRune(r rune) bool { return charClass(r)&clsWhitespace != 0 }
func isPunctRune(r rune) bool { return charClass(r)&clsPunct != 0 }

// bertPreTokenizer splits on whitespace (dropped) and punctuation (a word of
// its own), as tokenizers' BertPreTokenizer.
type bertPreTokenizer struct{}

func (bertPreTokenizer) split(out *words, piece []byte, first bool, _ *scratch) {
	off := out.addPiece(piece)
	start := 0
	for i := 0; i < len(piece); {
		r, n := rune(piece[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(piece[i:])
		}
		cls := charClass(r)
		if cls&clsWhitespace != 0 {
			out.emit(off+start, off+i, first && start == 0)
			start = i + n
		} else if cls&clsPunct != 0 {
			out.emit(off+start, off+i, first && start == 0)
			out.emit(off+i, off+i+n, first && i == 0)
			start = i + n
		}
		i += n
	}
	out.emit(off+start, off+len(piece), first && start == 0)
}

// whitespaceSplit splits on whitespace, dropping it.
type whitespaceSplit struct{}

func (whitespaceSplit) split(out *words, piece []byte, first bool, _ *scratch) {
	splitRunes(out, piece, first, isSpaceRune, removed)
}

// whitespacePre is tokenizers' Whitespace: the regex \w+|[^\w\s]+, so
// runs of word characters and runs of other non-space characters.
type whitespacePre struct{}

func (whitespacePre) split(out *words, piece []byte, first bool, _ *scratch) {
	off := out.addPiece(piece)
	const none, word, other = 0, 1, 2
	start, kind := 0, none
	for i := 0; i < len(piece); {
		r, n := utf8.DecodeRune(piece[i:])
		k := other
		if isWordChar(r) {
			k = word
		} else if unicode.IsSpace(r) {
			k = none
		}
		if k != kind {
			if kind != none {
				out.emit(off+start, off+i, first && start == 0)
			}
			start, kind = i, k
		}
		i += n
	}
	if kind != none {
		out.emit(off+start, off+len(piece), first && start == 0)
	}
}

// punctuationPre is tokenizers' Punctuation pre-tokenizer.
type punctuationPre struct{ b behavior }

func (p punctuationPre) split(out *words, piece []byte, first bool, _ *scratch) {
	splitRunes(out, piece, first, isPunctRune, p.b)
}

// digitsPre is tokenizers' Digits: digits split off, one by one or as runs.
type digitsPre struct{ individual bool }

func (d digitsPre) split(out *words, piece []byte, first bool, _ *scratch) {
	b := contiguous
	if d.individual {
		b = isolated
	}
	splitRunes(out, piece, first, func(r rune) bool { return unicode.IsDigit(r) }, b)
}

// prependScheme is Metaspace's prepend_scheme.
type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst
	prependNever
)

// metaspace is tokenizers' Metaspace: spaces become the replacement
// character (▁), which is prepended to the piece as the scheme says, and the
// piece is split before each replacement character.
type metaspace struct {
	repl       string
	prepend    prependScheme
	splitWords bool
}

func (m *metaspace) split(out *words, piece []byte, first bool, _ *scratch) {
	off := len(out.buf)
	startsWithRepl := len(piece) >= len(m.repl) && string(piece[:len(m.repl)]) == m.repl || len(piece) > 0 && piece[0] == ' '
	if !startsWithRepl && (m.prepend == prependAlways || m.prepend == prependFirst && first) {
		out.buf = append(out.buf, m.repl...)
	}
	for _, c := range piece {
		if c == ' ' {
			out.buf = append(out.buf, m.repl...)
		} else {
			out.buf = append(out.buf, c)
		}
	}
	end := len(out.buf)
	if !m.splitWords {
		out.emit(off, end, first)
		return
	}
	// MergedWithNext on the replacement character.
	start := off
	for i := off; i < end; {
		if i > start && i+len(m.repl) <= end && string(out.buf[i:i+len(m.repl)]) == m.repl {
			out.emit(start, i, first && start == off)
			start = i
		}
		_, n := utf8.DecodeRune(out.buf[i:])
		i += n
	}
	out.emit(start, end, first && start == off)
}

// seqPreTokenizer runs pre-tokenizers in order, each on every word of the
// previous one (tokenizers' Sequence).
type seqPreTokenizer []preTokenizer

func (s seqPreTokenizer) split(out *words, piece []byte, first bool, sc *scratch) {
	if len(s) == 0 {
		out.emit(out.addPiece(piece), len(out.buf), first)
		return
	}
	if len(s) == 1 {
		s[0].split(out, piece, first, sc)
		return
	}
	cur := sc.getWords()
	s[0].split(cur, piece, first, sc)
	for k, p := range s[1:] {
		next := out
		if k < len(s)-2 {
			next = sc.getWords()
		}
		for i := range cur.spans {
			p.split(next, cur.word(i), cur.spans[i].first, sc)
		}
		sc.putWords(cur)
		cur = next
	}
}
