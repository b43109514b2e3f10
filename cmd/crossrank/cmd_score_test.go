package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/tokenizer"
	"github.com/crossrank/crossrank/weights"
)

// rankRecord is one line of testdata/golden/rank-<model>.jsonl:
// sentence-transformers' CrossEncoder.predict scores and rank order.
type rankRecord struct {
	Query     string    `json:"query"`
	Documents []string  `json:"documents"`
	Scores    []float64 `json:"scores"`
	Rank      []struct {
		CorpusID int     `json:"corpus_id"`
		Score    float64 `json:"score"`
	} `json:"rank"`
	Activation string `json:"activation"`
	MaxLength  int    `json:"max_length"`
}

type scoreLine struct {
	Logits []float64 `json:"logits"`
	Score  *float64  `json:"score"`
	Scores []float64 `json:"scores"`
}

// runScoreCmd runs `crossrank score args...` on stdin and returns its exit
// code, stdout lines and stderr.
func runScoreCmd(t *testing.T, stdin string, args ...string) (int, []string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(append([]string{"score"}, args...), strings.NewReader(stdin), &out, &errb)
	var lines []string
	if s := strings.TrimSuffix(out.String(), "\n"); s != "" {
		lines = strings.Split(s, "\n")
	}
	return code, lines, errb.String()
}

func readRankGolden(t *testing.T, model string) []rankRecord {
	t.Helper()
	f, err := os.Open("../../testdata/golden/rank-" + model + ".jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []rankRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r rankRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestScoreRankGolden feeds every golden rank set through `crossrank score`
// and wants sentence-transformers' scores and rank order back.
func TestScoreRankGolden(t *testing.T) {
	for _, model := range []string{"bert", "xlmr"} {
		t.Run(model, func(t *testing.T) {
			recs := readRankGolden(t, model)
			var in bytes.Buffer
			enc := json.NewEncoder(&in)
			for _, r := range recs {
				if r.Activation != "Sigmoid" || r.MaxLength != 512 {
					t.Fatalf("golden made with activation %s, max_length %d: the test assumes the defaults Sigmoid, 512", r.Activation, r.MaxLength)
				}
				for _, d := range r.Documents {
					enc.Encode(map[string]string{"query": r.Query, "document": d})
				}
			}
			code, lines, stderr := runScoreCmd(t, in.String(), "--model", "../../testdata/models/"+model, "--batch-size", "16")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			worst, n := 0.0, 0
			for ri, r := range recs {
				got := make([]float64, len(r.Documents))
				for i := range r.Documents {
					if n >= len(lines) {
						t.Fatalf("%d output lines, want more", len(lines))
					}
					var sl scoreLine
					if err := json.Unmarshal([]byte(lines[n]), &sl); err != nil || sl.Score == nil || len(sl.Logits) != 1 {
						t.Fatalf("line %d: %q (%v)", n+1, lines[n], err)
					}
					n++
					if s := 1 / (1 + math.Exp(-sl.Logits[0])); math.Abs(s-*sl.Score) > 1e-6 {
						t.Errorf("line %d: score %v is not sigmoid(logit %v)", n, *sl.Score, sl.Logits[0])
					}
					got[i] = *sl.Score
					worst = max(worst, math.Abs(got[i]-r.Scores[i]))
				}
				checkRankOrder(t, ri, got, r)
			}
			if n != len(lines) {
				t.Errorf("%d output lines for %d pairs", len(lines), n)
			}
			t.Logf("%s: %d pairs, max |score - CrossEncoder.predict| %.3g", model, n, worst)
			if worst > 1e-4 {
				t.Errorf("%s: max score error %.3g, want <= 1e-4", model, worst)
			}
		})
	}
}

// checkRankOrder sorts the documents by our scores as CrossEncoder.rank
// does (descending, ties in input order) and compares with its order; two
// documents may swap only if CrossEncoder's own scores for them are within
// float rounding of each other.
func checkRankOrder(t *testing.T, rec int, got []float64, r rankRecord) {
	t.Helper()
	order := make([]int, len(got))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return got[order[a]] > got[order[b]] })
	if len(r.Rank) != len(order) {
		t.Fatalf("record %d: golden rank has %d entries for %d documents", rec, len(r.Rank), len(order))
	}
	for i, want := range r.Rank {
		if order[i] != want.CorpusID && math.Abs(r.Scores[order[i]]-want.Score) > 1e-6 {
			t.Errorf("record %d: rank %d is document %d, CrossEncoder.rank has %d", rec, i, order[i], want.CorpusID)
			return
		}
	}
}

