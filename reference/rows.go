package reference

import (
	"math"

	"github.com/crossrank/crossrank/ml"
)

// AttentionRows is ml.AttentionRowsRun: attention (see attention) for one
// query per sequence over all the keys of that sequence, query head h
// reading key-value head h/(heads/kvHeads). It runs attendRow, as attention and
// CausalAttention do, so that its row equals theirs to the bit.
func (r *cpuRun) AttentionRows(q, k, v ml.Tensor, heads, kvHeads int, offsets []int32) ml.Tensor {
	if !r.ok() {
		return dead
	}
	qt, kt, vt := r.tensor(q), r.tensor(k), r.tensor(v)
	if qt == nil || kt == nil || vt == nil {
		return dead
	}
	if err := ml.CheckAttentionRows(qt, kt, vt, heads, kvHeads, offsets); err != nil {
		return r.fail("%v", err)
	}
	hd := qt.cols / heads
	out := newCPUTensor(qt.rows, qt.cols)
	o, qd, kd, vd := out.data(), qt.data(), kt.data(), vt.data()
	qc, kc := qt.cols, kt.cols
	group := heads / kvHeads
	scale := float32(1 / math.Sqrt(float64(hd)))
	var scores []float32
	for s := 0; s+1 < len(offsets); s++ {
		start, end := int(offsets[s]), int(offsets[s+1])
		for h := range heads {
			qcol, kcol := h*hd, (h/group)*hd
			scores = attendRow(o[s*qc+qcol:s*qc+qcol+hd], qd[s*qc+qcol:s*qc+qcol+hd], kd, vd, kc, kcol, start, end, scale, scores)
		}
	}
	return out
}

// RoPEAt is ml.RoPEAtRun: rope's rotation with row i at positions[i].
func (r *cpuRun) RoPEAt(x ml.Tensor, heads int, theta float64, positions []int32) {
	if !r.ok() {
		return
	}
	xt := r.tensor(x)
	if xt == nil {
		return
	}
	if err := ml.CheckRoPEAt(xt, heads, theta, positions); err != nil {
		r.fail("%v", err)
		return
	}
	dim := xt.cols
	hd := dim / heads
	inv := ml.InvFreq(theta, hd)
	for t, p := range positions {
		ropeRow(xt.data()[t*dim:(t+1)*dim], heads, inv, float32(p))
	}
}
