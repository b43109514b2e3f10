package tokenizer

import (
	"unicode/utf8"
)

// Byte-level BPE (GPT-2, RoBERTa, Qwen2/Qwen3, ModernBERT) works on bytes
// written as printable characters: each byte of the UTF-8 text becomes one
// character of GPT-2's bytes_to_unicode table, so the model's vocabulary
// never sees a space or a control character and every text is coverable.
// tokenizers' pre_tokenizers/byte_level.rs builds the same table.

var (
	// byteChar is the UTF-8 of the character that stands for each byte.
	byteChar [256]string
	// charByte maps those characters (all below U+0144) back to their byte;
	// -1 for characters that stand for no byte.
	charByte [0x144]int16
)

func init() {
	for i := range charByte {
		charByte[i] = -1
	}
	n := 0
	for b := 0; b < 256; b++ {
		r := rune(b)
		// The printable Latin-1 bytes stand for themselves; the others
		// (controls, space, NBSP, soft hyphen) take U+0100 onwards in order.
		if !(b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE) {
			r = rune(256 + n)
			n++
		}
		byteChar[b] = string(r)
		charByte[r] = int16(b)
	}
}

// appendByteLevel appends the byte-level characters of s.
func appendByteLevel(dst, s []byte) []byte {
	for _, b := range s {
		if b >= '!' && b <= '~' {
			dst = append(dst, b)
			continue
		}
		dst = append(dst, byteChar[b]...)
	}
	return dst
}

// byteLevelPre is tokenizers' ByteLevel pre-tokenizer: a space before each
// piece (add_prefix_space, unless it starts with one), GPT-2's split
// (use_regex), then every byte as its character.
type byteLevelPre struct {
	addPrefixSpace bool
	useRegex       bool
}

func (p *byteLevelPre) split(out *words, piece []byte, first bool, sc *scratch) {
	src := piece
	var tmp []byte
	if p.addPrefixSpace && len(piece) > 0 && piece[0] != ' ' {
		tmp = sc.getBuf()
		tmp = append(append(tmp, ' '), piece...)
		src = tmp
	}
	emit := func(s, e int) {
		off := len(out.buf)
		out.buf = appendByteLevel(out.buf, src[s:e])
		out.emit(off, len(out.buf), first && s == 0)
	}
	if p.useRegex {
		forEachPiece(gpt2Pattern, src, func(s, e int, _ bool) { emit(s, e) })
	} else {
		emit(0, len(src))
	}
	if tmp != nil {
		sc.putBuf(tmp)
	}
}

// byteLevelDecode appends the text of byte-level tokens: each character
// back to its byte, a token with a character outside the table as its own
// UTF-8 (tokenizers' ByteLevel decoder). The caller makes the result
// valid UTF-8.
func byteLevelDecode(dst []byte, tok string) []byte {
	mark := len(dst)
	for _, r := range tok {
		if r >= 0 && int(r) < len(charByte) && charByte[r] >= 0 {
			dst = append(dst, byte(charByte[r]))
			continue
		}
		return append(dst[:mark], tok...)
	}
	return dst
}

// appendLossy appends s with each invalid UTF-8 sequence replaced by
// U+FFFD as Rust's String::from_utf8_lossy does: one replacement per
// maximal prefix of a valid sequence (so a truncated three-byte character
// is one U+FFFD, not two).
func appendLossy(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			dst = append(dst, s[i])
			i++
			continue
		}
		if r, n := utf8.DecodeRune(s[i:]); r != utf8.RuneError || n > 1 {
			dst = append(dst, s[i:i+n]...)
			i += n
			continue
		}
		i += invalidPrefix(s[i:])
		dst = append(dst, "\uFFFD"...)
	}
	return dst
}

// invalidPrefix is the length of the maximal prefix of s that could start
// a valid UTF-8 sequence, at least 1 (the Unicode "maximal subpart").
func invalidPrefix(s []byte) int {
	b := s[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF) // the allowed range of the second byte
	switch {
	case b >= 0xC2 && b <= 0xDF:
		need = 1
	case b == 0xE0:
		need, lo = 2, 0xA0
	case b >= 0xE1 && b <= 0xEC, b == 0xEE, b == 0xEF:
		need = 2
	case b == 0xED:
		need, hi = 2, 0x9F
	case b == 0xF0:
		need, lo = 3, 0x90
	case b >= 0xF1 && b <= 0xF3:
		need = 3
	case b == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(s); k++ {
		c := s[n]
		if k == 0 && (c < lo || c > hi) || k > 0 && (c < 0x80 || c > 0xBF) {
			break
		}
		n++
	}
	return n
}
