package reference

import (
	"math"

	"github.com/crossrank/crossrank/ml"
)

// The operations of decoder models (Qwen3): each the plain loop of the
// Hugging Face code it names, the definition the fast backends are tested
// against.

// RMSNorm is Qwen3RMSNorm (modeling_qwen3.py#L50) over each group of
// len(weight) values of every row: weight * (x * inv) with
// inv = 1/sqrt(mean(x²) + eps) rounded once to float32. The squares are
// summed in float64: torch sums float32 in a cascade (error of a few ulp),
// which a sequential float32 sum does not reproduce (its error grows with
// n) and float64 is nearer; and a fast backend can match float64 in any
// order of summation.
func (r *cpuRun) RMSNorm(x ml.Tensor, weight ml.Weight, eps float32) ml.Tensor {
	if !r.ok() {
		return dead
	}
	xt := r.tensor(x)
	if xt == nil {
		return dead
	}
	v, err := ml.Own[*ml.HostVector](weight, "vector")
	if err != nil {
		return r.fail("rms norm: %v", err)
	}
	w := v.Data
	n := len(w)
	if err := ml.CheckRMSNorm(xt, n); err != nil {
		return r.fail("%v", err)
	}
	out := newCPUTensor(xt.rows, xt.cols)
	in, y := xt.data(), out.data()
	for g := 0; g < len(in); g += n {
		var ss float64
		for _, v := range in[g : g+n] {
			ss += float64(v) * float64(v)
		}
		inv := float32(1 / math.Sqrt(ss/float64(n)+float64(eps)))
		for i, v := range in[g : g+n] {
			y[g+i] = w[i] * (v * inv)
		}
	}
	return out
}

// CausalAttention is eager_attention_forward (modeling_qwen3.py#L177) with
// the causal mask and repeat_kv, over packed sequences: token t of a
// sequence attends to tokens 0..t of its own sequence only; query head h
// reads key-value head h / (heads/kvHeads).
func (r *cpuRun) CausalAttention(q, k, v ml.Tensor, heads, kvHeads int, offsets []int32) ml.Tensor {
	if !r.ok() {
		return dead
	}
	qt, kt, vt := r.tensor(q), r.tensor(k), r.tensor(v)
	if qt == nil || kt == nil || vt == nil {
		return dead
	}
	if err := ml.CheckCausalAttention(qt, kt, vt, heads, kvHeads, offsets); err != nil {
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
			for i := start; i < end; i++ {
				// token i sees keys start..i
				scores = attendRow(o[i*qc+qcol:i*qc+qcol+hd], qd[i*qc+qcol:i*qc+qcol+hd], kd, vd, kc, kcol, start, i+1, scale, scores)
			}
		}
	}
	return out
}

// SwiGLU is Qwen3MLP's act_fn(gate_proj(x)) * up_proj(x) with act silu:
// gate = gate * sigmoid(gate) * up, in place on gate.
func (r *cpuRun) SwiGLU(gate, up ml.Tensor) ml.Tensor {
	if !r.ok() {
		return dead
	}
	gt, ut := r.tensor(gate), r.tensor(up)
	if gt == nil || ut == nil {
		return dead
	}
	if err := ml.CheckSwiGLU(gt, ut); err != nil {
		return r.fail("%v", err)
	}
	g, u := gt.data(), ut.data()
	for i, x := range g {
		g[i] = x / (1 + float32(math.Exp(-float64(x)))) * u[i]
	}
	return gt
}
