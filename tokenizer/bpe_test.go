package tokenizer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// bpeRecord is one line of testdata/golden/bpe-<name>.jsonl.gz (see
// testdata/gen/README.md): what the Rust library gave for a corpus line,
// a pair of corpus lines or a hand-picked text.
type bpeRecord struct {
	Kind       string  `json:"kind"` // line, pair or text
	Line       int     `json:"line"`
	A          int     `json:"a"`
	B          int     `json:"b"`
	Text       string  `json:"text"`
	Truncation []any   `json:"truncation"` // [strategy, side, max_length]
	IDs        []int32 `json:"ids"`
	TypeIDs    []int32 `json:"type_ids"`
	Error      string  `json:"error"`
	Decoded    *string `json:"decoded"`
	DecodedSk  *string `json:"decoded_skip_special"`
}

func readGz[T any](t testing.TB, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skip("fixtures not generated:", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var r T
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func corpusLines(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("../testdata/corpus.jsonl")
	if err != nil {
		t.Skip("no corpus:", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var r struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Text)
	}
	return out
}

func fromJSONFile(t testing.TB, path string) *Tokenizer {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skip("fixtures not generated:", err)
	}
	defer f.Close()
	tk, err := FromJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tk
}

func truncationOf(t testing.TB, tr []any) Truncation {
	if tr == nil {
		return Truncation{Strategy: DoNotTruncate}
	}
	s, err := ParseStrategy(tr[0].(string))
	if err != nil {
		t.Fatal(err)
	}
	opts := Truncation{Strategy: s, MaxLength: int(tr[2].(float64))}
	if tr[1].(string) == "left" {
		opts.Side = Left
	}
	return opts
}

// TestBPEGolden encodes every record of the byte-level BPE goldens (every
// corpus line, pairs, truncation from either side, edge cases) and wants
// the Rust library's ids exactly, with the tokenizer read by FromJSON and
// by Load (which for Qwen2Tokenizer rebuilds the pipeline as transformers
// does).
func TestBPEGolden(t *testing.T) {
	lines := corpusLines(t)
	for _, name := range []string{"bpe-qwen2", "bpe-modernbert"} {
		dir := filepath.Join("..", "testdata", "tokenizers", name)
		recs := readGz[bpeRecord](t, filepath.Join("..", "testdata", "golden", name+".jsonl.gz"))
		loaded, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		for how, tk := range map[string]*Tokenizer{"FromJSON": fromJSONFile(t, filepath.Join(dir, "tokenizer.json")), "Load": loaded} {
			t.Run(name+"/"+how, func(t *testing.T) {
				if tk.Kind() != "bpe" {
					t.Fatalf("Kind %q", tk.Kind())
				}
				bad, n := 0, 0
				for i, r := range recs {
					msg := checkBPERecord(t, tk, lines, &r)
					n++
					if msg != "" {
						if bad++; bad <= 10 {
							t.Errorf("record %d (%s): %s", i+1, r.Kind, msg)
						}
					}
				}
				if n < len(lines) {
					t.Fatalf("only %d records for %d corpus lines", n, len(lines))
				}
				if bad > 0 {
					t.Errorf("%d of %d records differ", bad, n)
				}
			})
		}
	}
}

func checkBPERecord(t *testing.T, tk *Tokenizer, lines []string, r *bpeRecord) string {
	opts := truncationOf(t, r.Truncation)
	var e *Encoding
	var err error
	switch r.Kind {
	case "line":
		e, err = tk.EncodeTruncated(lines[r.Line], opts)
	case "text":
		e, err = tk.Encode(r.Text)
	case "pair":
		e, err = tk.EncodePair(lines[r.A], lines[r.B], opts)
	default:
		return "unknown kind " + r.Kind
	}
	if r.Error != "" {
		if err == nil {
			return fmt.Sprintf("got %v, want error %q", e.IDs, r.Error)
		}
		return ""
	}
	if err != nil {
		return err.Error()
	}
	if !slices.Equal(e.IDs, r.IDs) {
		return fmt.Sprintf("ids\n got %v\nwant %v", e.IDs, r.IDs)
	}
	if r.TypeIDs != nil && !slices.Equal(e.TypeIDs, r.TypeIDs) {
		return fmt.Sprintf("type ids\n got %v\nwant %v", e.TypeIDs, r.TypeIDs)
	}
	if r.Decoded != nil && r.DecodedSk == nil {
		r.DecodedSk = r.Decoded // absent: the same text
	}
	for _, d := range []struct {
		want *string
		skip bool
	}{{r.Decoded, false}, {r.DecodedSk, true}} {
		if d.want == nil {
			continue
		}
		got, err := tk.Decode(e.IDs, d.skip)
		if err != nil || got != *d.want {
			return fmt.Sprintf("Decode(skip special %v) = %q, %v; want %q", d.skip, got, err, *d.want)
		}
	}
	return ""
}

// splitRecord is one line of testdata/golden/split-patterns.jsonl.gz: the
// piece lengths, in characters, that the Rust library's Split (Isolated)
// gives with each known pattern.
type splitRecord struct {
	Src    string `json:"src"` // corpus, random-unicode or random
	Line   int    `json:"line"`
	Text   string `json:"text"`
	Qwen2  []int  `json:"qwen2"`
	GPT2   []int  `json:"gpt2"`
	Llama3 []int  `json:"llama3"`
}

// TestSplitPatterns runs the hand-written splitters of the GPT-2, Qwen2
// and Llama 3 patterns (which Go's regexp cannot run: they look ahead) on
// the whole corpus and on random strings and wants the Rust library's
// pieces.
func TestSplitPatterns(t *testing.T) {
	lines := corpusLines(t)
	recs := readGz[splitRecord](t, "../testdata/golden/split-patterns.jsonl.gz")
	var uni []string
	for _, r := range readGz[struct {
		Text string `json:"text"`
	}](t, "testdata/random-unicode.jsonl.gz") {
		uni = append(uni, r.Text)
	}
	pats := map[string]*handPattern{"qwen2": handPatterns[qwen2Regex], "gpt2": handPatterns[gpt2Regex], "llama3": handPatterns[llama3Regex]}
	counts := map[string][2]int{}
	for i, r := range recs {
		text := r.Text
		switch r.Src {
		case "corpus":
			text = lines[r.Line]
		case "random-unicode":
			text = uni[r.Line]
		}
		for name, want := range map[string][]int{"qwen2": r.Qwen2, "gpt2": r.GPT2, "llama3": r.Llama3} {
			if want == nil {
				continue
			}
			key := r.Src + "/" + name
			c := counts[key]
			c[1]++
			got := splitLengths(pats[name], text)
			if slices.Equal(got, want) {
				c[0]++
			} else if c[1]-c[0] <= 3 {
				t.Errorf("record %d %s %s %+q:\n got %v\nwant %v", i+1, r.Src, name, text, got, want)
			}
			counts[key] = c
		}
	}
	for k, c := range counts {
		t.Logf("%s: %d of %d", k, c[0], c[1])
		if c[0] != c[1] {
			t.Errorf("%s: %d of %d differ", k, c[1]-c[0], c[1])
		}
	}
	// tiktoken's spelling of GPT-2's pattern is the same splitter (the
	// generator asserts the library agrees on all these texts).
	if p, err := newSplitPattern(gpt2TiktokenRegex, false); err != nil || p != splitPattern(gpt2Pattern) {
		t.Errorf("tiktoken's GPT-2 pattern: %v, %v", p, err)
	}
	if len(counts) != 6 {
		t.Errorf("%d (source, pattern) groups, want 6", len(counts))
	}
}

// splitLengths is the pieces of p on text as character counts.
func splitLengths(p splitPattern, text string) []int {
	out := []int{}
	forEachPiece(p, []byte(text), func(s, e int, _ bool) {
		out = append(out, utf8.RuneCountInString(text[s:e]))
	})
	return out
}

func TestPadLeft(t *testing.T) {
	a := NewEncoding([]int32{5, 6, 7})
	b := NewEncoding([]int32{8})
	batch := PadSide([]*Encoding{a, b}, 9, Left)
	if batch.Rows != 2 || batch.Cols != 3 || batch.Side != Left || !slices.Equal(batch.Lengths, []int{3, 1}) {
		t.Fatalf("shape %d x %d side %v lengths %v", batch.Rows, batch.Cols, batch.Side, batch.Lengths)
	}
	ids, types, mask := batch.Row(1)
	// transformers' tokenizer.pad with padding_side="left".
	if !slices.Equal(ids, []int32{9, 9, 8}) || !slices.Equal(types, []int32{0, 0, 0}) || !slices.Equal(mask, []int32{0, 0, 1}) {
		t.Errorf("row 1: %v %v %v", ids, types, mask)
	}
	if ids, _, mask := batch.Row(0); !slices.Equal(ids, a.IDs) || !slices.Equal(mask, []int32{1, 1, 1}) {
		t.Errorf("row 0: %v %v", ids, mask)
	}
}

// naiveMerge is the reference for mergeAll: repeatedly merge the adjacent
// pair with the lowest rank, the leftmost of equal ranks.
func naiveMerge(ids []int32, merges map[uint64]bpeMerge) []int32 {
	ids = append([]int32(nil), ids...)
	for {
		best, at := int32(-1), -1
		var id int32
		for i := 0; i+1 < len(ids); i++ {
			if m, ok := merges[pairKey(ids[i], ids[i+1])]; ok && (at < 0 || m.rank < best) {
				best, at, id = m.rank, i, m.id
			}
		}
		if at < 0 {
			return ids
		}
		ids = append(append(ids[:at], id), ids[at+2:]...)
	}
}

// TestBPEMergeReference compares the queue-based merge (tokenizers'
// merge_all) with the plain quadratic loop on random vocabularies, merges
// and words, short and long.
func TestBPEMergeReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round := 0; round < 200; round++ {
		alpha := []string{"a", "b", "c", "d", "é"}[:2+rng.IntN(4)]
		vocab := map[string]int32{}
		for _, c := range alpha {
			vocab[c] = int32(len(vocab))
		}
		toks := append([]string(nil), alpha...)
		var merges [][2]string
		for k := 0; k < 5+rng.IntN(40); k++ {
			a, b := toks[rng.IntN(len(toks))], toks[rng.IntN(len(toks))]
			if len(a)+len(b) > 12 {
				continue
			}
			if _, ok := vocab[a+b]; !ok {
				vocab[a+b] = int32(len(vocab))
				toks = append(toks, a+b)
			}
			merges = append(merges, [2]string{a, b})
		}
		m, err := newBPE(vocab, merges, bpeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m.cache = nil
		sc := &scratch{}
		for w := 0; w < 20; w++ {
			var word []byte
			n := 1 + rng.IntN(12)
			if w%5 == 0 {
				n = 200 + rng.IntN(300)
			}
			var chars []int32
			for i := 0; i < n; i++ {
				c := alpha[rng.IntN(len(alpha))]
				word = append(word, c...)
				chars = append(chars, vocab[c])
			}
			got, err := m.tokenize(nil, word, sc)
			want := naiveMerge(chars, m.merges)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("round %d %q: got %v %v, want %v", round, word, got, err, want)
			}
		}
	}
}

