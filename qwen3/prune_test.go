package qwen3

import (
	"fmt"
	"math"
	"testing"

	"github.com/crossrank/crossrank/internal/testrand"
)

// TestPrunedLastLayerMatchesFull compares the logits of the last layer
// computed on each sequence's last token alone (DecoderLayer.ForwardRows)
// with those of the whole layer, on random shapes (grouped-query heads,
// Qwen2's biases, 1-token sequences) on both backends. This is a
// consistency check (the goldens against transformers run the pruned
// path): the two differ only in one layer's attention kernel, a subset of
// what TestModelMatchesReferenceOnRandomShapes allows its relative 1e-4
// for across every layer.
func TestPrunedLastLayerMatchesFull(t *testing.T) {
	rng := testrand.Fresh(t)
	for _, c := range []Config{
		{HiddenSize: 64, IntermediateSize: 96, NumHiddenLayers: 1, NumAttentionHeads: 8, NumKeyValueHeads: 1, HeadDim: 128},
		{HiddenSize: 48, IntermediateSize: 80, NumHiddenLayers: 3, NumAttentionHeads: 6, NumKeyValueHeads: 3, HeadDim: 8, TieWordEmbeddings: true},
		{HiddenSize: 64, IntermediateSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, HeadDim: 32, Arch: SequenceClassification},
		{Arch: Qwen2CausalLM, HiddenSize: 64, IntermediateSize: 96, NumHiddenLayers: 2, NumAttentionHeads: 8, NumKeyValueHeads: 2, HeadDim: 8, QKVBias: true},
	} {
		if c.Arch == 0 {
			c.Arch, c.QKNorm = CausalLM, true
		}
		if c.Arch == SequenceClassification {
			c.QKNorm = true
		}
		c.VocabSize, c.MaxPositionEmbeddings, c.RMSNormEps, c.RopeTheta = 97, 4096, 1e-6, 1e6
		src := randomCheckpoint(rng, &c)
		if c.Arch == SequenceClassification {
			src["score.weight"] = struct {
				data  []float32
				shape []int
			}{testrand.Floats(rng, c.HiddenSize), []int{1, c.HiddenSize}}
		}
		lens := testrand.Lengths(rng, 1+rng.IntN(6), 1+rng.IntN(300))
		seqs := make([][]int32, len(lens))
		for i, n := range lens {
			for range n {
				seqs[i] = append(seqs[i], int32(rng.IntN(c.VocabSize)))
			}
		}
		for bname, nb := range backends() {
			m, err := New(t.Context(), &c, src, nb(), 5, 7)
			if err != nil {
				t.Fatal(err)
			}
			pruned, err := m.Forward(t.Context(), seqs)
			if err != nil {
				t.Fatal(err)
			}
			m.fullLastLayer = true
			full, err := m.Forward(t.Context(), seqs)
			if err != nil {
				t.Fatal(err)
			}
			what := fmt.Sprintf("%s: %v %d/%d heads x %d, lengths %v", bname, c.Arch, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, lens)
			worst := 0.0
			for i := range seqs {
				w := float64(full[i][0])
				d := math.Abs(float64(pruned[i][0])-w) / max(1, math.Abs(w))
				worst = max(worst, d)
			}
			if !(worst <= 1e-4) {
				t.Fatalf("%s: pruned and full last layers differ by %g (relative)", what, worst)
			}
			t.Logf("%s: max |pruned - full| %.3g", what, worst)
		}
	}
}
