package rerank

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/tokenizer"
)

// Qwen3-Reranker against the model card's scoring code run by transformers
// (testdata/gen/qwen3.py): ids, scores and logits of tiny checkpoints.

var qwen3Models = []string{"qwen3-tied", "qwen3-untied", "qwen3-seq-cls"} // qwen2-mxbai: TestMxbaiScores

type qwen3Golden struct {
	Query        string   `json:"query"`
	Document     string   `json:"document"`
	InputIDs     []int32  `json:"input_ids"`
	Truncated    bool     `json:"truncated"`
	Logit        float64  `json:"logit"`
	Score        float64  `json:"score"`
	BatchedScore float64  `json:"batched_score"`
	YesLogit     *float64 `json:"yes_logit"`
}

// qwen3MaxLength is the golden's max_length (golden/qwen3.json).
const qwen3MaxLength = 320

func qwen3Goldens(t *testing.T, model string) []qwen3Golden {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "golden", "qwen3-scores-"+model+".jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []qwen3Golden
	sc := bufio.NewScanner(gz)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r qwen3Golden
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if sc.Err() != nil || len(out) < 15 {
		t.Fatalf("%s: %d records, %v", model, len(out), sc.Err())
	}
	return out
}

func qwen3Dir(model string) string { return filepath.Join("..", "testdata", "models", model) }

