package qwen3

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/weights"
)

// The goldens of testdata/gen/qwen3.py (see testdata/gen/README.md): the
// Qwen3-Reranker model card's scoring code run by transformers on tiny
// random checkpoints.

const testdata = "../testdata"

// tolerance is the bound on fp32 logits and scores against
// transformers.
const tolerance = 1e-4

type goldenIndex struct {
	Instruction string  `json:"instruction"`
	Prefix      string  `json:"prefix"`
	Suffix      string  `json:"suffix"`
	Template    string  `json:"template"`
	MaxLength   int     `json:"max_length"`
	YesID       int32   `json:"yes_id"`
	NoID        int32   `json:"no_id"`
	PrefixIDs   []int32 `json:"prefix_ids"`
	SuffixIDs   []int32 `json:"suffix_ids"`
	Mxbai       struct {
		Prefix    string `json:"prefix"`
		Suffix    string `json:"suffix"`
		Task      string `json:"task"`
		Sep       string `json:"sep"`
		MaxLength int    `json:"max_length"`
		YesID     int32  `json:"yes_id"` // "1"
		NoID      int32  `json:"no_id"`  // "0"
	} `json:"mxbai"`
	Models map[string]struct {
		Dir             string   `json:"dir"`
		Scores          string   `json:"scores"`
		Hidden          string   `json:"hidden"`
		HiddenLastNorm  bool     `json:"hidden_last_is_normed"`
		Pairs           int      `json:"pairs"`
		Spread          float64  `json:"spread"`
		MaxBatchDiff    float64  `json:"max_batch_diff"`
		Truncated       int      `json:"truncated"`
		MaxDiffToCausal *float64 `json:"max_diff_to_causal"`
	} `json:"models"`
}

type scoreRecord struct {
	Query        string   `json:"query"`
	Document     string   `json:"document"`
	InputIDs     []int32  `json:"input_ids"`
	Truncated    bool     `json:"truncated"`
	YesLogit     *float64 `json:"yes_logit"`
	NoLogit      *float64 `json:"no_logit"`
	Logit        float64  `json:"logit"`
	Score        float64  `json:"score"`
	BatchedScore float64  `json:"batched_score"`
}

type hiddenRecord struct {
	Query        string      `json:"query"`
	Document     string      `json:"document"`
	InputIDs     []int32     `json:"input_ids"`
	Rows         [2]int      `json:"rows"`
	HiddenSize   int         `json:"hidden_size"`
	HiddenStates [][]float64 `json:"hidden_states"`
}

var modelNames = []string{"qwen3-tied", "qwen3-untied", "qwen3-seq-cls", "qwen2-mxbai"}

// scoreIDs are the token ids whose logits a model's score reads: "yes" and
// "no" for Qwen3-Reranker, "1" and "0" for mxbai-rerank-v2.
func (g *goldenIndex) scoreIDs(model string) (yes, no int32) {
	if model == "qwen2-mxbai" {
		return g.Mxbai.YesID, g.Mxbai.NoID
	}
	return g.YesID, g.NoID
}

func loadIndex(t testing.TB) *goldenIndex {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdata, "golden", "qwen3.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenIndex
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	for _, n := range modelNames {
		if _, ok := g.Models[n]; !ok {
			t.Fatalf("qwen3.json has no model %q", n)
		}
	}
	return &g
}

