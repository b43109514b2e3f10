package cpu

import (
	"math"

	"github.com/crossrank/crossrank/ml"
)

// Local (sliding-window) attention for the fast CPU backend
// (ml.WindowAttentionRun): token i sees keys i-w..i+w of its sequence.
//
// The kernel is attentionHead's (attention.go) restricted to a band: for
// each block of four queries i0..i0+3 only the keys lo = i0-w (rounded
// down to a multiple of 16, the narrowest micro-kernel's width) to
// hi = i0+3+w are multiplied, so a block costs O(w·headDim) whatever the sequence's
// length, and a local layer's attention grows linearly with it. Scores of
// keys inside the band but outside a query's own window are left out of
// its softmax (set to zero), which is the reference's exact-zero weight.

type windowTask struct {
	run          *fastRun
	out, q, k, v []float32
	dim, heads   int
	window       int
	offsets      []int32
}

func (t *windowTask) runPart(slot, part int) {
	s, h := part/t.heads, part%t.heads
	start, end := int(t.offsets[s]), int(t.offsets[s+1])
	if end == start {
		return
	}
	hd := t.dim / t.heads
	windowHead(t.run.slots[slot], t.out, t.q, t.k, t.v, t.dim, hd, h*hd, start, end-start, t.window, hasMM4)
}

// WindowAttention is ml.WindowAttentionRun.
func (r *fastRun) WindowAttention(q, k, v ml.Tensor, heads int, offsets []int32, window int) ml.Tensor {
	if !r.ok() {
		return fastDead
	}
	qt, kt, vt := r.tensor(q), r.tensor(k), r.tensor(v)
	if qt == nil || kt == nil || vt == nil {
		return fastDead
	}
	if err := ml.CheckWindowAttention(qt, kt, vt, heads, offsets, window); err != nil {
		return r.fail("%v", err)
	}
	out := r.newTensor(qt.rows, qt.cols)
	t := &windowTask{run: r, out: out.data, q: qt.data, k: kt.data, v: vt.data, dim: qt.cols, heads: heads, window: window, offsets: offsets}
	r.ensureSlots()
	r.parallel(t, (len(offsets)-1)*heads)
	return out
}

// ensureSlots gives the run one attention scratch per helper before a task
// that reads them (parallel makes them on its first call, for attnTask).
func (r *fastRun) ensureSlots() {
	parOnce.Do(startHelpers)
	for len(r.slots) < parThreads {
		r.slots = append(r.slots, &attnScratch{})
	}
}

// windowHead computes the output of head columns col..col+hd-1 for the
// sequence of L tokens from row start, each query seeing the keys within
// w positions.
func windowHead(sc *attnScratch, out, q, k, v []float32, dim, hd, col, start, L, w int, useAsm bool) {
	lp := (L + 31) &^ 31
	// The widest band: 4 queries and w keys either side, plus up to 15
	// keys from rounding its start down, rounded up to 16 (and never past
	// the keys, lp, a multiple of 32).
	band := min(lp, (attnRows+2*w+15+15)&^15)
	kt, sb, qb, ob := prepareHead(sc, k, dim, col, hd, start, L, lp, band)
	asm := useAsm && hd%32 == 0
	scale := float32(1 / math.Sqrt(float64(hd)))
	for i0 := 0; i0 < L; i0 += attnRows {
		rows := min(attnRows, L-i0)
		lo := max(0, i0-w) &^ 15
		hi := min(L, i0+rows+w) // keys lo..hi-1
		width := min(lp-lo, (hi-lo+15)&^15)
		qa, lda := q[(start+i0)*dim+col:], dim
		oc, ldc := out[(start+i0)*dim+col:], dim
		if rows < attnRows {
			for r := 0; r < attnRows; r++ {
				if r < rows {
					copy(qb[r*hd:(r+1)*hd], q[(start+i0+r)*dim+col:])
				} else {
					clear(qb[r*hd : (r+1)*hd])
				}
			}
			qa, lda, oc, ldc = qb, hd, ob, hd
		}
		// S[4 x width] = Q · Kᵀ[:, lo:lo+width], in a scratch of row
		// stride band.
		mm4(asm, hd, qa, lda, kt[lo:], lp, sb, band, width)
		var inv [attnRows]float32
		for r := 0; r < attnRows; r++ {
			row := sb[r*band : r*band+hi-lo]
			if r >= rows {
				clear(row) // rows past the sequence: keep them finite
				continue
			}
			i := i0 + r
			a, b := max(0, i-w)-lo, min(L-1, i+w)-lo+1 // the query's own window in the band
			clear(row[:a])
			clear(row[b:])
			inv[r] = softexp(useAsm, row[a:b], scale)
		}
		// O[4 x hd] = P[4 x (hi-lo)] · V[lo:hi], over the sums.
		mm4s(asm, hi-lo, sb, band, v[(start+lo)*dim+col:], dim, oc, ldc, hd, &inv)
		if rows < attnRows {
			for r := 0; r < rows; r++ {
				copy(out[(start+i0+r)*dim+col:(start+i0+r)*dim+col+hd], ob[r*hd:(r+1)*hd])
			}
		}
	}
}
