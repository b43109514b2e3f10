package cpu

import (
	"math"

	"github.com/crossrank/crossrank/internal/gemm"
	"github.com/crossrank/crossrank/ml"
)

// The operations of decoder models (Qwen3) on the fast CPU backend: a first
// version in plain Go, parallel over rows or (sequence, head) pairs on the
// backend's helpers; package reference holds their definitions and the
// tests compare the two on random inputs. The GEMMs around them are
// internal/gemm's, as for BERT.

func (r *fastRun) RMSNorm(x ml.Tensor, weight ml.Weight, eps float32) ml.Tensor {
	if !r.ok() {
		return fastDead
	}
	xt := r.tensor(x)
	if xt == nil {
		return fastDead
	}
	v, err := ml.Own[*ml.HostVector](weight, "vector")
	if err != nil {
		return r.fail("rms norm: %v", err)
	}
	if err := ml.CheckRMSNorm(xt, len(v.Data)); err != nil {
		return r.fail("%v", err)
	}
	out := r.newTensor(xt.rows, xt.cols)
	r.decJob = decoderTask{kind: decRMSNorm, x: xt.data, y: out.data, w: v.Data, eps: eps, cols: xt.cols}
	r.parallelDecoderRows(xt.rows, xt.cols)
	return out
}

func (r *fastRun) SwiGLU(gate, up ml.Tensor) ml.Tensor {
	if !r.ok() {
		return fastDead
	}
	gt, ut := r.tensor(gate), r.tensor(up)
	if gt == nil || ut == nil {
		return fastDead
	}
	if err := ml.CheckSwiGLU(gt, ut); err != nil {
		return r.fail("%v", err)
	}
	r.decJob = decoderTask{kind: decSwiGLU, x: gt.data, y: ut.data, cols: gt.cols}
	r.parallelDecoderRows(gt.rows, gt.cols)
	return gt
}

func (r *fastRun) CausalAttention(q, k, v ml.Tensor, heads, kvHeads int, offsets []int32) ml.Tensor {
	if !r.ok() {
		return fastDead
	}
	qt, kt, vt := r.tensor(q), r.tensor(k), r.tensor(v)
	if qt == nil || kt == nil || vt == nil {
		return fastDead
	}
	if err := ml.CheckCausalAttention(qt, kt, vt, heads, kvHeads, offsets); err != nil {
		return r.fail("%v", err)
	}
	hd := qt.cols / heads
	out := r.newTensor(qt.rows, qt.cols)
	r.causal = causalTask{out: out.data, q: qt.data, k: kt.data, v: vt.data, heads: heads, kvHeads: kvHeads, hd: hd, offsets: offsets, run: r,
		bf16: r.b.prec == gemm.BF16 && hasDP4 && hd%16 == 0}
	r.parallel(&r.causal, (len(offsets)-1)*kvHeads)
	r.causal = causalTask{}
	return out
}

// causalTask is one (sequence, key-value head) pair of causal grouped-query
// attention per part: the query heads that share the key-value head, so
// that its keys are transposed once for all of them.
type causalTask struct {
	out, q, k, v       []float32
	heads, kvHeads, hd int
	offsets            []int32
	run                *fastRun // its slots: per-participant scratch, made by parallel
	bf16               bool     // products in bf16 (causalHeadBF16)
}

func (t *causalTask) runPart(slot, part int) {
	s, kvh := part/t.kvHeads, part%t.kvHeads
	start, end := int(t.offsets[s]), int(t.offsets[s+1])
	if end == start {
		return
	}
	hd, group := t.hd, t.heads/t.kvHeads
	if t.bf16 {
		causalHeadBF16(t.run.slots[slot], t.out, t.q, t.k, t.v, t.heads*hd, kvh*group*hd, group, t.kvHeads*hd, kvh*hd, hd, start, end-start, true)
		return
	}
	causalHead(t.run.slots[slot], t.out, t.q, t.k, t.v, t.heads*hd, kvh*group*hd, group, t.kvHeads*hd, kvh*hd, hd, start, end-start, hasMM4)
}

// causalHead is attentionHead (attention.go) with the causal mask and
// grouped key-value heads: the queries of the group heads from head
// columns qcol.. (rows qdim floats apart) against the keys and values of
// columns kcol.. (rows kdim apart), the keys transposed once for the group.
// A block of four queries ending at token i needs only the keys
// 0..i, so the scores of block i0 cover the first i0+4 keys (rounded up to
// the kernel's 32 columns) and each row's softmax its own i+1: about half
// the work of the full square.
func causalHead(sc *attnScratch, out, q, k, v []float32, qdim, qcol, group, kdim, kcol, hd, start, L int, useAsm bool) {
	lp := (L + 31) &^ 31
	kt, sb, qb, ob := prepareHead(sc, k, kdim, kcol, hd, start, L, lp, lp)
	vh, ldv := v[start*kdim+kcol:], kdim
	if useAsm && hd%32 == 0 {
		vh, ldv = packHead(sc, v, kdim, kcol, hd, start, L), hd
	}
	for g := range group {
		causalQueries(kt, sb, qb, ob, out, q, vh, ldv, qdim, qcol+g*hd, hd, start, L, lp, useAsm)
	}
}

