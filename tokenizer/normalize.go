package tokenizer

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites a piece of text. normalize appends the result for src
// to dst (which has length 0) and returns it; sc lends temporary buffers.
type normalizer interface {
	normalize(dst []byte, src string, sc *scratch) []byte
}

// seqNormalizer runs normalizers in order (tokenizers' Sequence).
type seqNormalizer []normalizer

func (s seqNormalizer) normalize(dst []byte, src string, sc *scratch) []byte {
	if len(s) == 0 {
		return append(dst, src...)
	}
	cur := sc.getBuf()
	cur = s[0].normalize(cur, src, sc)
	for _, n := range s[1:] {
		next := sc.getBuf()
		next = n.normalize(next, unsafeString(cur), sc)
		sc.putBuf(cur)
		cur = next
	}
	dst = append(dst, cur...)
	sc.putBuf(cur)
	return dst
}

// Character classes of BertNormalizer and BertPreTokenizer, precomputed for
// the Basic Multilingual Plane because they are asked for every character.
const (
	clsControl    = 1 << iota // removed by clean_text
	clsWhitespace             // becomes ' ' in clean_text, splits words
	clsChinese                // padded with spaces by handle_chinese_chars
	clsPunct                  // a word of its own in BertPreTokenizer
	clsMn                     // nonspacing mark, removed by strip_accents
	clsNFDStable              // its own NFD and a starter: NFD can be skipped
)

var bmpClass [0x10000]uint8

func init() {
	for r := rune(0); r < 0x10000; r++ {
		bmpClass[r] = computeClass(r)
	}
}

func charClass(r rune) uint8 {
	if r < 0x10000 {
		return bmpClass[r]
	}
	return computeClass(r)
}

func computeClass(r rune) uint8 {
	var c uint8
	// Rust's char::is_whitespace is the White_Space property, as is Go's
	// unicode.IsSpace. The other classes are tokenizers' own (see
	// hf_unicode.go): its Unicode tables are not Go's.
	if unicode.IsSpace(r) {
		c |= clsWhitespace
	}
	if r != '\t' && r != '\n' && r != '\r' && unicode.Is(hfControl, r) {
		c |= clsControl
	}
	if isChinese(r) {
		c |= clsChinese
	}
	if unicode.Is(hfPunct, r) {
		c |= clsPunct
	}
	if unicode.Is(hfMn, r) {
		c |= clsMn
	}
	// Hangul syllables decompose algorithmically, which Properties does
	// not report.
	if r < 0x10000 && !(r >= 0xAC00 && r <= 0xD7A3) {
		p := norm.NFD.PropertiesString(string(r))
		if p.Decomposition() == nil && p.CCC() == 0 {
			c |= clsNFDStable
		}
	}
	return c
}

// isChinese is BertNormalizer's CJK block test (not all CJK scripts:
// Hangul, Hiragana and Katakana are written with spaces).
func isChinese(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF ||
		r >= 0x3400 && r <= 0x4DBF ||
		r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F ||
		r >= 0x2B740 && r <= 0x2B81F ||
		r >= 0x2B920 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF ||
		r >= 0x2F800 && r <= 0x2FA1F
}

// bertNormalizer is tokenizers' BertNormalizer.
type bertNormalizer struct {
	cleanText, chineseChars, stripAccents, lowercase bool
}

func (b *bertNormalizer) normalize(dst []byte, src string, sc *scratch) []byte {
	if isASCII(src) {
		// Nothing in ASCII decomposes or is Chinese: one pass does it all.
		for i := 0; i < len(src); i++ {
			c := src[i]
			if b.cleanText {
				// Tab, LF and CR are whitespace; every other C0 control
				// (VT and FF included: filtering runs before the
				// whitespace mapping) and DEL are removed.
				if c == '\t' || c == '\n' || c == '\r' {
					c = ' '
				} else if c < 0x20 || c == 0x7f {
					continue
				}
			}
			if b.lowercase && c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
		}
		return dst
	}
	// clean_text and handle_chinese_chars, character by character.
	step := sc.getBuf()
	stable := true // every character is its own NFD, a starter
	for _, r := range src {
		cls := charClass(r)
		stable = stable && cls&clsNFDStable != 0
		if b.cleanText {
			if r == 0 || r == 0xFFFD || cls&clsControl != 0 {
				continue
			}
			if cls&clsWhitespace != 0 {
				r = ' '
			}
		}
		if b.chineseChars && cls&clsChinese != 0 {
			step = append(step, ' ')
			step = utf8.AppendRune(step, r)
			step = append(step, ' ')
			continue
		}
		step = utf8.AppendRune(step, r)
	}
	text := step
	var nfd []byte
	if b.stripAccents && !stable {
		nfd = sc.getBuf()
		nfd = unicodeNormalizer{norm.NFD}.normalize(nfd, unsafeString(step), sc)
		text = nfd
	}
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRune(text[i:])
		i += n
		if b.stripAccents && charClass(r)&clsMn != 0 {
			continue
		}
		if b.lowercase {
			dst = appendLower(dst, r)
		} else {
			dst = utf8.AppendRune(dst, r)
		}
	}
	if nfd != nil {
		sc.putBuf(nfd)
	}
	sc.putBuf(step)
	return dst
}

