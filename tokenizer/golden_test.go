package tokenizer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// goldenRecord is one line of testdata/golden/tokens-<name>.jsonl.gz (see
// testdata/gen/README.md): what transformers' fast tokenizer returned for a
// text or a (query, document) pair under a truncation strategy and length.
type goldenRecord struct {
	Kind          string  `json:"kind"` // "single" or "pair"
	Text          string  `json:"text"`
	Query         string  `json:"query"`
	Document      string  `json:"document"`
	Truncation    string  `json:"truncation"` // "none" or an HF strategy
	MaxLength     *int    `json:"max_length"`
	InputIDs      []int32 `json:"input_ids"`
	TokenTypeIDs  []int32 `json:"token_type_ids"`
	AttentionMask []int32 `json:"attention_mask"`
	Error         string  `json:"error"` // set when HF raised
}

// goldenDir finds the tokenizer folder a golden file was made from.
func goldenDir(name string) string {
	for _, d := range []string{"models", "tokenizers"} {
		p := filepath.Join("..", "testdata", d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// TestGolden encodes every record of every tokens-*.jsonl.gz golden file
// and wants HF's input_ids, token_type_ids and attention_mask exactly (or
// an error where HF raised one).
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("../testdata/golden/tokens-*.jsonl.gz")
	if len(files) == 0 {
		t.Fatal("no golden token files in testdata/golden (committed; MANIFEST.json lists them)")
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "tokens-"), ".jsonl.gz")
		t.Run(name, func(t *testing.T) {
			dir := goldenDir(name)
			if dir == "" {
				t.Fatalf("no tokenizer folder for %s under testdata/models or testdata/tokenizers", f)
			}
			runGolden(t, f, dir)
		})
	}
}

// TestGoldenVocabOnly runs the BERT golden records through the same
// vocabulary loaded the old way (vocab.txt + tokenizer_config.json, no
// tokenizer.json): transformers builds the same tokenizer from either.
func TestGoldenVocabOnly(t *testing.T) {
	const golden = "../testdata/golden/tokens-bert.jsonl.gz"
	dir := "../testdata/tokenizers/bert-vocab-only"
	a, errA := os.ReadFile(filepath.Join(dir, "vocab.txt"))
	b, errB := os.ReadFile("../testdata/models/bert/vocab.txt")
	if _, err := os.Stat(golden); err != nil || errA != nil || errB != nil {
		t.Fatalf("committed fixtures missing (MANIFEST.json lists them): %v %v %v", err, errA, errB)
	}
	if string(a) != string(b) {
		t.Skip("bert-vocab-only has another vocabulary than the bert model")
	}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err == nil {
		t.Fatalf("%s has a tokenizer.json; the test wants the vocab.txt path", dir)
	}
	runGolden(t, golden, dir)
}

func runGolden(t *testing.T, file, dir string) {
	tk, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 64<<20)
	counts := map[string][2]int{} // kind/strategy/max -> matched, total
	failed := 0
	for line := 1; sc.Scan(); line++ {
		var r goldenRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s:%d: %v", file, line, err)
		}
		key := fmt.Sprintf("%s %s", r.Kind, r.Truncation)
		if r.MaxLength != nil {
			key += fmt.Sprintf(" %d", *r.MaxLength)
		}
		c := counts[key]
		c[1]++
		if msg := checkGolden(tk, &r); msg == "" {
			c[0]++
		} else if failed++; failed <= 10 {
			t.Errorf("%s:%d (%s): %s", filepath.Base(file), line, key, msg)
		}
		counts[key] = c
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(counts))
	total, matched := 0, 0
	for k, c := range counts {
		keys = append(keys, k)
		total += c[1]
		matched += c[0]
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Logf("%-28s %5d of %5d", k, counts[k][0], counts[k][1])
	}
	t.Logf("all: %d of %d", matched, total)
	if total == 0 {
		t.Fatal("no records")
	}
}

func checkGolden(tk *Tokenizer, r *goldenRecord) string {
	opts := Truncation{Strategy: DoNotTruncate}
	if r.Truncation != "none" {
		s, err := ParseStrategy(r.Truncation)
		if err != nil {
			return err.Error()
		}
		if r.MaxLength == nil {
			return "truncation without max_length"
		}
		opts = Truncation{MaxLength: *r.MaxLength, Strategy: s}
	}
	var e *Encoding
	var err error
	switch r.Kind {
	case "single":
		e, err = tk.EncodeTruncated(r.Text, opts)
	case "pair":
		e, err = encodePairLikeTransformers(tk, r.Query, r.Document, opts)
	default:
		return "unknown kind " + r.Kind
	}
	if r.Error != "" {
		if err == nil {
			return fmt.Sprintf("no error; HF raised %q", r.Error)
		}
		return ""
	}
	if err != nil {
		return err.Error()
	}
	// The same through Tokenize + EncodeIDs, the route of callers that
	// window documents themselves.
	if r.Kind == "pair" && r.Document != "" {
		a, err1 := tk.Tokenize(r.Query)
		b, err2 := tk.Tokenize(r.Document)
		e2, err3 := tk.EncodeIDs(a, b, true, opts)
		if err1 != nil || err2 != nil || err3 != nil || !slices.Equal(e2.IDs, e.IDs) || !slices.Equal(e2.TypeIDs, e.TypeIDs) || e2.Truncated != e.Truncated {
			return fmt.Sprintf("Tokenize + EncodeIDs differ from EncodePair: %v %v %v", err1, err2, err3)
		}
	}
	if !slices.Equal(e.IDs, r.InputIDs) || !slices.Equal(e.TypeIDs, r.TokenTypeIDs) || !slices.Equal(e.AttentionMask, r.AttentionMask) {
		return fmt.Sprintf("query %.60q document %.60q text %.60q\n got %v\nwant %v\n got types %v\nwant types %v",
			r.Query, r.Document, r.Text, e.IDs, r.InputIDs, e.TypeIDs, r.TokenTypeIDs)
	}
	return ""
}