// causalQueries is causalHead's work for one query head, on the keys
// prepareHead transposed into kt (lp columns), and the head's values vh
// (rows ldv floats apart, from the sequence's first token).
func causalQueries(kt, sb, qb, ob, out, q, vh []float32, ldv, qdim, qcol, hd, start, L, lp int, useAsm bool) {
	asm := useAsm && hd%32 == 0
	scale := float32(1 / math.Sqrt(float64(hd)))
	for i0 := 0; i0 < L; i0 += attnRows {
		rows := min(attnRows, L-i0)
		keys := i0 + rows           // the keys this block sees
		w := min(lp, (keys+31)&^31) // the scores' width for the kernel
		qa, lda := q[(start+i0)*qdim+qcol:], qdim
		oc, ldc := out[(start+i0)*qdim+qcol:], qdim
		if rows < attnRows {
			for r := 0; r < attnRows; r++ {
				if r < rows {
					copy(qb[r*hd:(r+1)*hd], q[(start+i0+r)*qdim+qcol:])
				} else {
					clear(qb[r*hd : (r+1)*hd])
				}
			}
			qa, lda, oc, ldc = qb, hd, ob, hd
		}
		mm4(asm, hd, qa, lda, kt, lp, sb, lp, w)
		var inv [attnRows]float32
		for r := 0; r < attnRows; r++ {
			row := sb[r*lp : r*lp+keys]
			n := i0 + r + 1 // query i0+r sees keys 0..i0+r
			if r >= rows {
				n = 0 // rows past the sequence: keep them finite
			}
			if n > 0 {
				inv[r] = softexp(useAsm, row[:n], scale)
			}
			clear(row[n:])
		}
		mm4s(asm, keys, sb, lp, vh, ldv, oc, ldc, hd, &inv)
		if rows < attnRows {
			for r := 0; r < rows; r++ {
				copy(out[(start+i0+r)*qdim+qcol:(start+i0+r)*qdim+qcol+hd], ob[r*hd:(r+1)*hd])
			}
		}
	}
}

const (
	decRMSNorm = iota
	decSwiGLU
)

// decoderTask is a row-wise pass of a decoder operation.
type decoderTask struct {
	kind      int
	x, y, w   []float32
	eps       float32
	cols      int
	rows, per int
}

func (r *fastRun) parallelDecoderRows(rows, cols int) {
	per := max(1, rowsPerPart/max(cols, 1))
	parts := (rows + per - 1) / per
	r.decJob.rows, r.decJob.per = rows, per
	r.parallel(&r.decJob, parts)
	r.decJob = decoderTask{}
}

func (t *decoderTask) runPart(slot, part int) {
	r0 := part * t.per
	r1 := min(r0+t.per, t.rows)
	n := t.cols
	x := t.x[r0*n : r1*n]
	switch t.kind {
	case decSwiGLU:
		if hasMM4 {
			swigluAsm(x, t.y[r0*n:r1*n])
		} else {
			swigluGo(x, t.y[r0*n:r1*n])
		}
	case decRMSNorm:
		y, g := t.y[r0*n:r1*n], len(t.w)
		for o := 0; o < len(x); o += g {
			if hasMM4 {
				rmsNormAsm(y[o:o+g], x[o:o+g], t.w, t.eps)
			} else {
				rmsNormRow(y[o:o+g], x[o:o+g], t.w, t.eps)
			}
		}
	}
}

// rmsNormRow writes w·x/sqrt(mean(x²) + eps) to dst, as the reference
// does (the squares summed in float64, inv rounded once to float32): the
// fallback, and the oracle of rmsNorm16.
func rmsNormRow(dst, x, w []float32, eps float32) {
	x, w = x[:len(dst)], w[:len(dst)]
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	inv := float32(1 / math.Sqrt(ss/float64(len(x))+float64(eps)))
	for i, v := range x {
		dst[i] = w[i] * (v * inv)
	}
}

// swigluGo is g[i] = silu(g[i])·u[i] in Go: the fallback, and the oracle
// of swiglu16.
func swigluGo(g, u []float32) {
	u = u[:len(g)]
	for i, v := range g {
		g[i] = silu(v) * u[i]
	}
}

// silu is x·sigmoid(x) with exp32, whose argument must not be positive.
func silu(x float32) float32 {
	if x >= 0 {
		return x / (1 + exp32(-x))
	}
	e := exp32(x)
	return x * e / (1 + e)
}
