package qwen3

import (
	"fmt"
	"testing"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/internal/testrand"
)

// BenchmarkForward06B runs Qwen3-Reranker-0.6B's layer shape (hidden 1024,
// 16 query heads over 8 key-value heads of 128, intermediate 3072) with
// random weights, 2 of its 28 layers, on the fast CPU backend: a batch of
// 8 pairs of 300 tokens, packed. Multiply by 14 for the whole model's
// layers (the embedding lookup and the two head rows are negligible).
func BenchmarkForward06B(b *testing.B) {
	c := Config{Arch: CausalLM, VocabSize: 1000, HiddenSize: 1024, IntermediateSize: 3072, NumHiddenLayers: 2,
		NumAttentionHeads: 16, NumKeyValueHeads: 8, HeadDim: 128, MaxPositionEmbeddings: 40960, RMSNormEps: 1e-6,
		RopeTheta: 1e6, TieWordEmbeddings: true}
	rng := testrand.Fresh(b)
	m, err := New(b.Context(), &c, randomCheckpoint(rng, &c), cpu.Default(), 5, 7)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{300} {
		seqs := make([][]int32, 8)
		for i := range seqs {
			for range n {
				seqs[i] = append(seqs[i], int32(rng.IntN(c.VocabSize)))
			}
		}
		b.Run(fmt.Sprintf("8x%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Forward(b.Context(), seqs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(8*n)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