func readRecords[T any](t testing.TB, rel string) []T {
	t.Helper()
	f, err := os.Open(filepath.Join(testdata, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	sc := bufio.NewScanner(gz)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r T
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no records", rel)
	}
	return out
}

func loadReference(t testing.TB, g *goldenIndex, name string) *Reference {
	t.Helper()
	dir := filepath.Join(testdata, filepath.FromSlash(g.Models[name].Dir))
	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := weights.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	yes, no := g.scoreIDs(name)
	r, err := NewReference(cfg, ck, yes, no)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// logitOf is the re-ranker's raw logit from a head's outputs: yes - no for
// a CausalLM, the one score for SequenceClassification.
func logitOf(out []float32) float64 {
	if len(out) == 2 {
		return float64(out[0]) - float64(out[1])
	}
	return float64(out[0])
}

func TestReferenceMatchesTransformers(t *testing.T) {
	g := loadIndex(t)
	for _, name := range modelNames {
		t.Run(name, func(t *testing.T) {
			ref := loadReference(t, g, name)
			recs := readRecords[scoreRecord](t, g.Models[name].Scores)
			seqs := make([][]int32, len(recs))
			for i, r := range recs {
				seqs[i] = r.InputIDs
			}
			out, err := ref.Forward(seqs)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i, r := range recs {
				logit := logitOf(out[i])
				if r.YesLogit != nil {
					for j, want := range []float64{*r.YesLogit, *r.NoLogit} {
						if d := math.Abs(float64(out[i][j]) - want); d > tolerance {
							t.Errorf("pair %d: logit %d = %v, transformers %v", i, j, out[i][j], want)
						}
					}
				}
				for _, c := range []struct {
					what      string
					got, want float64
				}{{"logit", logit, r.Logit}, {"score", sigmoid(logit), r.Score}, {"batched score", sigmoid(logit), r.BatchedScore}} {
					d := math.Abs(c.got - c.want)
					worst = max(worst, d)
					if d > tolerance {
						t.Errorf("pair %d (%d tokens): %s %v, transformers %v", i, len(r.InputIDs), c.what, c.got, c.want)
					}
				}
			}
			t.Logf("%d pairs, largest difference %.2e", len(recs), worst)
		})
	}
}

func TestReferenceHiddenStates(t *testing.T) {
	g := loadIndex(t)
	for _, name := range []string{"qwen3-tied", "qwen3-untied"} {
		t.Run(name, func(t *testing.T) {
			m := g.Models[name]
			if !m.HiddenLastNorm {
				t.Fatal("the goldens' last hidden state is not after the final norm; Reference.Observe assumes it is")
			}
			ref := loadReference(t, g, name)
			for i, r := range readRecords[hiddenRecord](t, m.Hidden) {
				var got [][]float32
				ref.Observe(func(layer int, h []float32) { got = append(got, append([]float32(nil), h...)) })
				if _, err := ref.Forward([][]int32{r.InputIDs}); err != nil {
					t.Fatal(err)
				}
				if len(got) != len(r.HiddenStates) {
					t.Fatalf("pair %d: %d hidden states, transformers %d", i, len(got), len(r.HiddenStates))
				}
				hs := r.HiddenSize
				for l, want := range r.HiddenStates {
					rows := got[l][r.Rows[0]*hs : r.Rows[1]*hs]
					if len(rows) != len(want) {
						t.Fatalf("pair %d layer %d: %d values, golden %d", i, l, len(rows), len(want))
					}
					worst := 0.0
					for j := range want {
						d := math.Abs(float64(rows[j])-want[j]) / max(1, math.Abs(want[j]))
						worst = max(worst, d)
					}
					if worst > tolerance {
						t.Errorf("pair %d: hidden state %d differs by %.2e (relative)", i, l, worst)
					}
				}
			}
		})
	}
}

// The comparison above must be able to fail: a reference with the wrong
// rope_theta, or with yes and no swapped, is caught.
func TestReferenceGoldensCatchMistakes(t *testing.T) {
	g := loadIndex(t)
	recs := readRecords[scoreRecord](t, g.Models["qwen3-tied"].Scores)
	worstWith := func(ref *Reference) float64 {
		worst := 0.0
		for _, r := range recs[:4] {
			out, err := ref.Forward([][]int32{r.InputIDs})
			if err != nil {
				t.Fatal(err)
			}
			worst = max(worst, math.Abs(logitOf(out[0])-r.Logit))
		}
		return worst
	}
	ref := loadReference(t, g, "qwen3-tied")
	ref.invFreq = ml.InvFreq(10000, ref.cfg.HeadDim)
	if d := worstWith(ref); d <= tolerance {
		t.Errorf("rope_theta 10000 instead of 1e6: logits still within %.1e (%.2e)", tolerance, d)
	}
	ref = loadReference(t, g, "qwen3-tied")
	ref.head[0], ref.head[1] = ref.head[1], ref.head[0]
	if d := worstWith(ref); d <= tolerance {
		t.Errorf("yes and no swapped: logits still within %.1e (%.2e)", tolerance, d)
	}
}