// encodePairLikeTransformers is how the golden records were made: one
// tokenizer(query, document) call per pair. For a single call transformers
// drops an empty document (`[(text, text_pair)] if text_pair else [text]` in
// tokenization_utils_tokenizers.py) and encodes the query alone, while a
// batched call, which sentence-transformers' CrossEncoder makes, keeps it
// as an empty second sequence, as the Rust library does. EncodePair follows
// the Rust library and CrossEncoder; this helper adds the single-call quirk.
func encodePairLikeTransformers(tk *Tokenizer, q, d string, opts Truncation) (*Encoding, error) {
	if d == "" {
		return tk.EncodeTruncated(q, opts)
	}
	return tk.EncodePair(q, d, opts)
}

// TestVocabTxtMatchesTokenizerJSON loads the real MiniLM vocabulary twice,
// from the tokenizer.json Hugging Face wrote and from its vocab.txt +
// tokenizer_config.json alone, and wants the same ids for every corpus
// line and pair.
func TestVocabTxtMatchesTokenizerJSON(t *testing.T) {
	src := "../testdata/tokenizers/minilm-real"
	vocab, err1 := os.ReadFile(filepath.Join(src, "vocab.txt"))
	cfg, err2 := os.ReadFile(filepath.Join(src, "tokenizer_config.json"))
	corpus, err3 := os.ReadFile("../testdata/corpus.jsonl")
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("committed fixtures missing (MANIFEST.json lists them): %v %v %v", err1, err2, err3)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), vocab, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	fromJSON, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	fromVocab, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fromJSON.VocabSize() != fromVocab.VocabSize() || fromJSON.PadID() != fromVocab.PadID() || fromJSON.ModelMaxLength() != fromVocab.ModelMaxLength() {
		t.Errorf("vocab %d/%d pad %d/%d max %d/%d", fromJSON.VocabSize(), fromVocab.VocabSize(), fromJSON.PadID(), fromVocab.PadID(), fromJSON.ModelMaxLength(), fromVocab.ModelMaxLength())
	}
	var texts []string
	for _, line := range strings.Split(strings.TrimSpace(string(corpus)), "\n") {
		var r struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, r.Text)
	}
	n := 0
	for i := range texts {
		a, errA := fromJSON.EncodePair(texts[i], texts[(i+1)%len(texts)], Truncation{MaxLength: 128})
		b, errB := fromVocab.EncodePair(texts[i], texts[(i+1)%len(texts)], Truncation{MaxLength: 128})
		if errA != nil || errB != nil || !slices.Equal(a.IDs, b.IDs) || !slices.Equal(a.TypeIDs, b.TypeIDs) {
			if n++; n <= 5 {
				t.Errorf("line %d: tokenizer.json %v %v, vocab.txt %v %v", i+1, a, errA, b, errB)
			}
		}
	}
}

// TestLogitsGoldenIDs checks the ids that transformers fed the models for
// the logits goldens (testdata/golden/logits-<model>.jsonl.gz: one
// tokenizer(query, document, truncation="longest_first",
// max_length=model_max_length) call per pair), so the forward-pass tests
// and the tokenizer agree on their inputs.
func TestLogitsGoldenIDs(t *testing.T) {
	files, _ := filepath.Glob("../testdata/golden/logits-*.jsonl.gz")
	if len(files) == 0 {
		t.Fatal("no logits goldens in testdata/golden (committed; MANIFEST.json lists them)")
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "logits-"), ".jsonl.gz")
		t.Run(name, func(t *testing.T) { checkPairIDs(t, f, filepath.Join("..", "testdata", "models", name)) })
	}
}

// TestRealMiniLMIDs checks the ids of the real-weights goldens
// (real-minilm.jsonl.gz) with the committed real tokenizer and, under
// `make test-real` (CROSSRANK_REAL set), with the tokenizer saved beside the
// real weights.
func TestRealMiniLMIDs(t *testing.T) {
	const f = "../testdata/golden/real-minilm.jsonl.gz"
	if _, err := os.Stat(f); err != nil {
		t.Fatalf("committed fixture missing (MANIFEST.json lists it): %v", err)
	}
	checkPairIDs(t, f, "../testdata/tokenizers/minilm-real")
	if real := os.Getenv("CROSSRANK_REAL"); real != "" {
		checkPairIDs(t, f, filepath.Join(real, "minilm-cross"))
	}
}

func checkPairIDs(t *testing.T, file, dir string) {
	t.Helper()
	tk, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	maxLen := tk.ModelMaxLength()
	if maxLen == 0 {
		maxLen = 512
	}
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 64<<20)
	n, bad := 0, 0
	for sc.Scan() {
		var r goldenRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		n++
		e, err := encodePairLikeTransformers(tk, r.Query, r.Document, Truncation{MaxLength: maxLen})
		if err != nil || !slices.Equal(e.IDs, r.InputIDs) || !slices.Equal(e.TypeIDs, r.TokenTypeIDs) {
			if bad++; bad <= 5 {
				t.Errorf("%s record %d (max_length %d): got %v %v\nwant %v", filepath.Base(file), n, maxLen, e, err, r.InputIDs)
			}
		}
	}
	if n == 0 {
		t.Fatal("no records")
	}
	t.Logf("%s with %s: %d of %d", filepath.Base(file), dir, n-bad, n)
}
