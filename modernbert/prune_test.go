package modernbert

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/crossrank/crossrank/internal/testrand"
	"github.com/crossrank/crossrank/ml"
)

// TestPrunedLastLayerMatchesFull compares the logits of a global last layer
// computed on the [CLS] rows alone (EncoderLayer.ForwardRows) with those of
// the whole layer, on random checkpoints with "cls" pooling (heads of 64,
// the assembly's, and of 16; one layer, whose attn_norm is the identity),
// ragged batches with 1-token sequences, on both backends. This is a
// consistency check (the goldens against transformers run the pruned
// path): the two differ only in one layer's attention kernel, a subset of
// what TestSyntheticHeads64MatchesReference allows its relative 1e-4 for
// across every layer.
func TestPrunedLastLayerMatchesFull(t *testing.T) {
	rng := testrand.Fresh(t)
	for _, c := range []struct{ hidden, heads, layers, every int }{
		{128, 2, 4, 3}, {64, 4, 3, 2}, {64, 4, 1, 1},
	} {
		js := fmt.Sprintf(`{"architectures":["ModernBertForSequenceClassification"],"vocab_size":300,"hidden_size":%d,
			"intermediate_size":96,"num_hidden_layers":%d,"num_attention_heads":%d,"global_attn_every_n_layers":%d,
			"local_attention":16,"norm_bias":true,"attention_bias":true,"mlp_bias":true,"classifier_bias":true,
			"hidden_activation":"gelu","classifier_pooling":"cls","num_labels":2,"max_position_embeddings":512}`,
			c.hidden, c.layers, c.heads, c.every)
		_, cfg := synthetic(t, js, nil, nil)
		src := randomCheckpoint(cfg, rng)
		lens := testrand.Lengths(rng, 1+rng.IntN(7), 1+rng.IntN(300))
		batch := make([]ml.Sequence, len(lens))
		for i, n := range lens {
			batch[i].IDs = make([]int32, n)
			for j := range batch[i].IDs {
				batch[i].IDs[j] = int32(rng.IntN(cfg.VocabSize))
			}
		}
		for bname, newBackend := range backends() {
			m, _ := synthetic(t, js, newBackend(), src)
			if m.net.Model.Layers[c.layers-1].Attn.Window >= 0 {
				t.Fatalf("%s: the last layer is local", js)
			}
			pruned, err := m.Forward(context.Background(), batch)
			if err != nil {
				t.Fatal(err)
			}
			m.net.Model.fullLastLayer = true
			full, err := m.Forward(context.Background(), batch)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i := range full {
				for j := range full[i] {
					w := float64(full[i][j])
					worst = max(worst, math.Abs(float64(pruned[i][j])-w)/max(1, math.Abs(w)))
				}
			}
			what := fmt.Sprintf("%s: hidden %d, %d heads, %d layers, lengths %v", bname, c.hidden, c.heads, c.layers, lens)
			if !(worst <= 1e-4) {
				t.Fatalf("%s: pruned and full last layers differ by %g (relative)", what, worst)
			}
			t.Logf("%s: max |pruned - full| %.3g", what, worst)
			m.Close()
		}
	}
}
