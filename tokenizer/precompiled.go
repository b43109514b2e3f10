package tokenizer

import (
	"encoding/binary"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// precompiled is SentencePiece's normaliser as stored in a model's
// precompiled_charsmap: a little-endian uint32 trie size in bytes, a
// double-array trie (darts-clone units) over UTF-8 byte strings, then a blob
// of NUL-terminated replacement strings that the trie's values point into.
type precompiled struct {
	units      []uint32
	normalized []byte
	ascii      [128]string // transform of each ASCII character, precomputed
	asciiHit   [128]bool
}

func newPrecompiled(charsmap []byte) (*precompiled, error) {
	if len(charsmap) < 4 {
		return nil, fmt.Errorf("charsmap of %d bytes has no trie size", len(charsmap))
	}
	size := binary.LittleEndian.Uint32(charsmap)
	if size%4 != 0 || uint64(size) > uint64(len(charsmap)-4) {
		return nil, fmt.Errorf("trie size %d does not fit the %d-byte charsmap", size, len(charsmap))
	}
	p := &precompiled{units: make([]uint32, size/4), normalized: charsmap[4+size:]}
	for i := range p.units {
		p.units[i] = binary.LittleEndian.Uint32(charsmap[4+4*i:])
	}
	if len(p.units) == 0 {
		return nil, fmt.Errorf("charsmap has an empty trie")
	}
	if !utf8.Valid(p.normalized) {
		return nil, fmt.Errorf("charsmap replacement strings are not valid UTF-8")
	}
	var one [1]byte
	for c := 0; c < 128; c++ {
		one[0] = byte(c)
		p.ascii[c], p.asciiHit[c] = p.transform(one[:])
	}
	return p, nil
}

// Double-array unit fields (darts-clone's layout).
func unitHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func unitValue(u uint32) uint32  { return u & (1<<31 - 1) }
func unitLabel(u uint32) uint32  { return u & (1<<31 | 0xFF) }
func unitOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// transform returns the replacement for the shortest prefix of key that the
// trie holds. The shortest, not the longest: spm_precompiled takes the
// first result of its common-prefix search, and tokenizers applies that to
// whole grapheme clusters, so for a cluster whose first character has an
// entry the rest of the cluster is dropped. We reproduce that.
func (p *precompiled) transform(key []byte) (string, bool) {
	units := p.units
	pos := unitOffset(units[0])
	for _, c := range key {
		if c == 0 {
			break
		}
		pos ^= uint32(c)
		if pos >= uint32(len(units)) {
			return "", false
		}
		u := units[pos]
		if unitLabel(u) != uint32(c) {
			return "", false
		}
		pos ^= unitOffset(u)
		if unitHasLeaf(u) {
			if pos >= uint32(len(units)) {
				return "", false
			}
			return p.at(unitValue(units[pos]))
		}
	}
	return "", false
}

// at is the NUL-terminated replacement string starting at index i.
func (p *precompiled) at(i uint32) (string, bool) {
	if uint64(i) > uint64(len(p.normalized)) {
		return "", false
	}
	s := p.normalized[i:]
	for j, b := range s {
		if b == 0 {
			return unsafeString(s[:j]), true
		}
	}
	return unsafeString(s), true
}

// normalize follows tokenizers' Precompiled normaliser: each grapheme
// cluster shorter than 6 bytes is looked up whole; otherwise (or when that
// finds nothing) each of its characters is looked up on its own, and
// characters without an entry stay as they are.
func (p *precompiled) normalize(dst []byte, src string, _ *scratch) []byte {
	simpleOnce.Do(buildSimple)
	state := -1
	for len(src) > 0 {
		// Two neighbouring simple characters are each a cluster of their
		// own (except CR LF); only the rest needs the segmenter.
		r, n := rune(src[0]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(src)
		}
		if isSimple(r) && r != '\r' {
			next := rune(-1)
			if n < len(src) {
				next = rune(src[n])
				if next >= utf8.RuneSelf {
					next, _ = utf8.DecodeRuneInString(src[n:])
				}
			}
			if next < 0 || isSimple(next) {
				dst = p.appendChar(dst, src[:n], r)
				src = src[n:]
				state = -1
				continue
			}
		}
		var g string
		g, src, _, state = uniseg.FirstGraphemeClusterInString(src, state)
		if len(g) < 6 {
			if r, ok := p.transform(unsafeBytes(g)); ok {
				dst = append(dst, r...)
				continue
			}
		}
		for i := 0; i < len(g); {
			r, n := utf8.DecodeRuneInString(g[i:])
			dst = p.appendChar(dst, g[i:i+n], r)
			i += n
		}
	}
	return dst
}

// appendChar appends the replacement of one character, or the character.
func (p *precompiled) appendChar(dst []byte, ch string, r rune) []byte {
	if r < utf8.RuneSelf {
		if p.asciiHit[r] {
			return append(dst, p.ascii[r]...)
		}
		return append(dst, byte(r))
	}
	if rep, ok := p.transform(unsafeBytes(ch)); ok {
		return append(dst, rep...)
	}
	return append(dst, ch...)
}

// simple marks the BMP characters that never join a grapheme cluster with
// a neighbour that is also simple: ASCII other than CR and LF's partner
// rule, and every character that stays alone next to an "a" on either side
// (so not Extend, ZWJ, SpacingMark or Prepend), Hangul jamo and syllables
// excepted (they join each other).
var (
	simpleOnce sync.Once
	simple     [0x10000 / 64]uint64
)

func buildSimple() {
	for r := rune(0); r < 0x10000; r++ {
		if r >= 0xD800 && r <= 0xDFFF || r >= 0x1100 && r <= 0x11FF || r >= 0xA960 && r <= 0xA97F ||
			r >= 0xD7B0 && r <= 0xD7FF || r >= 0xAC00 && r <= 0xD7A3 {
			continue
		}
		if r < utf8.RuneSelf && r != '\r' && r != '\n' {
			simple[r/64] |= 1 << (r % 64)
			continue
		}
		c := string(r)
		g1, _, _, _ := uniseg.FirstGraphemeClusterInString(c+"a", -1)
		g2, _, _, _ := uniseg.FirstGraphemeClusterInString("a"+c, -1)
		if g1 == c && g2 == "a" {
			simple[r/64] |= 1 << (r % 64)
		}
	}
}

func isSimple(r rune) bool { return r < 0x10000 && simple[r/64]&(1<<(r%64)) != 0 }
