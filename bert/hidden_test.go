package bert

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/ml"
)

// hiddenRecord is one input of hidden-<model>.jsonl.gz: transformers'
// output_hidden_states, the embeddings' output then each layer's, each
// Shape ([tokens, hidden]) flattened row-major.
type hiddenRecord struct {
	InputIDs     []int32     `json:"input_ids"`
	TokenTypeIDs []int32     `json:"token_type_ids"`
	HiddenStates [][]float64 `json:"hidden_states"`
	Shape        []int       `json:"shape"`
}

// compareHidden runs one input and returns "" when every layer agrees with
// transformers within tol, else a message naming the first layer that does
// not.
func compareHidden(m *Model, rec hiddenRecord, tol float64) string {
	var got [][]float32
	mm := *m // a copy, so that observing does not touch a shared model
	mm.observe = func(layer int, h []float32) { got = append(got, h) }
	if _, err := mm.Forward(context.Background(), []ml.Sequence{{IDs: rec.InputIDs, TypeIDs: rec.TokenTypeIDs}}); err != nil {
		return err.Error()
	}
	if len(got) != len(rec.HiddenStates) {
		return fmt.Sprintf("%d hidden states, transformers has %d", len(got), len(rec.HiddenStates))
	}
	for layer, want := range rec.HiddenStates {
		h := m.cfg.HiddenSize
		if len(got[layer]) != len(want) || len(rec.Shape) != 2 || rec.Shape[1] != h {
			return fmt.Sprintf("%s: %d values, transformers has %d of shape %v", layerName(layer), len(got[layer]), len(want), rec.Shape)
		}
		worst, at := 0.0, 0
		for i, w := range want {
			if d := math.Abs(float64(got[layer][i]) - w); d > worst || math.IsNaN(d) {
				worst, at = d, i
			}
		}
		if !(worst <= tol) {
			return fmt.Sprintf("first diverging layer: %s (%d tokens): max |error| %.3g at token %d, dim %d (tolerance %g)",
				layerName(layer), rec.Shape[0], worst, at/h, at%h, tol)
		}
	}
	return ""
}

func layerName(i int) string {
	if i == 0 {
		return "embeddings"
	}
	return fmt.Sprintf("encoder layer %d", i-1)
}

func TestGoldenHiddenStates(t *testing.T) {
	for _, gm := range goldenModels {
		path := filepath.Join(testdata, "golden", "hidden-"+gm.name+".jsonl.gz")
		if _, err := os.Stat(path); err != nil {
			continue // not every checkpoint has hidden-state goldens
		}
		t.Run(gm.name, func(t *testing.T) {
			m := loadFixture(t, gm.name)
			for i, rec := range readJSONL[hiddenRecord](t, path) {
				if msg := compareHidden(m, rec, gm.tol); msg != "" {
					t.Errorf("input %d: %s", i, msg)
				}
			}
		})
	}
}

// TestHiddenStatesNameTheLayer breaks one layer on purpose and checks that
// the comparison names it (and not the layers before it).
func TestHiddenStatesNameTheLayer(t *testing.T) {
	const name = "bert"
	m := loadFixture(t, name)
	recs := readJSONL[hiddenRecord](t, filepath.Join(testdata, "golden", "hidden-"+name+".jsonl.gz"))
	broken := *m
	broken.encoder.Layer = append([]Layer(nil), m.encoder.Layer...)
	broken.encoder.Layer[1].Intermediate.Act = ml.ActReLU // the checkpoint says gelu
	msg := compareHidden(&broken, recs[0], 1e-4)
	if !strings.Contains(msg, "first diverging layer: encoder layer 1 ") {
		t.Errorf("layer 1 broken: %q", msg)
	}
	if msg := compareHidden(m, recs[0], 1e-4); msg != "" {
		t.Errorf("intact model: %s", msg)
	}
}
