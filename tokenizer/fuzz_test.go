package tokenizer

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzFromJSON loads arbitrary tokenizer.json bytes: it must never panic,
// and a tokenizer it accepts must encode without panicking and give ids
// inside its vocabulary.
func FuzzFromJSON(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/tiny-*.json")
	seeds = append(seeds, "testdata/tiny-bert/tokenizer.json")
	valid := map[string]bool{} // tokenizers that must load
	for _, s := range seeds {
		if strings.Contains(s, "-expected") { // expected outputs, not tokenizers
			continue
		}
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		valid[string(b)] = true
	}
	for _, s := range []string{
		`{"model":{"type":"WordPiece","vocab":{"a":0,"##b":1,"[UNK]":2}},"pre_tokenizer":{"type":"Whitespace"}}`,
		`{"model":{"type":"Unigram","vocab":[["a",-1],["b",-2]]},"normalizer":{"type":"Precompiled","precompiled_charsmap":"CAAAAAEAAAACAAAAYQA="}}`,
		`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"<0x20>":3},"merges":["a b"],"byte_fallback":true,"unk_token":"a"},"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":true},"decoder":{"type":"ByteLevel"}}`,
		`{"model":{"type":"BPE","vocab":{"a":0,"Ġ":1,"Ġa":2},"merges":[["Ġ","a"]],"ignore_merges":true},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\p{N}|[a-z]+"},"behavior":"MergedWithNext","invert":true},{"type":"ByteLevel","use_regex":false}]},"post_processor":{"type":"ByteLevel"}}`,
		`{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[]},"normalizer":{"type":"NFKC"},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"[^\\s\\p{L}]+|\\P{N}\\s?"},"behavior":"Contiguous","invert":false}}`,
	} {
		f.Add([]byte(s))
		valid[s] = true
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tk, err := FromJSON(bytes.NewReader(b))
		if err != nil {
			if valid[string(b)] {
				t.Fatalf("a tokenizer.json the tests load refused: %v", err)
			}
			return
		}
		for _, s := range []string{"hello world", "Héllo, 中文 <s> [CLS] ▁x\u0301", "", " \t\n", "\x00\u200b"} {
			e, err := tk.EncodePair(s, s, Truncation{MaxLength: 12})
			if err != nil {
				continue
			}
			checkIDs(t, tk, e)
			if e.Len() > 12 {
				t.Fatalf("%d tokens over a budget of 12", e.Len())
			}
		}
	})
}

func checkIDs(t *testing.T, tk *Tokenizer, e *Encoding) {
	t.Helper()
	if len(e.TypeIDs) != len(e.IDs) || len(e.AttentionMask) != len(e.IDs) {
		t.Fatalf("lengths: ids %d types %d mask %d", len(e.IDs), len(e.TypeIDs), len(e.AttentionMask))
	}
	for _, id := range e.IDs {
		if id < 0 || int(id) >= tk.VocabSize() {
			t.Fatalf("id %d outside [0, %d)", id, tk.VocabSize())
		}
	}
}

// fuzzTokenizers are the checkpoints' tokenizers when the fixtures exist,
// else the tiny ones.
func fuzzTokenizers(f *testing.F) []*Tokenizer {
	var toks []*Tokenizer
	for _, d := range []string{"../testdata/models/bert", "../testdata/models/xlmr"} {
		if tk, err := Load(d); err == nil {
			toks = append(toks, tk)
		}
	}
	if len(toks) == 0 {
		toks = append(toks, loadTiny(f, "tiny-wordpiece.json"), loadTiny(f, "tiny-unigram-bytefallback.json"))
	}
	return toks
}

