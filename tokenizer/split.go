package tokenizer

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// splitPattern finds the matches of a Split pre-tokenizer's pattern in a
// piece, left to right, as tokenizers' find_iter does (Oniguruma's
// leftmost-first matching; an empty match right after a match is skipped).
type splitPattern interface {
	matches(s []byte, yield func(start, end int))
}

// forEachPiece cuts s into the matches of p and the text between them, in
// order: tokenizers' Pattern::find_matches. Empty s gives nothing.
func forEachPiece(p splitPattern, s []byte, f func(start, end int, isMatch bool)) {
	prev := 0
	p.matches(s, func(start, end int) {
		if prev != start {
			f(prev, start, false)
		}
		f(start, end, true)
		prev = end
	})
	if prev != len(s) {
		f(prev, len(s), false)
	}
}

// splitPre is tokenizers' Split pre-tokenizer: the pieces of the pattern's
// matches (or, with invert, of the text between them) treated as behavior
// says.
type splitPre struct {
	pattern splitPattern
	b       behavior
	invert  bool
}

// piece is a span of a split with its match flag.
type piece struct {
	start, end int
	match      bool
}

func (p *splitPre) split(out *words, src []byte, first bool, sc *scratch) {
	ps := sc.pieces[:0]
	forEachPiece(p.pattern, src, func(s, e int, m bool) {
		ps = append(ps, piece{s, e, m != p.invert})
	})
	// NormalizedString::split: which pieces are kept, merged or removed.
	var kept []piece
	switch p.b {
	case isolated:
		kept = ps
	case removed:
		kept = ps[:0]
		for _, x := range ps {
			if !x.match {
				kept = append(kept, x)
			}
		}
	case contiguous:
		kept = ps[:0]
		prev := false
		for _, x := range ps {
			if x.match == prev && len(kept) > 0 {
				kept[len(kept)-1].end = x.end
			} else {
				kept = append(kept, x)
			}
			prev = x.match
		}
	case mergedWithPrevious:
		kept = ps[:0]
		prev := false
		for _, x := range ps {
			if x.match && !prev && len(kept) > 0 {
				kept[len(kept)-1].end = x.end
			} else {
				kept = append(kept, x)
			}
			prev = x.match
		}
	case mergedWithNext:
		// The same fold from the right.
		n := len(ps)
		w := n // kept pieces are written to ps[w:], right to left
		prev := false
		for i := n - 1; i >= 0; i-- {
			x := ps[i]
			if x.match && !prev && w < n {
				ps[w].start = x.start
			} else {
				w--
				ps[w] = x
			}
			prev = x.match
		}
		kept = ps[w:]
	}
	off := out.addPiece(src)
	for _, x := range kept {
		out.emit(off+x.start, off+x.end, first && x.start == 0)
	}
	sc.pieces = ps[:0]
}

// newSplitPattern compiles a Split pattern. The three patterns of the
// byte-level BPE models (GPT-2's, Qwen2's, Llama 3's) use a look-ahead,
// \s+(?!\S), which Go's regexp lacks: they are matched by hand
// (handPattern). Other patterns go to Go's regexp, rewritten where the two
// differ (translatePattern); look-around is refused.
func newSplitPattern(regex string, literal bool) (splitPattern, error) {
	if literal {
		return goPattern{regexp.MustCompile(regexp.QuoteMeta(regex))}, nil
	}
	if hp, ok := handPatterns[regex]; ok {
		return hp, nil
	}
	for _, la := range []string{"(?=", "(?!", "(?<=", "(?<!"} {
		if strings.Contains(regex, la) {
			return nil, fmt.Errorf("pattern %q: look-around %q is not supported (Go's regexp has none; only the GPT-2, Qwen2 and Llama 3 patterns are matched by hand)", regex, la)
		}
	}
	goRegex, err := translatePattern(regex)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", regex, err)
	}
	re, err := regexp.Compile(goRegex)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", regex, err)
	}
	return goPattern{re}, nil
}