func TestScoreBatchSizeDoesNotMatter(t *testing.T) {
	recs := readRankGolden(t, "xlmr")
	var in bytes.Buffer
	for _, d := range recs[0].Documents {
		b, _ := json.Marshal(map[string]string{"query": recs[0].Query, "document": d})
		in.Write(append(b, '\n'))
	}
	in.WriteString("\n  \n") // blank lines are skipped
	var outs [][]string
	for _, bs := range []string{"1", "7", "64"} {
		code, lines, stderr := runScoreCmd(t, in.String(), "--model", "../../testdata/models/xlmr", "--batch-size", bs)
		if code != 0 {
			t.Fatalf("--batch-size %s: exit %d: %s", bs, code, stderr)
		}
		if len(lines) != len(recs[0].Documents) {
			t.Fatalf("--batch-size %s: %d lines for %d pairs", bs, len(lines), len(recs[0].Documents))
		}
		outs = append(outs, lines)
	}
	for i := range outs[0] {
		var a, b, c scoreLine
		json.Unmarshal([]byte(outs[0][i]), &a)
		json.Unmarshal([]byte(outs[1][i]), &b)
		json.Unmarshal([]byte(outs[2][i]), &c)
		if math.Abs(a.Logits[0]-b.Logits[0]) >= 1e-5 || math.Abs(a.Logits[0]-c.Logits[0]) >= 1e-5 {
			t.Errorf("pair %d: logits %v, %v, %v with batch sizes 1, 7, 64", i, a.Logits, b.Logits, c.Logits)
		}
	}
}

func TestScoreMaxLength(t *testing.T) {
	long := `{"query":"q","document":"` + strings.Repeat("word ", 400) + `"}` + "\n"
	code, full, stderr := runScoreCmd(t, long, "--model", "../../testdata/models/bert")
	if code != 0 {
		t.Fatal(stderr)
	}
	code, short, stderr := runScoreCmd(t, long, "--model", "../../testdata/models/bert", "--max-length", "16")
	if code != 0 {
		t.Fatal(stderr)
	}
	if full[0] == short[0] {
		t.Errorf("--max-length 16 changed nothing: %s", short[0])
	}
	code, _, stderr = runScoreCmd(t, long, "--model", "../../testdata/models/bert", "--max-length", "513")
	if code != 1 || !strings.Contains(stderr, "--max-length 513: the model takes at most 512 tokens") {
		t.Errorf("--max-length 513: exit %d, %q", code, stderr)
	}
}

