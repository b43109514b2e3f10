package benchmarks

import (
	"fmt"

	"github.com/crossrank/crossrank/weights"
)

// Shape is what the forward pass's cost depends on.
type Shape struct {
	Hidden, Layers, Intermediate, Labels int
}

// ShapeOf reads a model's shape from its config.
func ShapeOf(cfg *weights.Config) Shape {
	return Shape{
		Hidden:       cfg.HiddenSize,
		Layers:       cfg.NumHiddenLayers,
		Intermediate: cfg.IntermediateSize,
		Labels:       cfg.NumLabels,
	}
}

func (s Shape) String() string {
	return fmt.Sprintf("hidden %d, %d layers, intermediate %d", s.Hidden, s.Layers, s.Intermediate)
}

// FLOPs is the floating-point work (a multiply-add counts 2) of one forward
// pass over sequences of the given lengths, on their real tokens only, as
// a padding-free engine does it. Per layer, for T tokens in all:
//
//	Q, K, V and output projections  2*T*4*h*h
//	feed-forward up and down        2*T*2*h*i
//	scores Q K^T and their use on V 2 * 2*sum(L^2)*h
//
// and the classification head on the first token of each sequence: a dense
// h x h layer (BERT's pooler, XLM-R's head dense) and the h x labels
// projection. Embedding sums, LayerNorm, softmax and the activation are
// O(T*h) and left out, as is usual for GEMM-bound work.
func (s Shape) FLOPs(lengths []int) float64 {
	h, ii := float64(s.Hidden), float64(s.Intermediate)
	var tokens, sq float64
	for _, l := range lengths {
		tokens += float64(l)
		sq += float64(l) * float64(l)
	}
	perLayer := 2*tokens*(4*h*h+2*h*ii) + 4*sq*h
	seqs := float64(len(lengths))
	head := 2*seqs*h*h + 2*seqs*h*float64(s.Labels)
	return float64(s.Layers)*perLayer + head
}

// PaddedFLOPs is the same work when every batch of batchSize sequences
// (taken in the given order) is padded to its longest, as engines with
// dense [batch, seq] inputs compute it.
func (s Shape) PaddedFLOPs(lengths []int, batchSize int) float64 {
	var padded []int
	for i := 0; i < len(lengths); i += batchSize {
		b := lengths[i:min(i+batchSize, len(lengths))]
		m := 0
		for _, l := range b {
			m = max(m, l)
		}
		for range b {
			padded = append(padded, m)
		}
	}
	return s.FLOPs(padded)
}