// FuzzEncode encodes arbitrary text pairs under arbitrary truncation: no
// panic, ids inside the vocabulary, never more tokens than the budget, the
// lost-token counts add up, invalid UTF-8 is an error, and reusing an
// encoded query changes nothing.
func FuzzEncode(f *testing.F) {
	toks := fuzzTokenizers(f)
	f.Add("What is a cross-encoder?", "A model that reads query and document together.", 16, 0, 0)
	f.Add("Héllo naïve café", "中文 日本語 한국어 <s></s> [SEP] \u0301\u200b\x00", 8, 1, 3)
	f.Add("", "", 3, 2, 0)
	f.Add("\xff", "ok", 0, 3, 0)
	f.Add(strings.Repeat("a", 300), strings.Repeat("🙂", 50), 64, 0, 10)
	f.Fuzz(func(t *testing.T, q, d string, maxLen, strategy, budget int) {
		opts := Truncation{MaxLength: maxLen % 600, Strategy: Strategy(strategy % 5), QueryBudget: budget % 40}
		for _, tk := range toks {
			full, ferr := tk.EncodePair(q, d, Truncation{Strategy: DoNotTruncate})
			valid := utf8.ValidString(q) && utf8.ValidString(d)
			if valid != (ferr == nil) {
				t.Fatalf("valid UTF-8 %v, error %v", valid, ferr)
			}
			e, err := tk.EncodePair(q, d, opts)
			if err != nil {
				continue
			}
			checkIDs(t, tk, e)
			if opts.MaxLength > 0 && opts.Strategy != DoNotTruncate && e.Len() > opts.MaxLength {
				t.Fatalf("%d tokens over a budget of %d (%+v)", e.Len(), opts.MaxLength, opts)
			}
			if e.Len()+e.Truncated.First+e.Truncated.Second != full.Len() {
				t.Fatalf("len %d + lost %+v != untruncated %d", e.Len(), e.Truncated, full.Len())
			}
			if e.Truncated.First < 0 || e.Truncated.Second < 0 {
				t.Fatalf("negative loss %+v", e.Truncated)
			}
			qq, err := tk.EncodeQuery(q)
			if err != nil {
				t.Fatal(err)
			}
			e2, err := tk.EncodePairWithQuery(qq, d, opts)
			if err != nil || !equalEnc(e, e2) {
				t.Fatalf("query reuse differs: %v %v vs %v", e2, err, e)
			}
			ta, err1 := tk.Tokenize(q)
			tb, err2 := tk.Tokenize(d)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			e3, err := tk.EncodeIDs(ta, tb, true, opts)
			if err != nil || !equalEnc(e, e3) {
				t.Fatalf("EncodeIDs differs: %v %v vs %v", e3, err, e)
			}
			s, err := tk.EncodeTruncated(q, Truncation{MaxLength: opts.MaxLength, Strategy: opts.Strategy})
			if err == nil {
				checkIDs(t, tk, s)
				if opts.MaxLength > 0 && opts.Strategy != DoNotTruncate && s.Len() > opts.MaxLength {
					t.Fatalf("single: %d tokens over a budget of %d", s.Len(), opts.MaxLength)
				}
			}
		}
	})
}

func equalEnc(a, b *Encoding) bool {
	return a.Truncated == b.Truncated && string(int32Bytes(a.IDs)) == string(int32Bytes(b.IDs)) &&
		string(int32Bytes(a.TypeIDs)) == string(int32Bytes(b.TypeIDs))
}

func int32Bytes(v []int32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = append(b, byte(x), byte(x>>8), byte(x>>16), byte(x>>24))
	}
	return b
}

// bpeFuzzTokenizers are the byte-level BPE tokenizers of the fixtures
// (Qwen2-style by Load, ModernBERT-style), else the tiny ones. roundTrip
// says Decode(Tokenize(s)) must give back NFC(s): true for the Qwen2 style
// (NFC, lossless bytes, added tokens unnormalised), not for ModernBERT's
// (its [MASK] strips the space before it).
func bpeFuzzTokenizers(f *testing.F) (toks []*Tokenizer, roundTrip []bool) {
	if tk, err := Load("../testdata/tokenizers/bpe-qwen2"); err == nil {
		toks, roundTrip = append(toks, tk), append(roundTrip, true)
	}
	if tk, err := Load("../testdata/tokenizers/bpe-modernbert"); err == nil {
		toks, roundTrip = append(toks, tk), append(roundTrip, false)
	}
	if len(toks) == 0 {
		toks = append(toks, loadTiny(f, "tiny-bpe-bytelevel.json"), loadTiny(f, "tiny-bpe-fallback.json"))
		roundTrip = append(roundTrip, false, false)
	}
	return toks, roundTrip
}

