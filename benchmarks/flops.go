package benchmarks

import (
	"fmt"

	"github.com/crossrank/crossrank/weights"
)

// Shape is what the forward pass's cost depends on. The zero values of the
// fields after Labels describe BERT and XLM-R: as many key and value heads
// as query heads, all of width Hidden; a two-matrix MLP; every layer
// bidirectional over its whole sequence; a dense Hidden x Hidden layer
// before the Labels outputs.
type Shape struct {
	Hidden, Layers, Intermediate, Labels int

	// Heads query heads and KVHeads key and value heads, HeadDim wide each
	// (grouped-query attention: Qwen3-Reranker-0.6B has 16 and 8 of 128,
	// so its query width 2048 is not its hidden 1024). Zero: Hidden wide
	// in all, as BERT.
	Heads, KVHeads, HeadDim int
	// Gated: the MLP has three Hidden x Intermediate matrices (gate, up and
	// down: SwiGLU, GeGLU) instead of two.
	Gated bool
	// Causal: each token attends to its earlier tokens and itself.
	Causal bool
	// LocalLayers of the Layers attend only to the tokens within Window of
	// themselves on either side (ModernBERT's sliding layers, Window =
	// local_attention/2); the others see their whole sequence.
	LocalLayers, Window int
	// HeadRows > 0: the head is HeadRows rows of Hidden applied to each
	// sequence's last token, with no dense layer (a decoder re-ranker's
	// lm_head rows of "yes" and "no", or its one-row score); then Labels
	// is not used.
	HeadRows int
}

// ShapeOf reads a BERT or XLM-R model's shape from its config (Describe
// reads every architecture the harness runs).
func ShapeOf(cfg *weights.Config) Shape {
	return Shape{
		Hidden:       cfg.HiddenSize,
		Layers:       cfg.NumHiddenLayers,
		Intermediate: cfg.IntermediateSize,
		Labels:       cfg.NumLabels,
	}
}

func (s Shape) String() string {
	str := fmt.Sprintf("hidden %d, %d layers, intermediate %d", s.Hidden, s.Layers, s.Intermediate)
	if s.Heads > 0 {
		str += fmt.Sprintf(", %d query / %d key-value heads of %d", s.Heads, s.KVHeads, s.HeadDim)
	}
	if s.LocalLayers > 0 {
		str += fmt.Sprintf(", %d layers local (±%d tokens)", s.LocalLayers, s.Window)
	}
	return str
}

// FLOPs is the floating-point work (a multiply-add counts 2) of one forward
// pass over sequences of the given lengths, on their real tokens only, as
// a padding-free engine does it. Per layer, for T tokens in all, query
// width q = Heads*HeadDim and key-value width kv = KVHeads*HeadDim (both h
// for BERT):
//
//	Q, K, V and output projections  2*T*(h*q + 2*h*kv + q*h)
//	feed-forward                    2*T*2*h*i, or 2*T*3*h*i when gated
//	scores Q K^T and their use on V 2 * 2*P*q
//
// where P is the number of (query, key) pairs attention scores: sum(L^2)
// on a bidirectional layer, sum(L(L+1)/2) on a causal one, and on a local
// layer each token's keys within Window on either side (its cost grows
// linearly with L once L passes the window). The head: for BERT, XLM-R and
// ModernBERT a dense h x h layer on each sequence's pooled token and the h
// x labels projection; for a decoder HeadRows rows of h at its last token
// (2 for Qwen3-Reranker's "yes" and "no": not the whole 151,669-row
// lm_head). Embedding lookups, norms, RoPE, softmax and the activation are
// O(T*h) and left out, as is usual for GEMM-bound work.
//
// This is the *work* of the standard forward pass, the one the peers
// (PyTorch, ONNX Runtime, OpenVINO) compute, and GFLOP/s are credited on it.
// crossrank does less: its last layer computes only the rows the head reads
// (one per sequence: ml.AttentionRowsRun; the ForwardRows methods of bert,
// qwen3 and modernbert, the last with "cls" pooling and a global last
// layer; an embedding model pooled by [cls] alone likewise, through bert's
// HiddenRows), so of that layer it runs the K and V projections on every token
// and the rest on one token a sequence: about 14% of the work of MiniLM-L6
// at 130 tokens a pair, 7% of MiniLM-L12 and bge-reranker-base, 3.5% of the
// 24-layer models and of gte-reranker-modernbert-base, 3% of
// Qwen3-Reranker-0.6B. Its GFLOP/s and fraction of peak are therefore work
// rates, not counts of the operations it executed.
func (s Shape) FLOPs(lengths []int) float64 {
	h, ii := float64(s.Hidden), float64(s.Intermediate)
	q, kv := h, h
	if s.Heads > 0 {
		q = float64(s.Heads * s.HeadDim)
		kv = float64(s.KVHeads * s.HeadDim)
	}
	matrices := 2.0
	if s.Gated {
		matrices = 3
	}
	var tokens, full, local float64
	for _, l := range lengths {
		tokens += float64(l)
		full += pairs(l, s.Causal)
		local += windowPairs(l, s.Window)
	}
	dense := 2 * tokens * (h*q + 2*h*kv + q*h + matrices*h*ii)
	global := s.Layers - s.LocalLayers
	work := float64(s.Layers)*dense + float64(global)*4*full*q + float64(s.LocalLayers)*4*local*q
	seqs := float64(len(lengths))
	if s.HeadRows > 0 {
		return work + 2*seqs*h*float64(s.HeadRows)
	}
	return work + 2*seqs*h*h + 2*seqs*h*float64(s.Labels)
}

// pairs is the number of (query, key) pairs a sequence of l tokens scores
// with full attention.
func pairs(l int, causal bool) float64 {
	n := float64(l)
	if causal {
		return n * (n + 1) / 2
	}
	return n * n
}

// windowPairs is the number of (query, key) pairs a sequence of l tokens
// scores when token i sees tokens i-w..i+w of it: l + 2*sum_i min(i, w).
func windowPairs(l, w int) float64 {
	if l <= 0 {
		return 0
	}
	n, ww := float64(l), float64(w)
	var below float64 // sum over i = 0..l-1 of min(i, w)
	if l <= w+1 {
		below = n * (n - 1) / 2
	} else {
		below = ww*(ww+1)/2 + (n-1-ww)*ww
	}
	return n + 2*below
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