func TestScoreErrors(t *testing.T) {
	good := `{"query":"a","document":"b"}` + "\n"
	tests := []struct {
		name, stdin string
		args        []string
		code        int
		lines       int // output lines written before the error
		want        string
	}{
		{"bad json", good + "{\"query\": \"a\",\n", nil, 1, 1, "line 2: not a JSON object"},
		{"missing document", good + good + `{"query":"a"}` + "\n", nil, 1, 2, `line 3: missing "document"`},
		{"missing both", `{"q":"a","d":"b"}`, nil, 1, 0, `line 1: missing "query" and "document"`},
		{"not an object", good + "[1,2]\n", nil, 1, 1, "line 2: not a JSON object"},
		{"two values", `{"query":"a","document":"b"} {}`, nil, 1, 0, "line 1: more than one JSON value"},
		{"wrong type", `{"query":1,"document":"b"}`, nil, 1, 0, "line 1: not a JSON object"},
		{"no model", good, []string{}, 2, 0, "usage: crossrank score"},
		{"missing model", good, []string{"--model", "../../testdata/models/nope"}, 1, 0, "nope"},
		{"batch size", good, []string{"--model", "../../testdata/models/bert", "--batch-size", "0"}, 1, 0, "--batch-size 0"},
		{"precision", good, []string{"--model", "../../testdata/models/bert", "--precision", "fp16"}, 1, 0, `precision "fp16"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if args == nil {
				args = []string{"--model", "../../testdata/models/bert", "--batch-size", "1"}
			}
			code, lines, stderr := runScoreCmd(t, tt.stdin, args...)
			if code != tt.code || len(lines) != tt.lines || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, %d lines, stderr %q; want exit %d, %d lines, stderr containing %q",
					code, len(lines), stderr, tt.code, tt.lines, tt.want)
			}
		})
	}
}

func TestScoreActivation(t *testing.T) {
	cfg := func(js string) *weights.Config {
		c, err := weights.ParseConfig([]byte(`{"architectures":["BertForSequenceClassification"]` + js + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name   string
		js     string
		logits []float32
		score  *float64
		scores []float64
	}{
		{"one label: sigmoid", `,"num_labels":1`, []float32{0}, ptr(0.5), nil},
		{"two labels: identity", `,"num_labels":2`, []float32{-1, 2}, nil, []float64{-1, 2}},
		{"named identity", `,"num_labels":1,"sentence_transformers":{"activation_fn":"torch.nn.modules.linear.Identity"}`, []float32{-3}, ptr(-3), nil},
		{"old key", `,"num_labels":1,"sbert_ce_default_activation_function":"torch.nn.modules.linear.Identity"`, []float32{-3}, ptr(-3), nil},
		// Not a torch path: sentence-transformers ignores it (without
		// trust_remote_code) and uses the default.
		{"untrusted path", `,"num_labels":1,"sentence_transformers":{"activation_fn":"my.module.Custom"}`, []float32{0}, ptr(0.5), nil},
		{"named sigmoid on two labels", `,"num_labels":2,"sentence_transformers":{"activation_fn":"torch.nn.modules.activation.Sigmoid"}`, []float32{0, 0}, nil, []float64{0.5, 0.5}},
	}
	for _, tt := range tests {
		act, _, err := scoreActivation(cfg(tt.js))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		out := act(tt.logits)
		if (tt.score == nil) != (out.Score == nil) || tt.score != nil && math.Abs(*tt.score-*out.Score) > 1e-12 {
			t.Errorf("%s: score %v, want %v", tt.name, out.Score, tt.score)
		}
		if len(tt.scores) != len(out.Scores) {
			t.Errorf("%s: scores %v, want %v", tt.name, out.Scores, tt.scores)
		}
		for i := range tt.scores {
			if math.Abs(tt.scores[i]-out.Scores[i]) > 1e-12 {
				t.Errorf("%s: scores %v, want %v", tt.name, out.Scores, tt.scores)
			}
		}
	}
	if _, warn, _ := scoreActivation(cfg(`,"sentence_transformers":{"activation_fn":"my.module.Custom"}`)); !strings.Contains(warn, `"my.module.Custom"`) {
		t.Errorf("untrusted activation: warning %q", warn)
	}
	if _, _, err := scoreActivation(cfg(`,"sentence_transformers":{"activation_fn":"torch.nn.modules.activation.Softmax"}`)); err == nil ||
		!strings.Contains(err.Error(), `"torch.nn.modules.activation.Softmax"`) {
		t.Errorf("unsupported torch activation: %v", err)
	}
}

func ptr(x float64) *float64 { return &x }

// FuzzScoreLine feeds arbitrary input lines to the line parser and
// tokenizer: each gives a sequence or an error, never a panic.
func FuzzScoreLine(f *testing.F) {
	tok, err := tokenizer.Load("../../testdata/models/bert")
	if err != nil {
		f.Fatal(err)
	}
	s := &scorer{tok: tok, trunc: tokenizer.Truncation{MaxLength: 64}}
	valid := map[string]bool{`{"query":"a","document":"b"}`: true, `{"query":"","document":"héllo [SEP] wörld"}`: true}
	for l := range valid {
		f.Add([]byte(l))
	}
	f.Add([]byte(`{"query":null}`))
	f.Add([]byte(`{"query":"a","document":"b"} x`))
	f.Fuzz(func(t *testing.T, line []byte) {
		seq, err := s.encode(line)
		if err != nil && valid[string(line)] {
			t.Fatalf("a valid line refused: %v", err)
		}
		if err == nil && (len(seq.IDs) == 0 || len(seq.IDs) > 64 || len(seq.TypeIDs) != len(seq.IDs)) {
			t.Fatalf("%q: %d ids, %d type ids", line, len(seq.IDs), len(seq.TypeIDs))
		}
	})
}

// TestScorePrecision: --precision reaches the backend: bf16 and int8
// scores differ from fp32's, by no more than the logit bounds of bert's
// lowp_test.go allow (|Δlogit| <= 1 moves a sigmoid score by <= 0.25; the
// fixture's measured score error is far smaller).
func TestScorePrecision(t *testing.T) {
	in := strings.Repeat(`{"query":"a small robot","document":"the storm passed over the training data"}`+"\n", 3) +
		`{"query":"who wrote it","document":"a novel published in 1960"}` + "\n"
	code, fp32, stderr := runScoreCmd(t, in, "--model", "../../testdata/models/bert")
	if code != 0 {
		t.Fatalf("fp32: exit %d: %s", code, stderr)
	}
	for _, prec := range []string{"bf16", "int8"} {
		t.Run(prec, func(t *testing.T) {
			be, err := cpu.New(cpu.Options{Precision: prec})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(be.Name(), "fp32:") {
				t.Skipf("this CPU has no fast %s kernel, so --precision %s runs fp32 (%s)", prec, prec, be.Name())
			}
			code, lines, stderr := runScoreCmd(t, in, "--model", "../../testdata/models/bert", "--precision", prec)
			if code != 0 || len(lines) != len(fp32) {
				t.Fatalf("%s: exit %d, %d lines: %s", prec, code, len(lines), stderr)
			}
			worst := 0.0
			for i := range lines {
				var a, b scoreLine
				if json.Unmarshal([]byte(lines[i]), &a) != nil || json.Unmarshal([]byte(fp32[i]), &b) != nil || a.Score == nil || b.Score == nil {
					t.Fatalf("%s: line %d: %q / %q", prec, i+1, lines[i], fp32[i])
				}
				worst = max(worst, math.Abs(*a.Score-*b.Score))
			}
			t.Logf("%s: max |score - fp32 score| %.3g", prec, worst)
			if worst == 0 || worst > 0.1 {
				t.Errorf("%s: max |score - fp32 score| %.3g, want in (0, 0.1]", prec, worst)
			}
		})
	}
}
