package tokenizer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

