package reference

import (
	"math"

	"github.com/crossrank/crossrank/ml"
)

// WindowAttention is ml.WindowAttentionRun: Attention with each token
// seeing only the tokens of its sequence within window positions.
func (r *cpuRun) WindowAttention(q, k, v ml.Tensor, heads int, offsets []int32, window int) ml.Tensor {
	if !r.ok() {
		return dead
	}
	qt, kt, vt := r.tensor(q), r.tensor(k), r.tensor(v)
	if qt == nil || kt == nil || vt == nil {
		return dead
	}
	if err := ml.CheckWindowAttention(qt, kt, vt, heads, offsets, window); err != nil {
		return r.fail("%v", err)
	}
	out := newCPUTensor(qt.rows, qt.cols)
	windowAttention(out.data(), qt.data(), kt.data(), vt.data(), qt.cols, heads, offsets, window)
	return out
}

// windowAttention is the reference kernel of WindowAttention: attention
// (see attention) over the keys j of the query's sequence with
// |i - j| <= window. It is eager attention with
// create_bidirectional_sliding_window_mask: the keys outside the window
// get exactly zero weight there too.
func windowAttention(out, q, k, v []float32, dim, heads int, offsets []int32, window int) {
	headDim := dim / heads
	scale := float32(1 / math.Sqrt(float64(headDim)))
	scores := make([]float32, 2*window+1)
	for s := 0; s+1 < len(offsets); s++ {
		start, end := int(offsets[s]), int(offsets[s+1])
		for h := 0; h < heads; h++ {
			col := h * headDim
			for i := start; i < end; i++ {
				lo, hi := max(start, i-window), min(end-1, i+window)
				qi := q[i*dim+col : i*dim+col+headDim]
				maxScore := float32(math.Inf(-1))
				for j := lo; j <= hi; j++ {
					kj := k[j*dim+col : j*dim+col+headDim]
					var dot float32
					for d := range qi {
						dot += qi[d] * kj[d]
					}
					scores[j-lo] = dot * scale
					maxScore = max(maxScore, scores[j-lo])
				}
				var sum float32
				for j := lo; j <= hi; j++ {
					scores[j-lo] = float32(math.Exp(float64(scores[j-lo] - maxScore)))
					sum += scores[j-lo]
				}
				oi := out[i*dim+col : i*dim+col+headDim]
				for j := lo; j <= hi; j++ {
					p := scores[j-lo] / sum
					vj := v[j*dim+col : j*dim+col+headDim]
					for d := range oi {
						oi[d] += p * vj[d]
					}
				}
			}
		}
	}
}