// appendLower appends tokenizers' lowercase of r: Rust's char::to_lowercase,
// the full mapping (U+0130 İ becomes two characters), from hf_unicode.go.
func appendLower(dst []byte, r rune) []byte {
	if r < utf8.RuneSelf {
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(dst, byte(r))
	}
	i, found := slices.BinarySearchFunc(hfLower, r, func(e struct {
		r   rune
		low string
	}, r rune) int {
		return int(e.r - r)
	})
	if found {
		return append(dst, hfLower[i].low...)
	}
	return utf8.AppendRune(dst, r)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowercaseNormalizer is tokenizers' Lowercase.
type lowercaseNormalizer struct{}

func (lowercaseNormalizer) normalize(dst []byte, src string, _ *scratch) []byte {
	for _, r := range src {
		dst = appendLower(dst, r)
	}
	return dst
}

// unicodeNormalizer is NFC, NFD, NFKC or NFKD as tokenizers applies them:
// its Unicode tables are older than x/text's, so the characters it does
// not know (hfInertCanonical, hfInertCompat: new combining marks and
// decompositions) stay as they are, and nothing reorders or composes
// across them. The text between them is normalised by x/text.
type unicodeNormalizer struct{ form norm.Form }

// inertMin is the first character of the inert tables (both start with
// combining marks far above ASCII and Latin).
var inertMin = min(rune(hfInertCanonical.R16[0].Lo), rune(hfInertCompat.R16[0].Lo))

func (u unicodeNormalizer) normalize(dst []byte, src string, sc *scratch) []byte {
	inert := hfInertCanonical
	if u.form == norm.NFKC || u.form == norm.NFKD {
		inert = hfInertCompat
	}
	start, found := 0, false
	for i, r := range src {
		if r < inertMin || !unicode.Is(inert, r) {
			continue
		}
		dst = u.appendSegment(dst, src[start:i], sc)
		dst = utf8.AppendRune(dst, r)
		start, found = i+utf8.RuneLen(r), true
	}
	if !found {
		return u.form.AppendString(dst, src)
	}
	return u.appendSegment(dst, src[start:], sc)
}

// appendSegment appends the normal form of s on its own: x/text's Append
// would normalise across the end of dst.
func (u unicodeNormalizer) appendSegment(dst []byte, s string, sc *scratch) []byte {
	if len(dst) == 0 {
		return u.form.AppendString(dst, s)
	}
	tmp := sc.getBuf()
	tmp = u.form.AppendString(tmp, s)
	dst = append(dst, tmp...)
	sc.putBuf(tmp)
	return dst
}

// stripAccentsNormalizer is tokenizers' StripAccents: it removes combining
// marks (Mn, Mc, Me) and leaves everything else.
type stripAccentsNormalizer struct{}

func (stripAccentsNormalizer) normalize(dst []byte, src string, _ *scratch) []byte {
	for _, r := range src {
		if unicode.IsMark(r) {
			continue
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// stripNormalizer is tokenizers' Strip: whitespace off either end.
type stripNormalizer struct{ left, right bool }

func (s stripNormalizer) normalize(dst []byte, src string, _ *scratch) []byte {
	if s.left {
		src = strings.TrimLeftFunc(src, unicode.IsSpace)
	}
	if s.right {
		src = strings.TrimRightFunc(src, unicode.IsSpace)
	}
	return append(dst, src...)
}

// replaceNormalizer is tokenizers' Replace: every match of a literal or a
// regular expression becomes content.
type replaceNormalizer struct {
	literal string         // when re is nil
	re      *regexp.Regexp // a Regex pattern
	content string
}

func (p *replaceNormalizer) normalize(dst []byte, src string, _ *scratch) []byte {
	if p.re == nil {
		for {
			i := strings.Index(src, p.literal)
			if i < 0 {
				return append(dst, src...)
			}
			dst = append(dst, src[:i]...)
			dst = append(dst, p.content...)
			src = src[i+len(p.literal):]
		}
	}
	last := 0
	for _, m := range p.re.FindAllStringIndex(src, -1) {
		dst = append(dst, src[last:m[0]]...)
		dst = append(dst, p.content...)
		last = m[1]
	}
	return append(dst, src[last:]...)
}

// prependNormalizer is tokenizers' Prepend: a prefix on non-empty text.
type prependNormalizer struct{ prefix string }

func (p prependNormalizer) normalize(dst []byte, src string, _ *scratch) []byte {
	if src == "" {
		return dst
	}
	return append(append(dst, p.prefix...), src...)
}

// nmtNormalizer is tokenizers' Nmt: SentencePiece's control-character
// removal and whitespace mapping.
type nmtNormalizer struct{}

func (nmtNormalizer) normalize(dst []byte, src string, _ *scratch) []byte {
	for _, r := range src {
		switch {
		case r >= 0x01 && r <= 0x08, r == 0x0B, r >= 0x0E && r <= 0x1F, r == 0x7F, r == 0x8F, r == 0x9F:
			continue
		case r == 0x09, r == 0x0A, r == 0x0C, r == 0x0D, r == 0x1680, r >= 0x200B && r <= 0x200F,
			r == 0x2028, r == 0x2029, r == 0x2581, r == 0xFEFF, r == 0xFFFD:
			r = ' '
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}