// FuzzEncodeBPE encodes arbitrary texts with the byte-level BPE
// tokenizers: no panic, invalid UTF-8 is an error, ids inside the
// vocabulary, truncation from either side keeps the budget and the right
// end, and for the Qwen2 style decoding gives back the NFC text.
//
//	go test -run '^$' -fuzz '^FuzzEncodeBPE$' -fuzztime 30s ./tokenizer
func FuzzEncodeBPE(f *testing.F) {
	toks, roundTrip := bpeFuzzTokenizers(f)
	f.Add("<|im_start|>user\nIt's 2024: don't   stop\n\n</think>", 16, true)
	f.Add("中文 😀👍🏽 e\u0301 ſ 'S \r\n\t x\u00a0y [MASK] |||IP_ADDRESS|||", 5, false)
	f.Add("", 0, false)
	f.Add("\xc3", 3, true)
	f.Add(strings.Repeat("ab", 200)+strings.Repeat("中", 100), 64, true)
	f.Fuzz(func(t *testing.T, s string, maxLen int, left bool) {
		for i, tk := range toks {
			ids, err := tk.Tokenize(s)
			if utf8.ValidString(s) != (err == nil) {
				t.Fatalf("valid UTF-8 %v, error %v", utf8.ValidString(s), err)
			}
			if err != nil {
				continue
			}
			for _, id := range ids {
				if id < 0 || int(id) >= tk.VocabSize() {
					t.Fatalf("id %d outside [0, %d)", id, tk.VocabSize())
				}
			}
			if roundTrip[i] {
				got, err := tk.Decode(ids, false)
				if want := norm.NFC.String(s); err != nil || got != want {
					t.Fatalf("Decode(Tokenize(%+q)) = %+q, %v; want %+q", s, got, err, want)
				}
			}
			opts := Truncation{MaxLength: tk.NumSpecialTokens(false) + maxLen%50, Side: Right}
			if maxLen%50 < 0 {
				opts.MaxLength = 0
			}
			if left {
				opts.Side = Left
			}
			e, err := tk.EncodeTruncated(s, opts)
			if err != nil {
				t.Fatal(err)
			}
			checkIDs(t, tk, e)
			if opts.MaxLength > 0 && e.Len() > opts.MaxLength {
				t.Fatalf("%d tokens over a budget of %d", e.Len(), opts.MaxLength)
			}
			full, _ := tk.Encode(s)
			kept := e.Len() - tk.NumSpecialTokens(false)
			if kept+e.Truncated.First != len(ids) || full.Len() != len(ids)+tk.NumSpecialTokens(false) {
				t.Fatalf("kept %d + lost %d != %d content tokens", kept, e.Truncated.First, len(ids))
			}
			// The kept tokens are the start (right side cut) or the end.
			want := ids[:kept]
			if left {
				want = ids[len(ids)-kept:]
			}
			if !containsRun(e.IDs, want) {
				t.Fatalf("side %v: %v does not hold %v", opts.Side, e.IDs, want)
			}
		}
	})
}

func containsRun(haystack, run []int32) bool {
	for i := 0; i+len(run) <= len(haystack); i++ {
		if string(int32Bytes(haystack[i:i+len(run)])) == string(int32Bytes(run)) {
			return true
		}
	}
	return false
}

// FuzzSplitPatterns runs the hand-written splitters on arbitrary text: the
// pieces tile the text, none is empty, and Qwen2's and Llama 3's patterns,
// which differ only in how many digits a number piece takes, agree where
// no two numbers are adjacent. (Their agreement with the Rust library is
// TestSplitPatterns.)
//
//	go test -run '^$' -fuzz '^FuzzSplitPatterns$' -fuzztime 30s ./tokenizer
func FuzzSplitPatterns(f *testing.F) {
	f.Add("It's  a test\n\n  of 12345 'S ſ\r\n\t😀!!")
	f.Add(" \u00a0\u3000x\u2028\x85 ")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // the encoder refuses it first
		}
		var got [3][]string
		for k, p := range []*handPattern{handPatterns[qwen2Regex], handPatterns[llama3Regex], handPatterns[gpt2Regex]} {
			prev := 0
			forEachPiece(p, []byte(s), func(a, b int, match bool) {
				if a != prev || b <= a || !match {
					t.Fatalf("%s on %+q: piece [%d, %d) match %v after %d", p.name, s, a, b, match, prev)
				}
				prev = b
				got[k] = append(got[k], s[a:b])
			})
			if prev != len(s) {
				t.Fatalf("%s on %+q: pieces end at %d of %d", p.name, s, prev, len(s))
			}
		}
		adjacent := false
		var last rune = -1
		for _, r := range s {
			if last >= 0 && unicode.Is(hfNumber, last) && unicode.Is(hfNumber, r) {
				adjacent = true
			}
			last = r
		}
		if !adjacent && !slices.Equal(got[0], got[1]) {
			t.Fatalf("qwen2 %q and llama3 %q differ on %+q", got[0], got[1], s)
		}
	})
}
