package cpu

import (
	"math"

	"github.com/crossrank/crossrank/ml"
)

// Attention for one query per sequence (ml.AttentionRowsRun), the last
// layer of a model whose head reads one row per sequence. One task is one
// (sequence, head) pair: the query's dot product with each key of the
// sequence, the softmax (softmaxAsm or softmaxRow, as attentionHead), then
// the weighted sum of the value rows. That is L·headDim multiply-adds twice
// per pair, against the GEMMs' hidden² per token: plain loops suffice. A
// task reads only its own sequence's rows, so a sequence's result does not
// depend on the others in the batch.

type rowsAttnTask struct {
	run                *fastRun
	out, q, k, v       []float32
	heads, kvHeads, hd int
	offsets            []int32
}

// AttentionRows is ml.AttentionRowsRun.
func (r *fastRun) AttentionRows(q, k, v ml.Tensor, heads, kvHeads int, offsets []int32) ml.Tensor {
	if !r.ok() {
		return fastDead
	}
	qt, kt, vt := r.tensor(q), r.tensor(k), r.tensor(v)
	if qt == nil || kt == nil || vt == nil {
		return fastDead
	}
	if err := ml.CheckAttentionRows(qt, kt, vt, heads, kvHeads, offsets); err != nil {
		return r.fail("%v", err)
	}
	out := r.newTensor(qt.rows, qt.cols)
	r.rowsAttn = rowsAttnTask{run: r, out: out.data, q: qt.data, k: kt.data, v: vt.data,
		heads: heads, kvHeads: kvHeads, hd: qt.cols / heads, offsets: offsets}
	r.ensureSlots()
	r.parallel(&r.rowsAttn, (len(offsets)-1)*heads)
	r.rowsAttn = rowsAttnTask{}
	return out
}

func (t *rowsAttnTask) runPart(slot, part int) {
	s, h := part/t.heads, part%t.heads
	start, end := int(t.offsets[s]), int(t.offsets[s+1])
	hd := t.hd
	qdim, kdim := t.heads*hd, t.kvHeads*hd
	qcol, kcol := h*hd, h/(t.heads/t.kvHeads)*hd
	rowHead(t.run.slots[slot], t.out[s*qdim+qcol:s*qdim+qcol+hd], t.q[s*qdim+qcol:s*qdim+qcol+hd],
		t.k[start*kdim+kcol:], t.v[start*kdim+kcol:], kdim, end-start, hasMM4)
}

// rowHead sets out (hd floats) to the attention of query q (hd floats) over
// L keys and values of hd floats each, rows stride floats apart from k[0]
// and v[0]; useAsm selects the assembly softmax.
func rowHead(sc *attnScratch, out, q, k, v []float32, stride, L int, useAsm bool) {
	hd := len(q)
	sc.s = growFloats(sc.s, L)
	scores := sc.s
	for j := range L {
		kj := k[j*stride : j*stride+hd]
		var dot float32
		for e, x := range q {
			dot += x * kj[e]
		}
		scores[j] = dot
	}
	scale := float32(1 / math.Sqrt(float64(hd)))
	if useAsm {
		softmaxAsm(scores, scale)
	} else {
		softmaxRow(scores, scale)
	}
	clear(out)
	for j, p := range scores {
		vj := v[j*stride : j*stride+hd]
		for e := range out {
			out[e] += p * vj[e]
		}
	}
}
