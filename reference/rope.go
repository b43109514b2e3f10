package reference

import (
	"math"

	"github.com/crossrank/crossrank/ml"
)

// RoPE is ml.RoPERun: apply_rotary_pos_emb (rotate_half) with each
// token's position in its own sequence.
func (r *cpuRun) RoPE(x ml.Tensor, heads int, theta float64, offsets []int32) {
	if !r.ok() {
		return
	}
	xt := r.tensor(x)
	if xt == nil {
		return
	}
	if err := ml.CheckRoPE(xt, heads, theta, offsets); err != nil {
		r.fail("%v", err)
		return
	}
	rope(xt.data(), xt.cols, heads, ml.InvFreq(theta, xt.cols/heads), offsets)
}

// rope is the reference kernel of RoPE: each token's position in its own
// sequence, then ropeRow.
func rope(x []float32, dim, heads int, inv []float32, offsets []int32) {
	for s := 0; s+1 < len(offsets); s++ {
		for t := int(offsets[s]); t < int(offsets[s+1]); t++ {
			ropeRow(x[t*dim:(t+1)*dim], heads, inv, float32(t-int(offsets[s])))
		}
	}
}

// ropeRow rotates the heads of one row at position pos: the angle of each
// frequency, then the rotation of the pair (i, i+half) of every head.
func ropeRow(row []float32, heads int, inv []float32, pos float32) {
	hd := len(row) / heads
	half := hd / 2
	for i := range half {
		ang := pos * inv[i]
		cos, sin := float32(math.Cos(float64(ang))), float32(math.Sin(float64(ang)))
		for h := range heads {
			x := row[h*hd : (h+1)*hd]
			x1, x2 := x[i], x[i+half]
			x[i] = x1*cos - x2*sin
			x[i+half] = x2*cos + x1*sin
		}
	}
}
