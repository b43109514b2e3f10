package tokenizer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func loadTiny(t testing.TB, name string) *Tokenizer {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tk, err := FromJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tk
}

// TestTinyTokenizers checks hand-built tokenizers that exercise the corners
// (added tokens with lstrip/rstrip/single_word/normalized, accents, CJK,
// control characters, byte fallback, all three post-processors) against
// what Hugging Face tokenizers made of the same texts (gen_tiny.py).
func TestTinyTokenizers(t *testing.T) {
	checkTinyExpected(t, "testdata/tiny-expected.json", func(name string) *Tokenizer { return loadTiny(t, name) })
}

// TestTransformersRebuild checks Load on folders whose tokenizer_config.json
// disagrees with their tokenizer.json: transformers rebuilds BERT and XLM-R
// tokenizers from the config (normaliser flags, pre-tokenizer, templates),
// and its ids are the reference (gen_tiny.py, tiny-expected-transformers.json).
func TestTransformersRebuild(t *testing.T) {
	checkTinyExpected(t, "testdata/tiny-expected-transformers.json", func(name string) *Tokenizer {
		tk, err := Load(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return tk
	})
}

func checkTinyExpected(t *testing.T, file string, load func(string) *Tokenizer) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Cases []struct {
			Tokenizer, Text, Query, Document, Strategy, Error string
			MaxLength                                         int `json:"max_length"`
			IDs                                               []int32
			TypeIDs                                           []int32 `json:"type_ids"`
			// Decode's expected text (byte-level BPE cases); skip-special
			// absent means the same text.
			Decoded   *string
			DecodedSk *string `json:"decoded_skip_special"`
			// A pre-tokenizer on its own: the pieces of each text.
			PreTokenizer json.RawMessage `json:"pre_tokenizer"`
			Texts        []string
			Pieces       [][]string
			// A normalizer on its own: the normalized texts.
			Normalizer json.RawMessage
			Normalized []string
		}
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	toks := map[string]*Tokenizer{}
	for _, c := range exp.Cases {
		if c.PreTokenizer != nil {
			checkPreTokenizer(t, c.PreTokenizer, c.Texts, c.Pieces)
			continue
		}
		if c.Normalizer != nil {
			n, err := parseNormalizer(c.Normalizer)
			if err != nil {
				t.Fatal(err)
			}
			for i, text := range c.Texts {
				if got := string(n.normalize(nil, text, &scratch{})); got != c.Normalized[i] {
					t.Errorf("%s on %+q: got %+q, want %+q", c.Normalizer, text, got, c.Normalized[i])
				}
			}
			continue
		}
		tk := toks[c.Tokenizer]
		if tk == nil {
			tk = load(c.Tokenizer)
			toks[c.Tokenizer] = tk
		}
		var e *Encoding
		var err error
		what := c.Tokenizer + " " + c.Text
		if c.Strategy == "" {
			e, err = tk.Encode(c.Text)
		} else {
			what = c.Tokenizer + " " + c.Query + " | " + c.Document + " " + c.Strategy
			s, perr := ParseStrategy(c.Strategy)
			if perr != nil {
				t.Fatal(perr)
			}
			e, err = tk.EncodePair(c.Query, c.Document, Truncation{MaxLength: c.MaxLength, Strategy: s})
		}
		if c.Error != "" {
			if err == nil {
				t.Errorf("%s (max %d): no error, HF said %s", what, c.MaxLength, c.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		if !slices.Equal(e.IDs, c.IDs) || !slices.Equal(e.TypeIDs, c.TypeIDs) {
			t.Errorf("%s (max %d):\n got ids %v types %v\nwant ids %v types %v", what, c.MaxLength, e.IDs, e.TypeIDs, c.IDs, c.TypeIDs)
		}
		if c.Decoded != nil {
			want := map[bool]string{false: *c.Decoded, true: *c.Decoded}
			if c.DecodedSk != nil {
				want[true] = *c.DecodedSk
			}
			for _, skip := range []bool{false, true} {
				got, err := tk.Decode(e.IDs, skip)
				if tk.decoder == decodeOther {
					if err == nil {
						t.Errorf("%s: Decode with the %s decoder: no error", what, tk.decoderName)
					}
					continue
				}
				if err != nil || got != want[skip] {
					t.Errorf("%s: Decode(skip special %v) = %q, %v; want %q", what, skip, got, err, want[skip])
				}
			}
		}
	}
	if len(exp.Cases) == 0 {
		t.Fatal("no cases")
	}
}

// checkPreTokenizer runs a pre-tokenizer read from its tokenizer.json form
// on texts and wants the library's pieces.
func checkPreTokenizer(t *testing.T, raw json.RawMessage, texts []string, want [][]string) {
	t.Helper()
	p, err := parsePreTokenizer(raw)
	if err != nil {
		t.Errorf("%s: %v", raw, err)
		return
	}
	sc := &scratch{}
	for i, text := range texts {
		var w words
		if text != "" {
			p.split(&w, []byte(text), true, sc)
		}
		got := []string{}
		for k := range w.spans {
			got = append(got, string(w.word(k)))
		}
		if !slices.Equal(got, want[i]) {
			t.Errorf("%s on %q:\n got %q\nwant %q", raw, text, got, want[i])
		}
	}
}

// TestTruncateHF is tokenizers' own table for longest_first
// (utils/truncation.rs, truncate_encodings_longest_first and
// truncate_encodings_empty): lengths empty=0, short=2, medium=4, long=8.
func TestTruncateHF(t *testing.T) {
	const e, s, m, l = 0, 2, 4, 8
	cases := []struct{ a, b, max, wa, wb int }{
		{e, e, 7, 0, 0}, {e, s, 7, 0, 2}, {e, m, 7, 0, 4}, {e, l, 7, 0, 7},
		{s, e, 7, 2, 0}, {s, s, 7, 2, 2}, {s, m, 7, 2, 4}, {s, l, 7, 2, 5},
		{m, e, 7, 4, 0}, {m, s, 7, 4, 2}, {m, m, 7, 3, 4}, {m, l, 7, 3, 4},
		{l, e, 7, 7, 0}, {l, s, 7, 5, 2}, {l, m, 7, 4, 3}, {l, l, 7, 3, 4},
		{e, s, 0, 0, 0}, {m, m, 0, 0, 0}, {l, l, 0, 0, 0},
	}
	for _, c := range cases {
		a, b, err := truncate(c.a, c.b, true, c.max, LongestFirst)
		if err != nil || a != c.wa || b != c.wb {
			t.Errorf("longest_first(%d, %d, max %d) = %d, %d, %v; want %d, %d", c.a, c.b, c.max, a, b, err, c.wa, c.wb)
		}
	}
}

func TestTruncationEdgeCases(t *testing.T) {
	tk := loadTiny(t, "tiny-wordpiece.json") // 2 specials single, 3 pair
	q := "a b c a b c"                       // 6 tokens
	d := "hello world hello world"           // 4 tokens
	enc := func(opts Truncation) (*Encoding, error) { return tk.EncodePair(q, d, opts) }

	// A budget smaller than the special tokens is refused, as HF would
	// underflow; exactly the special tokens leaves both sides empty.
	if _, err := enc(Truncation{MaxLength: 2}); err == nil || !strings.Contains(err.Error(), "special tokens") {
		t.Errorf("max_length 2 < 3 specials: err %v", err)
	}
	if e, err := enc(Truncation{MaxLength: 3}); err != nil || e.Len() != 3 || e.Truncated.First != 6 || e.Truncated.Second != 4 {
		t.Errorf("max_length = specials: %v %v", e, err)
	}
	if _, err := tk.EncodeTruncated("a", Truncation{MaxLength: 1}); err == nil {
		t.Error("single with max_length 1 < 2 specials: no error")
	}
	// only_first: the query cannot lose enough.
	if _, err := enc(Truncation{MaxLength: 5, Strategy: OnlyFirst}); !errors.Is(err, ErrSequenceTooShort) {
		t.Errorf("only_first too short: %v", err)
	}
	// only_second on a single text: an error only when truncation is needed.
	if _, err := tk.EncodeTruncated(q, Truncation{MaxLength: 5, Strategy: OnlySecond}); !errors.Is(err, ErrNoSecondSequence) {
		t.Errorf("only_second single: %v", err)
	}
	if e, err := tk.EncodeTruncated(q, Truncation{MaxLength: 8, Strategy: OnlySecond}); err != nil || e.Len() != 8 {
		t.Errorf("only_second single that fits: %v %v", e, err)
	}
	// do_not_truncate ignores max_length.
	if e, err := enc(Truncation{MaxLength: 4, Strategy: DoNotTruncate}); err != nil || e.Len() != 13 {
		t.Errorf("do_not_truncate: %v %v", e, err)
	}
	// MaxLength 0 is no limit.
	if e, err := enc(Truncation{}); err != nil || e.Len() != 13 || e.Truncated.First+e.Truncated.Second != 0 {
		t.Errorf("no limit: %v %v", e, err)
	}
	// The query budget: the query keeps 2, the document gets the rest.
	e, err := enc(Truncation{MaxLength: 8, QueryBudget: 2})
	if err != nil || e.Len() != 8 || e.Truncated.First != 4 || e.Truncated.Second != 1 {
		t.Errorf("query budget 2 of 8: %+v %v", e, err)
	}
	// A short query leaves its unused budget to the document.
	e, err = tk.EncodePair("a", d, Truncation{MaxLength: 7, QueryBudget: 3})
	if err != nil || e.Len() != 7 || e.Truncated.First != 0 || e.Truncated.Second != 1 {
		t.Errorf("query budget, short query: %+v %v", e, err)
	}
	// A budget larger than the room: the query takes all of it.
	e, err = enc(Truncation{MaxLength: 6, QueryBudget: 10})
	if err != nil || e.Len() != 6 || e.Truncated.First != 3 || e.Truncated.Second != 4 {
		t.Errorf("query budget over the room: %+v %v", e, err)
	}
	if _, err := enc(Truncation{MaxLength: 6, QueryBudget: 2, Strategy: DoNotTruncate}); err == nil {
		t.Error("query budget with do_not_truncate: no error")
	}
	if _, err := enc(Truncation{MaxLength: -1}); err == nil {
		t.Error("negative max_length: no error")
	}
	if _, err := enc(Truncation{MaxLength: 8, Strategy: Strategy(9)}); err == nil {
		t.Error("unknown strategy: no error")
	}
	// Truncated counts add up, and the budget holds, for every strategy and
	// length.
	for s := LongestFirst; s <= OnlySecond; s++ {
		for max := 3; max < 16; max++ {
			e, err := enc(Truncation{MaxLength: max, Strategy: s})
			if err != nil {
				continue
			}
			if e.Len() > max || e.Len()+e.Truncated.First+e.Truncated.Second != 13 {
				t.Errorf("%v max %d: len %d truncated %+v", s, max, e.Len(), e.Truncated)
			}
		}
	}
}

func TestParseStrategy(t *testing.T) {
	for s := LongestFirst; s <= DoNotTruncate; s++ {
		got, err := ParseStrategy(s.String())
		if err != nil || got != s {
			t.Errorf("ParseStrategy(%q) = %v, %v", s.String(), got, err)
		}
	}
	if _, err := ParseStrategy("longest"); err == nil {
		t.Error("ParseStrategy(longest): no error")
	}
}

func TestQueryReuse(t *testing.T) {
	for _, name := range []string{"tiny-wordpiece.json", "tiny-unigram.json"} {
		tk := loadTiny(t, name)
		q, err := tk.EncodeQuery("hello unbelievable world a b")
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"", "hello", "a b c d e f g h i j k"} {
			for _, opts := range []Truncation{{}, {MaxLength: 9}, {MaxLength: 9, QueryBudget: 3}, {MaxLength: 8, Strategy: OnlySecond}} {
				want, err1 := tk.EncodePair("hello unbelievable world a b", d, opts)
				got, err2 := tk.EncodePairWithQuery(q, d, opts)
				if (err1 == nil) != (err2 == nil) || err1 == nil && (!slices.Equal(want.IDs, got.IDs) || !slices.Equal(want.TypeIDs, got.TypeIDs) || want.Truncated != got.Truncated) {
					t.Errorf("%s %q %+v: reuse %v %v, direct %v %v", name, d, opts, got, err2, want, err1)
				}
			}
		}
		other := loadTiny(t, name)
		if _, err := other.EncodePairWithQuery(q, "x", Truncation{}); err == nil {
			t.Error("query from another tokenizer: no error")
		}
	}
}

func TestInvalidUTF8(t *testing.T) {
	tk := loadTiny(t, "tiny-wordpiece.json")
	if _, err := tk.Encode("hello \xff world"); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("invalid UTF-8: %v", err)
	}
	if _, err := tk.EncodePair("ok", "bad \xc3", Truncation{}); err == nil || !strings.Contains(err.Error(), "document") {
		t.Errorf("invalid UTF-8 document: %v", err)
	}
}

func TestAccessors(t *testing.T) {
	wp := loadTiny(t, "tiny-wordpiece.json")
	ug := loadTiny(t, "tiny-unigram.json")
	checks := []struct {
		name      string
		got, want any
	}{
		{"wp kind", wp.Kind(), "wordpiece"},
		{"ug kind", ug.Kind(), "unigram"},
		{"wp pad", wp.PadID(), int32(0)},
		{"ug pad", ug.PadID(), int32(1)},
		{"wp vocab", wp.VocabSize(), 26}, // 25 pieces + the added "Day"
		{"ug vocab", ug.VocabSize(), 22},
		{"wp specials single", wp.NumSpecialTokens(false), 2},
		{"wp specials pair", wp.NumSpecialTokens(true), 3},
		{"ug specials single", ug.NumSpecialTokens(false), 2},
		{"ug specials pair", ug.NumSpecialTokens(true), 4},
		{"no config", wp.ModelMaxLength(), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestPad(t *testing.T) {
	tk := loadTiny(t, "tiny-wordpiece.json")
	a, _ := tk.Encode("hello world")
	b, _ := tk.EncodePair("hello", "a b c", Truncation{})
	c, _ := tk.Encode("")
	batch := Pad([]*Encoding{a, b, c}, 7)
	if batch.Rows != 3 || batch.Cols != 7 || !slices.Equal(batch.Lengths, []int{4, 7, 2}) {
		t.Fatalf("shape %d x %d lengths %v", batch.Rows, batch.Cols, batch.Lengths)
	}
	ids, types, mask := batch.Row(0)
	if !slices.Equal(ids, []int32{2, 5, 6, 3, 7, 7, 7}) || !slices.Equal(types, make([]int32, 7)) || !slices.Equal(mask, []int32{1, 1, 1, 1, 0, 0, 0}) {
		t.Errorf("row 0: %v %v %v", ids, types, mask)
	}
	ids, types, mask = batch.Row(1)
	if !slices.Equal(ids, b.IDs) || !slices.Equal(types, b.TypeIDs) || !slices.Equal(mask, b.AttentionMask) {
		t.Errorf("row 1: %v %v %v", ids, types, mask)
	}
	if e := Pad(nil, 0); e.Rows != 0 || len(e.IDs) != 0 {
		t.Errorf("empty batch: %+v", e)
	}
}

// TestVocabTxt loads a BERT checkpoint that has only vocab.txt and
// tokenizer_config.json, and checks it encodes as the tokenizer.json built
// from the same vocabulary with transformers' BERT settings.
func TestVocabTxt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(tinyWordPieceVocab, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := `{"do_lower_case": true, "model_max_length": 512, "unk_token": "[UNK]", "pad_token": {"content": "[PAD]"}}`
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	vt, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if vt.ModelMaxLength() != 512 || vt.Kind() != "wordpiece" || vt.VocabSize() != len(tinyWordPieceVocab) || vt.PadID() != 0 {
		t.Errorf("config: max %d kind %s vocab %d pad %d", vt.ModelMaxLength(), vt.Kind(), vt.VocabSize(), vt.PadID())
	}
	ref := loadTiny(t, "tiny-bert/tokenizer.json")
	for _, s := range []string{"Hello, world!", "unbelievable CAFÉ", "中文 [CLS] x [SEP]", "[MASK]", "İ hello"} {
		want, _ := ref.EncodePair(s, "a b", Truncation{})
		got, err := vt.EncodePair(s, "a b", Truncation{})
		if err != nil || !slices.Equal(got.IDs, want.IDs) || !slices.Equal(got.TypeIDs, want.TypeIDs) {
			// [MASK] differs only by its lstrip/rstrip in the JSON, which
			// does not matter for a text that is just "[MASK]".
			t.Errorf("%q: vocab.txt %v %v, tokenizer.json %v", s, got, err, want)
		}
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "neither tokenizer.json nor vocab.txt") {
		t.Errorf("empty dir: %v", err)
	}
}

// tinyWordPieceVocab is the vocabulary of testdata/tiny-wordpiece*.json
// without the added "Day".
var tinyWordPieceVocab = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "un", "##believ", "##able",
	"the", "cafe", "!", ",", "a", "##b", "##c", "b", "c", "中", "文", "i", "##̇", "day", "[day]"}

// TestMalformedJSON checks that a broken tokenizer.json is an error that
// names the field.
func TestMalformedJSON(t *testing.T) {
	base, err := os.ReadFile("testdata/tiny-unigram.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		t.Fatal(err)
	}
	clone := func() map[string]any {
		var d map[string]any
		json.Unmarshal(base, &d)
		return d
	}
	cases := []struct {
		edit func(d map[string]any)
		want string
	}{
		{func(d map[string]any) { delete(d, "model") }, "model: missing"},
		{func(d map[string]any) { d["model"].(map[string]any)["type"] = "WordLevel" }, `model.type: "WordLevel" is not supported`},
		{func(d map[string]any) { d["model"].(map[string]any)["vocab"] = []any{[]any{"a"}} }, "model.vocab"},
		{func(d map[string]any) { d["model"].(map[string]any)["vocab"] = []any{[]any{"a", "x"}} }, "score is not a number"},
		{func(d map[string]any) { d["model"].(map[string]any)["unk_id"] = 99 }, "model.unk_id"},
		{func(d map[string]any) { delete(d["model"].(map[string]any), "vocab") }, "model.vocab: missing"},
		{func(d map[string]any) { d["normalizer"].(map[string]any)["normalizers"] = "x" }, "normalizer.normalizers"},
		{func(d map[string]any) {
			d["normalizer"].(map[string]any)["normalizers"].([]any)[2].(map[string]any)["pattern"] = map[string]any{"Regex": "("}
		}, "normalizer.normalizers[2].pattern.Regex"},
		{func(d map[string]any) {
			d["normalizer"] = map[string]any{"type": "Precompiled", "precompiled_charsmap": "!!"}
		}, "normalizer.precompiled_charsmap"},
		{func(d map[string]any) {
			d["normalizer"] = map[string]any{"type": "Precompiled", "precompiled_charsmap": "AAAAAQ=="}
		}, "normalizer.precompiled_charsmap"},
		{func(d map[string]any) { d["pre_tokenizer"].(map[string]any)["prepend_scheme"] = "sometimes" }, "pre_tokenizer.prepend_scheme"},
		{func(d map[string]any) { d["pre_tokenizer"].(map[string]any)["replacement"] = "ab" }, "pre_tokenizer.replacement"},
		{func(d map[string]any) { d["pre_tokenizer"] = map[string]any{"kind": "x"} }, "pre_tokenizer.type: missing"},
		{func(d map[string]any) { d["post_processor"].(map[string]any)["sep"] = []any{"</s>", 999} }, "post_processor.sep"},
		{func(d map[string]any) { d["post_processor"].(map[string]any)["cls"] = "x" }, "post_processor"},
		{func(d map[string]any) { d["added_tokens"] = []any{map[string]any{"id": "x", "content": "y"}} }, "added_tokens"},
		{func(d map[string]any) { d["added_tokens"] = []any{map[string]any{"id": -3, "content": "y"}} }, "added_tokens[0].id"},
		{func(d map[string]any) {
			d["post_processor"] = map[string]any{"type": "TemplateProcessing", "single": []any{map[string]any{"SpecialToken": map[string]any{"id": "[X]", "type_id": 0}}}, "pair": []any{}, "special_tokens": map[string]any{}}
		}, "post_processor.single[0]"},
	}
	for i, c := range cases {
		d := clone()
		c.edit(d)
		b, _ := json.Marshal(d)
		_, err := FromJSON(strings.NewReader(string(b)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %d: err %v, want it to mention %q", i, err, c.want)
		}
	}
	if _, err := FromJSON(strings.NewReader("{")); err == nil {
		t.Error("truncated JSON: no error")
	}
}

// TestRandomUnicode encodes random strings from every corner of Unicode
// (testdata/gen_random.py) and wants the ids Hugging Face tokenizers gave:
// it pins hf_unicode.go's classes (control, punctuation, marks, lowercase)
// to the library's, which are not Go's.
func TestRandomUnicode(t *testing.T) {
	tk := loadTiny(t, "unicode-bert.json")
	f, err := os.Open("testdata/random-unicode.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	n, bad := 0, 0
	for sc.Scan() {
		var r struct {
			Text string  `json:"text"`
			IDs  []int32 `json:"ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		n++
		e, err := tk.Encode(r.Text)
		if err != nil || !slices.Equal(e.IDs, r.IDs) {
			if bad++; bad <= 5 {
				t.Errorf("%+q:\n got %v %v\nwant %v", r.Text, e, err, r.IDs)
			}
		}
	}
	if n < 1000 {
		t.Fatalf("only %d records", n)
	}
	t.Logf("%d of %d", n-bad, n)
}

// TestConcurrent encodes from many goroutines at once (the scratch pool and
// the lazily built tables are shared) and wants the sequential results.
func TestConcurrent(t *testing.T) {
	for _, name := range []string{"tiny-wordpiece.json", "tiny-unigram-bytefallback.json", "tiny-bpe-bytelevel.json", "tiny-bpe-fallback.json"} {
		// want from one tokenizer, the goroutines on another: the BPE word
		// cache starts empty and is filled concurrently.
		tk0, tk := loadTiny(t, name), loadTiny(t, name)
		texts := []string{"Hello, world!", "unbelievable café 中文", "a b c a b c", "", "<mask> hello ab", "İ\u0301x"}
		want := make([][]int32, len(texts))
		for i, s := range texts {
			e, err := tk0.EncodePair(s, texts[(i+1)%len(texts)], Truncation{MaxLength: 9})
			if err != nil {
				t.Fatal(err)
			}
			want[i] = e.IDs
		}
		done := make(chan string, 8)
		for g := 0; g < 8; g++ {
			go func() {
				for k := 0; k < 200; k++ {
					i := (g + k) % len(texts)
					e, err := tk.EncodePair(texts[i], texts[(i+1)%len(texts)], Truncation{MaxLength: 9})
					if err != nil || !slices.Equal(e.IDs, want[i]) {
						done <- fmt.Sprintf("%s %q: %v %v, want %v", name, texts[i], e, err, want[i])
						return
					}
				}
				done <- ""
			}()
		}
		for g := 0; g < 8; g++ {
			if msg := <-done; msg != "" {
				t.Error(msg)
			}
		}
	}
}

// TestDATrie compares the double-array trie with the byte trie it is built
// from (the reference) on random keys and random probes.
func TestDATrie(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 20; round++ {
		alpha := []byte("ab\x00\xff\x80é中")
		var keys []string
		var ids []int32
		for i := 0; i < rng.IntN(3000); i++ {
			k := make([]byte, 1+rng.IntN(12))
			for j := range k {
				k[j] = alpha[rng.IntN(len(alpha))]
			}
			keys, ids = append(keys, string(k)), append(ids, int32(i))
		}
		bt := buildTrie(keys, ids)
		da := newDATrie(bt)
		for i := 0; i < 2000; i++ {
			p := make([]byte, rng.IntN(16))
			for j := range p {
				p[j] = alpha[rng.IntN(len(alpha))]
			}
			if i < len(keys) {
				p = append([]byte(keys[i]), p...)
			}
			id1, n1 := bt.longestPrefix(p)
			id2, n2 := da.longestPrefix(p)
			if id1 != id2 || n1 != n2 {
				t.Fatalf("round %d: %q: byte trie (%d, %d), double array (%d, %d)", round, p, id1, n1, id2, n2)
			}
			// Every node on the path agrees too.
			s1, s2 := int32(0), int32(0)
			for _, c := range p {
				s1, s2 = bt.child(s1, c), da.child(s2, c)
				if (s1 < 0) != (s2 < 0) {
					t.Fatalf("round %d: %q: child existence differs at %q", round, p, c)
				}
				if s1 < 0 {
					break
				}
				if bt.nodes[s1].id != da.id[s2] {
					t.Fatalf("round %d: %q: ids differ", round, p)
				}
			}
		}
	}
}

// TestTransformersClassFromModelType: without tokenizer_class, the class
// comes from config.json's model_type, as in AutoTokenizer.
func TestTransformersClassFromModelType(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/tf-bert-cased/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"tokenizer.json":        string(b),
		"tokenizer_config.json": `{"do_lower_case": false}`,
		"config.json":           `{"model_type": "bert"}`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Load("testdata/tf-bert-cased")
	if err != nil {
		t.Fatal(err)
	}
	raw := loadTiny(t, "tiny-bert/tokenizer.json")
	for _, s := range []string{"Hello, world!", "café CAFÉ", "héllo wörld", "unbelievable"} {
		g, _ := got.Encode(s)
		w, _ := want.Encode(s)
		r, _ := raw.Encode(s)
		if !slices.Equal(g.IDs, w.IDs) {
			t.Errorf("%q: model_type bert gives %v, tokenizer_class BertTokenizer gives %v", s, g.IDs, w.IDs)
		}
		if s == "Hello, world!" && slices.Equal(g.IDs, r.IDs) {
			t.Errorf("%q: the cased config changed nothing (%v)", s, g.IDs)
		}
	}
}

func TestEncodeIDs(t *testing.T) {
	tk := loadTiny(t, "tiny-bert/tokenizer.json")
	a, _ := tk.Tokenize("hello world")
	want, _ := tk.EncodeTruncated("hello world", Truncation{MaxLength: 3})
	got, err := tk.EncodeIDs(a, []int32{99}, false, Truncation{MaxLength: 3})
	if err != nil || !slices.Equal(got.IDs, want.IDs) || got.Truncated != want.Truncated {
		t.Errorf("single: %v %v, want %v", got, err, want)
	}
	if _, err := tk.EncodeIDs([]int32{5, 1000}, nil, true, Truncation{}); err == nil {
		t.Error("id outside the vocabulary: no error")
	}
	if _, err := tk.Tokenize("bad \xff"); err == nil {
		t.Error("Tokenize of invalid UTF-8: no error")
	}
}