// translatePattern rewrites an Oniguruma pattern for Go's regexp where the
// two read the same text differently: \s, \p{L} and \p{N} (and \S, \P{L},
// \P{N} outside brackets) become explicit classes of Oniguruma's own
// characters (hf_unicode.go), since Go's \s is ASCII and its \p tables are
// an older Unicode. The Perl classes \d \w \b, whose Unicode meaning Go
// lacks, and \Q quoting are refused; the rest is passed as it is (Go's
// regexp refuses what it cannot run: backreferences, possessive and atomic
// groups).
func translatePattern(re string) (string, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c == '\\' && i+1 < len(re):
			n := re[i+1]
			var table *unicode.RangeTable
			neg, skip := false, 2
			switch n {
			case 's', 'S':
				table, neg = hfSpace, n == 'S'
			case 'p', 'P':
				name, size := "", 0
				if i+2 < len(re) && re[i+2] == '{' {
					if end := strings.IndexByte(re[i+2:], '}'); end > 0 {
						name, size = re[i+3:i+2+end], end+1
					}
				} else {
					// Oniguruma's syntax reads \pN as the text "pN".
					return "", fmt.Errorf(`\%c without braces is not supported (write \%c{...})`, n, n)
				}
				switch name {
				case "L":
					table = hfLetter
				case "N":
					table = hfNumber
				}
				neg, skip = n == 'P', 2+size
			case 'd', 'D', 'w', 'W', 'b', 'B':
				return "", fmt.Errorf(`\%c is Unicode in tokenizers (Oniguruma) and ASCII in Go's regexp; not supported`, n)
			case 'Q':
				return "", errors.New(`\Q quoting is not supported`)
			}
			if table == nil {
				b.WriteString(re[i : i+skip])
				i += skip - 1
				continue
			}
			switch {
			case inClass && neg:
				return "", fmt.Errorf(`%s inside brackets is not supported`, re[i:i+skip])
			case inClass:
				writeRanges(&b, table)
			default:
				b.WriteByte('[')
				if neg {
					b.WriteByte('^')
				}
				writeRanges(&b, table)
				b.WriteByte(']')
			}
			i += skip - 1
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			if i+1 < len(re) && re[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(re) && re[i+1] == ']' { // a leading ] is literal
				b.WriteByte(']')
				i++
			}
		case c == '[' && inClass && i+1 < len(re) && re[i+1] == ':': // [:alpha:]
			end := strings.Index(re[i:], ":]")
			if end < 0 {
				return "", errors.New("unterminated [: class")
			}
			b.WriteString(re[i : i+end+2])
			i += end + 1
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// writeRanges writes the ranges of t as the inside of a bracket class.
func writeRanges(b *strings.Builder, t *unicode.RangeTable) {
	w := func(lo, hi, stride uint32) {
		for ; lo <= hi; lo += stride {
			end := lo
			if stride == 1 {
				end = hi
			}
			fmt.Fprintf(b, `\x{%x}`, lo)
			if end > lo {
				fmt.Fprintf(b, `-\x{%x}`, end)
			}
			if stride == 1 {
				return
			}
		}
	}
	for _, r := range t.R16 {
		w(uint32(r.Lo), uint32(r.Hi), uint32(r.Stride))
	}
	for _, r := range t.R32 {
		w(r.Lo, r.Hi, r.Stride)
	}
}

// goPattern is a pattern Go's regexp matches as Oniguruma does: the same
// leftmost-first alternation and empty-match rule. (Its \p{...} classes
// other than \p{L} and \p{N}, which translatePattern spells out, are Go's
// Unicode 15 tables, not Oniguruma's 16.)
type goPattern struct{ re *regexp.Regexp }

func (g goPattern) matches(s []byte, yield func(start, end int)) {
	for _, m := range g.re.FindAllIndex(s, -1) {
		yield(m[0], m[1])
	}
}

// The known patterns, as tokenizer.json spells them.
const (
	gpt2Regex = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// tiktoken's spelling of the same pattern (converted tokenizer.json files).
	gpt2TiktokenRegex = `'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	qwen2Regex        = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	llama3Regex       = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

var (
	gpt2Pattern  = &handPattern{name: "gpt2"}
	handPatterns = map[string]*handPattern{
		gpt2Regex:         gpt2Pattern,
		gpt2TiktokenRegex: gpt2Pattern,
		qwen2Regex:        {name: "qwen2", qwen: true, foldCase: true, maxDigits: 1},
		llama3Regex:       {name: "llama3", qwen: true, foldCase: true, maxDigits: 3},
	}
)

// handPattern matches one of the known patterns. Every character is a
// letter (\p{L}), a number (\p{N}), whitespace (\s) or other, and each
// pattern has an alternative for each, so the matches tile the text.
//
// GPT-2 (case-sensitive contractions, digit runs of any length):
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Qwen2 (maxDigits 1) and Llama 3 (maxDigits 3):
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
type handPattern struct {
	name      string
	qwen      bool // the Qwen2 / Llama 3 form
	foldCase  bool // (?i:) contractions
	maxDigits int  // Qwen2 / Llama 3: the most digits in a number piece
}

// Character classes of the patterns.
const (
	rxLetter = 1 << iota
	rxNumber
	rxSpace
)

var (
	rxOnce  sync.Once
	rxTable []uint8 // classes of the BMP
)

func rxClass(r rune) uint8 {
	if r < 0x10000 {
		return rxTable[r]
	}
	return rxCompute(r)
}

func rxCompute(r rune) uint8 {
	var c uint8
	if unicode.Is(hfLetter, r) {
		c |= rxLetter
	}
	if unicode.Is(hfNumber, r) {
		c |= rxNumber
	}
	if unicode.Is(hfSpace, r) {
		c |= rxSpace
	}
	return c
}

func buildRxTable() {
	t := make([]uint8, 0x10000)
	for r := range t {
		t[r] = rxCompute(rune(r))
	}
	rxTable = t
}

// at decodes the character at i: its class and size (0 at the end).
func rxAt(s []byte, i int) (rune, uint8, int) {
	if i >= len(s) {
		return -1, 0, 0
	}
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), rxTable[c], 1
	}
	r, n := utf8.DecodeRune(s[i:])
	return r, rxClass(r), n
}

func (p *handPattern) matches(s []byte, yield func(start, end int)) {
	rxOnce.Do(buildRxTable)
	for i := 0; i < len(s); {
		e := p.matchAt(s, i)
		yield(i, e)
		i = e
	}
}

// run returns the end of the run of characters from i whose class has a
// bit of want (or, with not, has none of the bits of want).
func rxRun(s []byte, i int, want uint8, not bool) int {
	for i < len(s) {
		_, c, n := rxAt(s, i)
		if (c&want != 0) == not {
			break
		}
		i += n
	}
	return i
}

// matchAt is the end of the match that starts at i (i < len(s)).
func (p *handPattern) matchAt(s []byte, i int) int {
	r, c, n := rxAt(s, i)
	if r == '\'' {
		if e := p.contraction(s, i+1); e > 0 {
			return e
		}
	}
	_, c2, n2 := rxAt(s, i+n)
	if p.qwen {
		// [^\r\n\p{L}\p{N}]?\p{L}+
		if c&rxLetter != 0 {
			return rxRun(s, i+n, rxLetter, false)
		}
		if r != '\r' && r != '\n' && c&rxNumber == 0 && c2&rxLetter != 0 {
			return rxRun(s, i+n+n2, rxLetter, false)
		}
		// \p{N}{1,max}
		if c&rxNumber != 0 {
			e := i + n
			for k := 1; k < p.maxDigits; k++ {
				_, cc, nn := rxAt(s, e)
				if cc&rxNumber == 0 {
					break
				}
				e += nn
			}
			return e
		}
		//  ?[^\s\p{L}\p{N}]+[\r\n]*
		if j := p.otherStart(s, i, r, c, n, c2); j >= 0 {
			e := rxRun(s, j, rxLetter|rxNumber|rxSpace, true)
			for e < len(s) && (s[e] == '\r' || s[e] == '\n') {
				e++
			}
			return e
		}
		// Only whitespace is left. \s*[\r\n]+: the run up to its last \r or \n.
		end := rxRun(s, i, rxSpace, false)
		for k := end - 1; k >= i; k-- {
			if s[k] == '\r' || s[k] == '\n' {
				return k + 1
			}
		}
		return spaceEnd(s, i, end)
	}
	//  ?\p{L}+ and  ?\p{N}+
	for _, cls := range []uint8{rxLetter, rxNumber} {
		if c&cls != 0 {
			return rxRun(s, i+n, cls, false)
		}
		if r == ' ' && c2&cls != 0 {
			return rxRun(s, i+n+n2, cls, false)
		}
	}
	//  ?[^\s\p{L}\p{N}]+
	if j := p.otherStart(s, i, r, c, n, c2); j >= 0 {
		return rxRun(s, j, rxLetter|rxNumber|rxSpace, true)
	}
	return spaceEnd(s, i, rxRun(s, i, rxSpace, false))
}

// otherStart is where [^\s\p{L}\p{N}]+ starts for " ?[^\s\p{L}\p{N}]+" at
// i, or -1 when that alternative does not match.
func (p *handPattern) otherStart(s []byte, i int, r rune, c uint8, n int, c2 uint8) int {
	const classes = rxLetter | rxNumber | rxSpace
	if r == ' ' && i+n < len(s) && c2&classes == 0 {
		return i + n
	}
	if c&classes == 0 {
		return i
	}
	return -1
}

// spaceEnd is \s+(?!\S)|\s+ for the whitespace run [i, end): the run
// without its last character when a non-space follows and the run has
// more than one character, else the whole run.
func spaceEnd(s []byte, i, end int) int {
	if end == len(s) {
		return end
	}
	_, n := utf8.DecodeLastRune(s[i:end])
	if end-n > i {
		return end - n
	}
	return end
}

// contraction is the end of 's|'t|'re|'ve|'m|'ll|'d after the apostrophe
// (j is the byte after it), or 0. With foldCase the letters match as
// Oniguruma's (?i) does: either case, and U+017F (long s) for s.
func (p *handPattern) contraction(s []byte, j int) int {
	low := func(k int) (byte, int) {
		if k >= len(s) {
			return 0, 0
		}
		b := s[k]
		if p.foldCase {
			if b >= 'A' && b <= 'Z' {
				return b + 'a' - 'A', 1
			}
			if b == 0xC5 && k+1 < len(s) && s[k+1] == 0xBF { // ſ
				return 's', 2
			}
		}
		return b, 1
	}
	a, n := low(j)
	switch a {
	case 's', 't', 'm', 'd':
		return j + n
	case 'r', 'v', 'l':
		want := byte('e')
		if a == 'l' {
			want = 'l'
		}
		if b, m := low(j + n); b == want && m == 1 {
			return j + n + 1
		}
	}
	return 0
}