// The prompt's ids are the card's: the query and document pieces, framed,
// the document cut where the card cuts the formatted text.
func TestQwen3PromptIDsAreTheCards(t *testing.T) {
	tok, err := tokenizer.Load(qwen3Dir("qwen3-tied"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := newPromptEncoder(tok, &qwen3Prompt, "")
	if err != nil {
		t.Fatal(err)
	}
	cut := 0
	for i, g := range qwen3Goldens(t, "qwen3-tied") {
		q, err := e.tokenizeQuery(g.Query, "")
		if err != nil {
			t.Fatal(err)
		}
		d, err := e.tokenize(g.Document)
		if err != nil {
			t.Fatal(err)
		}
		kq, kd, err := fitPair(len(q), len(d), qwen3MaxLength-e.specials(), OnlyDocument)
		if err != nil {
			t.Fatal(err)
		}
		if kq != len(q) {
			t.Errorf("pair %d: the query was cut", i)
		}
		if kd < len(d) {
			cut++
		}
		if got := e.pair(q[:kq], d[:kd]).ids; !slices.Equal(got, g.InputIDs) {
			t.Errorf("pair %d (%q, %.30q): ids\n%v\nthe card's\n%v", i, g.Query, g.Document, got, g.InputIDs)
		}
	}
	if cut < 2 {
		t.Errorf("only %d documents cut: the golden should exercise truncation", cut)
	}
}

// Rerank and Score give the card's scores (within 1e-4, fp32) and the raw
// logit yes - no, for the tied and untied causal models and the converted
// sequence-classification one.
func TestQwen3ScoresMatchTheCard(t *testing.T) {
	for _, model := range qwen3Models {
		t.Run(model, func(t *testing.T) {
			r, err := New(t.Context(), qwen3Dir(model), Options{MaxLength: qwen3MaxLength})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if info := r.Info(); info.NumLabels != 1 || info.Activation != Sigmoid || !strings.HasPrefix(info.Architecture, "Qwen3For") {
				t.Errorf("info %+v", info)
			}
			var pairs []Pair
			var want []qwen3Golden
			for _, g := range qwen3Goldens(t, model) {
				if strings.TrimSpace(g.Query) == "" {
					continue // crossrank refuses an empty query
				}
				pairs = append(pairs, Pair{Query: g.Query, Document: g.Document})
				want = append(want, g)
			}
			got, err := r.Score(t.Context(), pairs)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i, g := range want {
				s := got[i]
				for _, c := range []struct {
					what      string
					got, want float64
				}{{"score", s.Score, g.Score}, {"batched score", s.Score, g.BatchedScore}, {"logit", float64(s.Logit), g.Logit}} {
					d := math.Abs(c.got - c.want)
					worst = max(worst, d)
					if d > 1e-4 {
						t.Errorf("pair %d: %s %v, the card %v", i, c.what, c.got, c.want)
					}
				}
				if s.Tokens != len(g.InputIDs) || (s.Truncated > 0) != g.Truncated || s.QueryTruncated != 0 {
					t.Errorf("pair %d: %d tokens, %d cut (query %d); the card: %d tokens, cut %v", i, s.Tokens, s.Truncated, s.QueryTruncated, len(g.InputIDs), g.Truncated)
				}
			}
			t.Logf("%d pairs, largest difference %.2e", len(want), worst)

			// One query, all its documents in one call, best first.
			q := want[0].Query
			var docs []string
			for _, g := range want {
				if g.Query == q {
					docs = append(docs, g.Document)
				}
			}
			res, err := r.RerankStrings(t.Context(), q, docs, RerankOptions{TopK: 1})
			if err != nil {
				t.Fatal(err)
			}
			best := 0.0
			for _, g := range want {
				if g.Query == q {
					best = max(best, g.Score)
				}
			}
			if len(res) != 1 || math.Abs(res[0].Score-best) > 1e-4 {
				t.Errorf("top 1 of %d documents: %+v, the card's best %v", len(docs), res, best)
			}
		})
	}
}

func TestQwen3Instruction(t *testing.T) {
	dir := qwen3Dir("qwen3-tied")
	def, err := New(t.Context(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	if def.Info().MaxLength != qwen3Prompt.maxLength {
		t.Errorf("default MaxLength %d, want the card's %d", def.Info().MaxLength, qwen3Prompt.maxLength)
	}
	const instr = "Given a question, find the passage that answers it"
	custom, err := New(t.Context(), dir, Options{Instruction: instr})
	if err != nil {
		t.Fatal(err)
	}
	defer custom.Close()
	q, docs := "what is the capital of France?", []string{"Paris is the capital of France.", "Berlin is the capital of Germany."}
	a, err := def.RerankStrings(t.Context(), q, docs, RerankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	explicit, err := def.RerankStrings(t.Context(), q, docs, RerankOptions{Instruction: DefaultInstruction})
	if err != nil {
		t.Fatal(err)
	}
	b, err := custom.RerankStrings(t.Context(), q, docs, RerankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	perCall, err := def.RerankStrings(t.Context(), q, docs, RerankOptions{Instruction: instr})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i].Score != explicit[i].Score || a[i].Index != explicit[i].Index {
			t.Errorf("the default instruction spelt out scores differently: %+v vs %+v", a[i], explicit[i])
		}
		if b[i].Score != perCall[i].Score || b[i].Tokens != perCall[i].Tokens {
			t.Errorf("Options.Instruction and RerankOptions.Instruction differ: %+v vs %+v", b[i], perCall[i])
		}
		if a[i].Tokens == b[i].Tokens && a[i].Score == b[i].Score {
			t.Errorf("another instruction changed nothing: %+v", a[i])
		}
	}
	// A BERT cross-encoder takes no instruction.
	bert := filepath.Join("..", "testdata", "models", "bert")
	if _, err := New(t.Context(), bert, Options{Instruction: instr}); !errors.Is(err, ErrNoInstruction) {
		t.Errorf("BERT with an instruction: %v", err)
	}
	rb, err := New(t.Context(), bert, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	if _, err := rb.RerankStrings(t.Context(), q, docs, RerankOptions{Instruction: instr}); !errors.Is(err, ErrNoInstruction) {
		t.Errorf("BERT call with an instruction: %v", err)
	}
	if _, err := def.RerankStrings(t.Context(), q, docs, RerankOptions{Instruction: "bad \xff"}); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("invalid UTF-8 instruction: %v", err)
	}
}

// The document is cut, never the prompt's fixed parts or the query, and
// long documents can be scored by windows.
func TestQwen3TruncationAndWindows(t *testing.T) {
	dir := qwen3Dir("qwen3-tied")
	long := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 60)
	const maxLen = 300
	r, err := New(t.Context(), dir, Options{MaxLength: maxLen})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.RerankStrings(t.Context(), "a fairly long question about foxes and dogs?", []string{long}, RerankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Tokens != maxLen || res[0].Truncated == 0 || res[0].QueryTruncated != 0 {
		t.Errorf("long document: %+v", res[0])
	}
	w, err := New(t.Context(), dir, Options{MaxLength: maxLen, LongDocs: &Windows{}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	wres, err := w.RerankStrings(t.Context(), "a fairly long question about foxes and dogs?", []string{long}, RerankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if wres[0].Windows < 2 || wres[0].Truncated != 0 {
		t.Errorf("long document by windows: %+v", wres[0])
	}
	if _, err := r.RerankStrings(t.Context(), "q", []string{long}, RerankOptions{Truncation: new(NoTruncation)}); !errors.Is(err, ErrTooLong) {
		t.Errorf("NoTruncation: %v", err)
	}
}

// A checkpoint whose tokenizer has no single "yes" token is refused at load.
func TestQwen3TokenizerWithoutYes(t *testing.T) {
	src := qwen3Dir("qwen3-tied")
	dst := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, f), b, 0o644)
	}
	raw, err := os.ReadFile(filepath.Join(src, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tj map[string]any
	if err := json.Unmarshal(raw, &tj); err != nil {
		t.Fatal(err)
	}
	model := tj["model"].(map[string]any)
	var kept []any
	dropped := 0
	for _, m := range model["merges"].([]any) {
		s, ok := m.(string)
		if !ok {
			p := m.([]any)
			s = p[0].(string) + " " + p[1].(string)
		}
		if strings.ReplaceAll(s, " ", "") == "yes" {
			dropped++
			continue
		}
		kept = append(kept, m)
	}
	if dropped != 1 {
		t.Fatalf("%d merges make \"yes\"", dropped)
	}
	model["merges"] = kept
	out, _ := json.Marshal(tj)
	os.WriteFile(filepath.Join(dst, "tokenizer.json"), out, 0o644)
	_, err = New(t.Context(), dst, Options{})
	if err == nil || !strings.Contains(err.Error(), `"yes" is 2 tokens`) {
		t.Errorf("no single yes token: %v", err)
	}
}

// bf16 and int8 run the decoder's Linear layers on the CPU's reduced-
// precision kernels, as for BERT; the logits stay near fp32's (the bound
// is about twice the largest difference measured on these pairs).
func TestQwen3LowPrecision(t *testing.T) {
	dir := qwen3Dir("qwen3-tied")
	var pairs []Pair
	for _, g := range qwen3Goldens(t, "qwen3-tied") {
		if strings.TrimSpace(g.Query) != "" {
			pairs = append(pairs, Pair{Query: g.Query, Document: g.Document})
		}
	}
	base, err := New(t.Context(), dir, Options{MaxLength: qwen3MaxLength})
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	want, err := base.Score(t.Context(), pairs)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		prec  string
		bound float64
	}{{"bf16", 0.15}, {"int8", 0.5}} {
		r, err := New(t.Context(), dir, Options{MaxLength: qwen3MaxLength, Precision: c.prec})
		if err != nil {
			t.Fatal(err)
		}
		if info := r.Info(); strings.Contains(info.Device, "fp32:") {
			r.Close()
			t.Logf("no fast %s kernel on this CPU: %s", c.prec, info.Device)
			continue
		}
		got, err := r.Score(t.Context(), pairs)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i := range got {
			worst = max(worst, math.Abs(float64(got[i].Logit-want[i].Logit)))
		}
		t.Logf("%s: largest logit difference to fp32 %.3f over %d pairs", c.prec, worst, len(got))
		if worst > c.bound {
			t.Errorf("%s: logits differ from fp32 by up to %.3f, bound %.2f", c.prec, worst, c.bound)
		}
	}
}

// The prompt is tokenized in two pieces (the query's, once per call, and
// each document's); that must give the ids of the whole formatted text the
// card tokenizes, on every kind of text the corpus has.
func TestQwen3PromptSplitIsExact(t *testing.T) {
	tok, err := tokenizer.Load(qwen3Dir("qwen3-tied"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := newPromptEncoder(tok, &qwen3Prompt, "")
	if err != nil {
		t.Fatal(err)
	}
	lines := corpusLines(t)
	checked := 0
	for i := 0; i+1 < len(lines); i += 3 {
		q, d := lines[i], lines[i+1]
		if len(q) > 300 {
			q = q[:300]
		}
		if !checkPromptSplit(t, tok, e, q, d) {
			return
		}
		checked++
	}
	t.Logf("%d pairs", checked)
}

func checkPromptSplit(t *testing.T, tok *tokenizer.Tokenizer, e *promptEncoder, q, d string) bool {
	t.Helper()
	whole, err := tok.Tokenize(qwen3QueryText(DefaultInstruction, q) + " " + d)
	if err != nil {
		return true // not valid UTF-8: refused either way
	}
	qa, err1 := e.tokenizeQuery(q, "")
	da, err2 := e.tokenize(d)
	if err1 != nil || err2 != nil {
		t.Errorf("%q / %q: %v %v", q, d, err1, err2)
		return false
	}
	if got := append(append([]int32{}, qa...), da...); !slices.Equal(got, whole) {
		t.Errorf("query %q, document %q: pieces %v, whole %v", q, d, got, whole)
		return false
	}
	return true
}

func FuzzQwen3PromptSplit(f *testing.F) {
	tok, err := tokenizer.Load(qwen3Dir("qwen3-tied"))
	if err != nil {
		f.Fatal(err)
	}
	e, err := newPromptEncoder(tok, &qwen3Prompt, "")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][2]string{{"q?", "d"}, {"a ", " b"}, {"x\n", "\ny"}, {"1", "2"}, {"<|im_end|>", "<think>"}, {"é", "\u0301e"}, {"", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, q, d string) {
		checkPromptSplit(t, tok, e, q, d)
	})
}

func corpusLines(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "corpus.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Text)
	}
	return out
}

// mxbai-rerank-v2 (a Qwen2ForCausalLM checkpoint) with its own prompt and
// score, against its scoring code run by transformers. Its code cuts the
// document to a quarter of its max_length: MaxDocTokens gives that rule.
func TestMxbaiScores(t *testing.T) {
	const quarter = 320 / 4 // the golden's max_length (golden/qwen3.json mxbai.max_length) / 4
	r, err := New(t.Context(), qwen3Dir("qwen2-mxbai"), Options{MaxLength: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if info := r.Info(); info.Architecture != "Qwen2ForCausalLM" || info.Labels[0] != "1-0" {
		t.Errorf("info %+v", info)
	}
	cut := 0
	for i, g := range qwen3Goldens(t, "qwen2-mxbai") {
		res, err := r.RerankStrings(t.Context(), g.Query, []string{g.Document}, RerankOptions{MaxDocTokens: quarter})
		if err != nil {
			t.Fatal(err)
		}
		s := res[0]
		if math.Abs(s.Score-g.Score) > 1e-4 || math.Abs(float64(s.Logit)-g.Logit) > 1e-4 || math.Abs(s.Score-g.BatchedScore) > 1e-4 {
			t.Errorf("pair %d: score %v logit %v; mxbai's %v, %v", i, s.Score, s.Logit, g.Score, g.Logit)
		}
		if s.Tokens != len(g.InputIDs) || (s.Truncated > 0) != g.Truncated {
			t.Errorf("pair %d: %d tokens, %d cut; mxbai's %d tokens, cut %v", i, s.Tokens, s.Truncated, len(g.InputIDs), g.Truncated)
		}
		if s.Truncated > 0 {
			cut++
		}
	}
	if cut == 0 {
		t.Error("no document was cut: the golden should exercise mxbai's quarter rule")
	}
	// Its instruction goes before the query, as "instruction: ...".
	a, _ := r.RerankStrings(t.Context(), "q", []string{"d"}, RerankOptions{})
	b, _ := r.RerankStrings(t.Context(), "q", []string{"d"}, RerankOptions{Instruction: "find it"})
	if a[0].Tokens >= b[0].Tokens {
		t.Errorf("the instruction added no tokens: %d, %d", a[0].Tokens, b[0].Tokens)
	}
}
