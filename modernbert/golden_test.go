package modernbert

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/weights"
)

// The goldens of testdata/gen/modernbert.py (see testdata/gen/README.md):
// transformers' ModernBertForSequenceClassification with eager attention on
// tiny random checkpoints.

const testdata = "../testdata"

// tolerance is the bound on fp32 logits against transformers.
const tolerance = 1e-4

type goldenIndex struct {
	MaxLength   int    `json:"max_length"`
	Tokenizer   string `json:"tokenizer"`
	Tokens      string `json:"tokens"`
	VocabSize   int    `json:"vocab_size"`
	PairLengths []int  `json:"pair_lengths"`
	Models      map[string]struct {
		Dir            string   `json:"dir"`
		Logits         string   `json:"logits"`
		Hidden         string   `json:"hidden"`
		Rank           string   `json:"rank"`
		Pooling        string   `json:"pooling"`
		ConfigForm     string   `json:"config_form"`
		StoredDtype    string   `json:"stored_dtype"`
		LayerTypes     []string `json:"layer_types"`
		LocalAttention int      `json:"local_attention"`
		Pairs          int      `json:"pairs"`
		Truncated      int      `json:"truncated"`
		Spread         float64  `json:"spread"`
		MaxBatchDiff   float64  `json:"max_batch_diff"`
		HiddenLastNorm bool     `json:"hidden_last_is_normed"`
		WindowEffect   float64  `json:"window_effect"`
		RankActivation string   `json:"rank_activation"`
		RankMaxLength  int      `json:"rank_max_length"`
	} `json:"models"`
}

type logitRecord struct {
	Query         string    `json:"query"`
	Document      string    `json:"document"`
	InputIDs      []int32   `json:"input_ids"`
	Truncated     bool      `json:"truncated"`
	Logits        []float64 `json:"logits"`
	BatchedLogits []float64 `json:"batched_logits"`
}

type hiddenRecord struct {
	Query        string      `json:"query"`
	Document     string      `json:"document"`
	InputIDs     []int32     `json:"input_ids"`
	Shape        [2]int      `json:"shape"`
	HiddenStates [][]float64 `json:"hidden_states"`
	Logits       []float64   `json:"logits"`
}

var modelNames = []string{"modernbert", "modernbert-mean"}

func loadIndex(t testing.TB) *goldenIndex {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdata, "golden", "modernbert.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenIndex
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	for _, n := range modelNames {
		if _, ok := g.Models[n]; !ok {
			t.Fatalf("modernbert.json has no model %q", n)
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

func modelDir(g *goldenIndex, name string) string {
	return filepath.Join(testdata, filepath.FromSlash(g.Models[name].Dir))
}

func loadReference(t testing.TB, g *goldenIndex, name string) *Reference {
	t.Helper()
	dir := modelDir(g, name)
	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := weights.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	ref, err := NewReference(cfg, ck)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestGoldenConfigs: each fixture's config.json, in its form, reads to the
// layer types and window transformers built the model with.
func TestGoldenConfigs(t *testing.T) {
	g := loadIndex(t)
	for _, name := range modelNames {
		m := g.Models[name]
		cfg, err := LoadConfig(modelDir(g, name))
		if err != nil {
			t.Fatal(err)
		}
		if !equalStrings(cfg.LayerTypes, m.LayerTypes) || cfg.LocalAttention != m.LocalAttention ||
			cfg.Pooling.String() != m.Pooling || cfg.MaxPositionEmbeddings != g.MaxLength {
			t.Errorf("%s (%s form): layer types %v, window %d, pooling %v, positions %d; transformers: %v, %d, %s, %d",
				name, m.ConfigForm, cfg.LayerTypes, cfg.LocalAttention, cfg.Pooling, cfg.MaxPositionEmbeddings,
				m.LayerTypes, m.LocalAttention, m.Pooling, g.MaxLength)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReferenceGoldenLogits: the plain reference forward is within 1e-4 of
// transformers on every pair, both pooling modes, both config forms.
func TestReferenceGoldenLogits(t *testing.T) {
	g := loadIndex(t)
	for _, name := range modelNames {
		t.Run(name, func(t *testing.T) {
			ref := loadReference(t, g, name)
			recs := readRecords[logitRecord](t, g.Models[name].Logits)
			seqs := make([][]int32, len(recs))
			for i, r := range recs {
				seqs[i] = r.InputIDs
			}
			got, err := ref.Forward(seqs)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i, r := range recs {
				for j, want := range r.Logits {
					d := math.Abs(float64(got[i][j]) - want)
					worst = max(worst, d)
					if d > tolerance {
						t.Errorf("pair %d (%d tokens): logit %d = %v, transformers %v", i, len(r.InputIDs), j, got[i][j], want)
					}
				}
			}
			t.Logf("%d pairs, max |reference - transformers| = %.2e", len(recs), worst)
		})
	}
}

// TestReferenceGoldenHidden: every hidden state (embeddings, each layer, the
// final norm) within 1e-4 of transformers, so that a disagreement in the
// logits points at its layer.
func TestReferenceGoldenHidden(t *testing.T) {
	g := loadIndex(t)
	for _, name := range modelNames {
		t.Run(name, func(t *testing.T) {
			if !g.Models[name].HiddenLastNorm {
				t.Fatal("the goldens' last hidden state is not after final_norm; Observe says it is")
			}
			ref := loadReference(t, g, name)
			for _, r := range readRecords[hiddenRecord](t, g.Models[name].Hidden) {
				var got [][]float32
				ref.Observe(func(layer int, h []float32) { got = append(got, append([]float32(nil), h...)) })
				if _, err := ref.Forward([][]int32{r.InputIDs}); err != nil {
					t.Fatal(err)
				}
				if len(got) != len(r.HiddenStates) {
					t.Fatalf("%d hidden states, transformers %d", len(got), len(r.HiddenStates))
				}
				for l, want := range r.HiddenStates {
					worst, at := 0.0, 0
					for i, w := range want {
						if d := math.Abs(float64(got[l][i]) - w); d > worst {
							worst, at = d, i
						}
					}
					if worst > tolerance {
						t.Errorf("%d tokens: hidden state %d: token %d dim %d off by %.2e", len(r.InputIDs), l, at/r.Shape[1], at%r.Shape[1], worst)
					}
				}
			}
		})
	}
}
