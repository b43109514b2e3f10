package testdata

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// embedder is a bi-encoder fixture in the manifest (testdata/gen/embed.py).
type embedder struct {
	Dir        string   `json:"dir"`
	Family     string   `json:"family"`
	Golden     string   `json:"golden"`
	Records    int      `json:"records"`
	Dim        int      `json:"dim"`
	Normalized bool     `json:"normalized"`
	Pooling    []string `json:"pooling"`
	Plain      bool     `json:"plain"`
	Truncated  int      `json:"truncated"`
}

type embedRecord struct {
	Text         *string   `json:"text"`
	PromptName   *string   `json:"prompt_name"`
	Prompt       *string   `json:"prompt"`
	InputIDs     []int     `json:"input_ids"`
	PromptLength *int      `json:"prompt_length"`
	Truncated    bool      `json:"truncated"`
	Embedding    []float64 `json:"embedding"`
}

// Minimums the issue asks of the bi-encoder fixtures.
const (
	minEmbedTexts = 20
	minEmbedders  = 10
)

func checkEmbedRecord(r *embedRecord, dim, vocab int, normalized bool) error {
	if r.Text == nil || r.Prompt == nil {
		return fmt.Errorf("record needs text and prompt")
	}
	if len(r.InputIDs) < 2 {
		return fmt.Errorf("%d input ids", len(r.InputIDs))
	}
	for i, id := range r.InputIDs {
		if id < 0 || id >= vocab {
			return fmt.Errorf("input_ids[%d] = %d outside vocab of %d", i, id, vocab)
		}
	}
	if len(r.Embedding) != dim {
		return fmt.Errorf("embedding of %d, manifest says %d", len(r.Embedding), dim)
	}
	var sq float64
	for i, v := range r.Embedding {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("embedding[%d] = %v", i, v)
		}
		sq += v * v
	}
	if normalized && math.Abs(math.Sqrt(sq)-1) > 1e-5 {
		return fmt.Errorf("norm %v, want 1", math.Sqrt(sq))
	}
	if !normalized && math.Abs(math.Sqrt(sq)-1) < 1e-4 {
		return fmt.Errorf("norm %v: a unit vector where no Normalize module runs", math.Sqrt(sq))
	}
	return nil
}

func TestEmbedGoldens(t *testing.T) {
	m := loadManifest(t)
	if len(m.Embedders) < minEmbedders {
		t.Fatalf("%d embedders in the manifest, want >= %d", len(m.Embedders), minEmbedders)
	}
	modes := map[string]bool{}
	for name, e := range m.Embedders {
		t.Run(name, func(t *testing.T) {
			vocab, err := vocabSize(e.Dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = os.Stat(filepath.Join(filepath.FromSlash(e.Dir), "modules.json"))
			if e.Plain != os.IsNotExist(err) {
				t.Errorf("plain %v but modules.json: %v", e.Plain, err)
			}
			recs, err := decodeRecords[embedRecord](filepath.FromSlash(e.Golden))
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != e.Records || len(recs) < minEmbedTexts {
				t.Fatalf("%d records, manifest says %d, want >= %d", len(recs), e.Records, minEmbedTexts)
			}
			truncated := 0
			for i := range recs {
				if err := checkEmbedRecord(&recs[i], e.Dim, vocab, e.Normalized); err != nil {
					t.Fatalf("record %d: %v", i+1, err)
				}
				if recs[i].Truncated {
					truncated++
				}
			}
			if truncated != e.Truncated || (!e.Plain && truncated == 0) {
				t.Errorf("%d truncated records, manifest says %d (and every layout folder cuts one)", truncated, e.Truncated)
			}
		})
		for _, p := range e.Pooling {
			modes[p] = true
		}
	}
	for _, p := range []string{"cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"} {
		if !modes[p] {
			t.Errorf("no embedder pools with %s", p)
		}
	}
}

func TestEmbedChecksRejectBrokenRecords(t *testing.T) {
	text, prompt := "a", ""
	good := embedRecord{Text: &text, Prompt: &prompt, InputIDs: []int{2, 5, 3}, Embedding: []float64{0.6, 0.8}}
	if err := checkEmbedRecord(&good, 2, 10, true); err != nil {
		t.Fatalf("good record: %v", err)
	}
	for name, mut := range map[string]func(r *embedRecord){
		"short embedding": func(r *embedRecord) { r.Embedding = []float64{1} },
		"not unit":        func(r *embedRecord) { r.Embedding = []float64{1, 1} },
		"nan":             func(r *embedRecord) { r.Embedding = []float64{math.NaN(), 0} },
		"id out of vocab": func(r *embedRecord) { r.InputIDs = []int{2, 10, 3} },
		"no text":         func(r *embedRecord) { r.Text = nil },
	} {
		r := good
		mut(&r)
		if checkEmbedRecord(&r, 2, 10, true) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
