package tokenizer

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
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