// TestMalformedBPE checks that broken BPE sections of tokenizer.json are
// errors that say what is wrong.
func TestMalformedBPE(t *testing.T) {
	base := `{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]}%s}`
	cases := []struct{ json, want string }{
		{`{"model":{"type":"BPE","merges":[]}}`, "model.vocab: missing"},
		{`{"model":{"type":"BPE","vocab":{"a":0}}}`, "model.merges: missing"},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[["a","c"]]}}`, `merges[0]: token "c" is not in the vocabulary`},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[["a","b"]]}}`, `merges[0]: the merged token "ab" is not in the vocabulary`},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b c"]}}`, `model.merges[0]: "a b c" is not two tokens`},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b", ["a","b"]]}}`, `model.merges[1]`},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a"]]}}`, `model.merges[0]`},
		{`{"model":{"type":"BPE","vocab":{"a":-1},"merges":[]}}`, "negative id"},
		{`{"model":{"type":"BPE","vocab":["a"],"merges":[]}}`, "model.vocab"},
		{`{"model":{"type":"BPE","vocab":{"a":0},"merges":[],"dropout":0.1}}`, "model.dropout: 0.1 is not supported"},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]],"continuing_subword_prefix":"##"}}`, `"b" is shorter than the continuing_subword_prefix "##"`},
		{fmt.Sprintf(base, `,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"a(?=b)"},"behavior":"Isolated","invert":false}`), `look-around "(?="`},
		{fmt.Sprintf(base, `,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"\\d+"},"behavior":"Isolated","invert":false}`), `\d is Unicode in tokenizers`},
		{fmt.Sprintf(base, `,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"[a\\S]"},"behavior":"Isolated","invert":false}`), `\S inside brackets is not supported`},
		{fmt.Sprintf(base, `,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"\\Qa\\E"},"behavior":"Isolated","invert":false}`), `\Q quoting`},
		{fmt.Sprintf(base, `,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"\\pN"},"behavior":"Isolated","invert":false}`), `\p without braces`},
		{fmt.Sprintf(base, `,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"(a)\\1"},"behavior":"Isolated","invert":false}`), `pattern "(a)\\1"`},
		{fmt.Sprintf(base, `,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"("},"behavior":"Isolated","invert":false}`), "pre_tokenizer.pattern.Regex: pattern \"(\""},
		{fmt.Sprintf(base, `,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"a"},"behavior":"Sideways","invert":false}`), "pre_tokenizer.behavior"},
		{fmt.Sprintf(base, `,"pre_tokenizer":{"type":"Split","pattern":{},"behavior":"Isolated","invert":false}`), "pre_tokenizer.pattern: neither String nor Regex"},
		{fmt.Sprintf(base, `,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"a"},"behavior":"Isolated"}`), "pre_tokenizer.invert: missing"},
		{fmt.Sprintf(base, `,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":"yes"}`), "pre_tokenizer.add_prefix_space"},
		{fmt.Sprintf(base, `,"decoder":{"kind":"ByteLevel"}`), "decoder.type: missing"},
	}
	for i, c := range cases {
		_, err := FromJSON(strings.NewReader(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %d: err %v, want it to mention %q", i, err, c.want)
		}
	}
	// A missing unk token fails on the first word that needs it, as in
	// tokenizers (UnkTokenOutOfVocabulary), not at load.
	tk, err := FromJSON(strings.NewReader(`{"model":{"type":"BPE","vocab":{"a":0},"merges":[],"unk_token":"<unk>"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Encode("ab"); err == nil || !strings.Contains(err.Error(), `unk token "<unk>" is not in the vocabulary`) {
		t.Errorf("unknown character with a missing unk token: %v", err)
	}
	if e, err := tk.Encode("aa"); err != nil || !slices.Equal(e.IDs, []int32{0, 0}) {
		t.Errorf("known characters: %v %v", e, err)
	}
	if _, err := tk.Decode([]int32{5}, false); err == nil {
		t.Error("Decode of an id outside the vocabulary: no error")
	}
}

// TestVocabMerges loads a Qwen2 checkpoint that ships vocab.json and
// merges.txt but no tokenizer.json (written here from bpe-qwen2's
// tokenizer.json, its added tokens in tokenizer_config.json's
// added_tokens_decoder) and wants bpe-qwen2's goldens: transformers'
// Qwen2Tokenizer builds the same tokenizer from either (checked with
// transformers 5.24 on every corpus line while writing this test).
func TestVocabMerges(t *testing.T) {
	src := "../testdata/tokenizers/bpe-qwen2"
	b, err := os.ReadFile(filepath.Join(src, "tokenizer.json"))
	if err != nil {
		t.Skip("fixtures not generated:", err)
	}
	var tj struct {
		AddedTokens []map[string]any `json:"added_tokens"`
		Model       struct {
			Vocab  map[string]int32 `json:"vocab"`
			Merges [][2]string      `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(b, &tj); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	vb, _ := json.Marshal(tj.Model.Vocab)
	var merges strings.Builder
	merges.WriteString("#version: 0.2\n")
	for _, m := range tj.Model.Merges {
		merges.WriteString(m[0] + " " + m[1] + "\n")
	}
	cb, _ := os.ReadFile(filepath.Join(src, "tokenizer_config.json"))
	var cfg map[string]any
	if err := json.Unmarshal(cb, &cfg); err != nil {
		t.Fatal(err)
	}
	dec := map[string]any{}
	for _, a := range tj.AddedTokens {
		dec[fmt.Sprint(a["id"])] = a
	}
	cfg["added_tokens_decoder"] = dec
	cb, _ = json.Marshal(cfg)
	for name, data := range map[string][]byte{"vocab.json": vb, "merges.txt": []byte(merges.String()), "tokenizer_config.json": cb} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tk, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := corpusLines(t)
	bad := 0
	for i, r := range readGz[bpeRecord](t, "../testdata/golden/bpe-qwen2.jsonl.gz") {
		if msg := checkBPERecord(t, tk, lines, &r); msg != "" {
			if bad++; bad <= 5 {
				t.Errorf("record %d: %s", i+1, msg)
			}
		}
	}
	if tk.PadID() != 1200 {
		t.Errorf("pad id %d, want <|endoftext|> = 1200", tk.PadID())
	}
	// A broken merges.txt is an error naming the line.
	os.WriteFile(filepath.Join(dir, "merges.txt"), []byte("#version: 0.2\na b c\n"), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "merges.txt:2") {
		t.Errorf("bad merges.txt: %v", err)
	}
	os.Remove(filepath.Join(dir, "vocab.json"))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "neither tokenizer.json nor vocab.json") {
		t.Errorf("no vocab.json: %v", err)
	}
}
