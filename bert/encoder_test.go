package bert

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/ml"
)

// TestEncoderHidden: a BertModel / XLMRobertaModel checkpoint (the
// bi-encoder fixtures, whose encoder is the cross-encoder's) loads without a
// head, and Hidden gives transformers' last hidden state of every token.
func TestEncoderHidden(t *testing.T) {
	for _, c := range []struct{ encoder, golden string }{{"embed-bert", "bert"}, {"embed-xlmr", "xlmr"}} {
		t.Run(c.encoder, func(t *testing.T) {
			b := cpu.Default()
			defer b.Close()
			m, err := ml.Load(context.Background(), filepath.Join(testdata, "models", c.encoder), b)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			enc, ok := m.(ml.Encoder)
			if !ok {
				t.Fatalf("%T is not an ml.Encoder", m)
			}
			recs := readJSONL[hiddenRecord](t, filepath.Join(testdata, "golden", "hidden-"+c.golden+".jsonl.gz"))
			seqs := make([]ml.Sequence, len(recs))
			for i, r := range recs {
				seqs[i] = ml.Sequence{IDs: r.InputIDs, TypeIDs: r.TokenTypeIDs}
			}
			// All inputs in one packed batch: a sequence's states must not
			// depend on its neighbours.
			hs, err := enc.Hidden(context.Background(), seqs)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range recs {
				want := r.HiddenStates[len(r.HiddenStates)-1]
				if len(hs[i]) != len(want) || enc.HiddenSize()*len(r.InputIDs) != len(want) {
					t.Fatalf("input %d: %d values, transformers %d", i, len(hs[i]), len(want))
				}
				worst := 0.0
				for j, w := range want {
					worst = max(worst, math.Abs(float64(hs[i][j])-w))
				}
				if !(worst <= 1e-4) {
					t.Errorf("input %d: max |error| %.3g against transformers' last hidden state", i, worst)
				}
			}
			if _, err := m.Forward(context.Background(), seqs[:1]); err == nil || !strings.Contains(err.Error(), "no classification head") {
				t.Errorf("Forward on an encoder without a head: %v", err)
			}
		})
	}
}
