package cpu

import (
	"fmt"
	"math"
)

// Variable-length attention for the fast CPU backend.
//
// One task is one (sequence, head) pair, on the sequence's own length L. The
// head's keys are transposed once into Kᵀ [headDim x Lp] (Lp is L rounded up
// to 32, the padding keys zero; global attention keeps it in panels of 64
// keys, and its values packed, each a contiguous run), then the queries go
// four rows at a time:
//
//	S = Q[4 rows] · Kᵀ          (4 x Lp, in the task's scratch: L1/L2-sized)
//	E = exp(S·scale - max)       row by row, over the L real keys (softexp)
//	O = (E · V) / sum(E)         the division in the kernel's last step (mm4s)
//
// so nothing of size heads x L x L is ever built, and both products run on
// the same register-blocked micro-kernel (mm4: 4 rows x 16, 32 or 64
// columns, AVX-512 assembly, or mm4Go). The maths is the reference
// backend's (package reference, attention): scores scaled by
// 1/sqrt(headDim), the row maximum subtracted before exp, the weighted sum
// divided by the exponentials' sum (the reference divides each
// probability: the two agree to float32 rounding).

// attnScratch is one participant's memory, grown to the largest sequence
// seen and kept with the run's arena.
type attnScratch struct {
	kt, s, q, o, v []float32
	bf             *bf16Scratch // bf16 causal attention's, made on first use
}

// size grows sc for one head of hd columns, keys padded to lp and score
// rows scoreWidth floats wide, and returns its Kᵀ, scores, query and output
// scratch.
func (sc *attnScratch) size(hd, lp, scoreWidth int) (kt, sb, qb, ob []float32) {
	sc.kt = growFloats(sc.kt, hd*lp)
	sc.s = growFloats(sc.s, attnRows*scoreWidth)
	sc.q = growFloats(sc.q, attnRows*hd)
	sc.o = growFloats(sc.o, attnRows*hd)
	return sc.kt, sc.s, sc.q, sc.o
}

func growFloats(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

type attnTask struct {
	out, q, k, v []float32
	dim, heads   int
	offsets      []int32
	slots        []*attnScratch
}

// attnRows is the query rows of one block: the micro-kernel's height.
const attnRows = 4

func (t *attnTask) runPart(slot, part int) {
	s, h := part/t.heads, part%t.heads
	start, end := int(t.offsets[s]), int(t.offsets[s+1])
	if end == start {
		return
	}
	attentionHead(t.slots[slot], t.out, t.q, t.k, t.v, t.dim, t.dim/t.heads, h*(t.dim/t.heads), start, end-start, hasMM4)
}

// attentionHead computes the output of head columns col..col+hd-1 for the
// sequence of L tokens from row start; useAsm selects the assembly kernels:
// the softmax, and the products where the head size allows (a multiple of
// 32).
func attentionHead(sc *attnScratch, out, q, k, v []float32, dim, hd, col, start, L int, useAsm bool) {
	lp := (L + panel - 1) &^ (panel - 1)
	kt, sb, qb, ob := preparePanels(sc, k, dim, col, hd, start, L, lp)
	asm := useAsm && hd%32 == 0
	scale := float32(1 / math.Sqrt(float64(hd)))
	vh, ldv := v[start*dim+col:], dim
	if asm {
		vh, ldv = packHead(sc, v, dim, col, hd, start, L), hd
	}
	for i0 := 0; i0 < L; i0 += attnRows {
		rows := min(attnRows, L-i0)
		// A full block reads its queries and writes its output in place
		// (rows dim floats apart); the last, partial one goes through
		// the scratch, zero-padded, so that the kernel never reads or
		// writes rows of the next sequence (or past the tensor's end).
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
		for p0 := 0; p0 < lp; p0 += panel {
			mm4(asm, hd, qa, lda, kt[p0*hd:], panel, sb[p0:], lp, panel)
		}
		var inv [attnRows]float32
		for r := 0; r < rows; r++ {
			inv[r] = softexp(useAsm, sb[r*lp:r*lp+L], scale)
		}
		for r := rows; r < attnRows; r++ {
			clear(sb[r*lp : r*lp+L]) // rows past the sequence: keep them finite
		}
		mm4s(asm, L, sb, lp, vh, ldv, oc, ldc, hd, &inv)
		if rows < attnRows {
			for r := 0; r < rows; r++ {
				copy(out[(start+i0+r)*dim+col:(start+i0+r)*dim+col+hd], ob[r*hd:(r+1)*hd])
			}
		}
	}
}

// packHead copies the head's values (columns col..col+hd-1 of rows dim
// floats apart, from row start) into sc.v, hd floats a row: one contiguous
// run for P·V, where in place the rows of a head lie dim floats apart
// (3,072 bytes at dim 768); the copy is L·hd floats against 2·L²·hd
// FLOPs of P·V (BenchmarkAttentionHead measures the whole head).
func packHead(sc *attnScratch, v []float32, dim, col, hd, start, L int) []float32 {
	sc.v = growFloats(sc.v, L*hd)
	for j := range L {
		copy(sc.v[j*hd:(j+1)*hd], v[(start+j)*dim+col:])
	}
	return sc.v
}

// softexp is the softmax of one row of scores without the division by
// the sum: row[j] = exp(row[j]·scale - max·scale), on AVX-512 (softexp16)
// or in Go, returning 1/sum. The attention products divide the output
// rows, P·V, by the sum instead (normalizeRows): hd products a row rather
// than L, and one pass over the scores less. (scale > 0, so max·scale is
// the maximum of the scaled scores.)
func softexp(asm bool, row []float32, scale float32) float32 {
	if asm {
		return softexpAsm(row, scale)
	}
	return softexpRow(row, scale)
}

// softexpRow is softexp in Go: the oracle of softexp16.
func softexpRow(row []float32, scale float32) float32 {
	m := float32(math.Inf(-1))
	for _, x := range row {
		m = max(m, x)
	}
	m *= scale
	var sum float32
	for j, x := range row {
		e := exp32(x*scale - m)
		row[j] = e
		sum += e
	}
	return 1 / sum
}

// normalizeRows multiplies row r of the attention output o (4 rows of hd
// floats, ld apart) by inv[r], the softmax's 1/sum of that query's
// scores (the rows past the sequence have inv 0 and P 0): mm4s's last
// step in Go.
func normalizeRows(o []float32, ld, hd int, inv *[attnRows]float32) {
	for r, f := range inv {
		row := o[r*ld : r*ld+hd]
		for j := range row {
			row[j] *= f
		}
	}
}

// softmaxRow turns scores (dot products) into probabilities in place:
// exp(s·scale - max) / sum, as the reference does (as a product with
// 1/sum, as softmax16 does).
func softmaxRow(row []float32, scale float32) {
	inv := softexpRow(row, scale)
	for j := range row {
		row[j] *= inv
	}
}

// mm4 computes C[4 x w] = A[4 x k] · B[k x w] (row-major, strides lda, ldb,
// ldc), on the assembly kernels when asm (w a multiple of 16) or mm4Go.
func mm4(asm bool, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc, w int) {
	mm4s(asm, k, a, lda, b, ldb, c, ldc, w, nil)
}

// mm4s is mm4 with row r of C multiplied by s[r] where s is not nil: P·V
// over the softmax's sums (softexp), the products in the kernels' last step
// before the store.
func mm4s(asm bool, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc, w int, s *[attnRows]float32) {
	if k <= 0 {
		return
	}
	// The kernels do not check bounds: check once here.
	if len(a) < 3*lda+k || len(b) < (k-1)*ldb+w || len(c) < 3*ldc+w {
		panic(fmt.Sprintf("cpu: mm4: k=%d w=%d: len(a)=%d lda=%d len(b)=%d ldb=%d len(c)=%d ldc=%d",
			k, w, len(a), lda, len(b), ldb, len(c), ldc))
	}
	if !asm {
		mm4Go(k, a, lda, b, ldb, c, ldc, w)
		if s != nil {
			normalizeRows(c, ldc, w, s)
		}
		return
	}
	var sp *float32
	if s != nil {
		sp = &s[0]
	}
	for c0 := 0; c0 < w; {
		n := 16
		switch {
		case w-c0 >= 64:
			n = 64
		case w-c0 >= 32:
			n = 32
		}
		mm4Asm(n, k, &a[0], lda, &b[c0], ldb, &c[c0], ldc, sp)
		c0 += n
	}
}

// mm4Go is the portable kernel: four rows of C at a time, one row of B
// loaded once for all four.
func mm4Go(k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc, w int) {
	c0, c1, c2, c3 := c[:w], c[ldc:ldc+w], c[2*ldc:2*ldc+w], c[3*ldc:3*ldc+w]
	clear(c0)
	clear(c1)
	clear(c2)
	clear(c3)
	for p := 0; p < k; p++ {
		a0, a1, a2, a3 := a[p], a[lda+p], a[2*lda+p], a[3*lda+p]
		br := b[p*ldb : p*ldb+w]
		for j, x := range br {
			c0[j] += a0 * x
			c1[j] += a1 * x
			c2[j] += a2 * x
			c3[j] += a3 * x
		}
	}
}

// transposeHead writes kt[d*lp+j] = k[j*dim+d] for j < n, d < hd: on
// AVX-512 (transpose16) in 16 x 16 blocks, the keys and dims past the last
// whole block by transposeGo.
func transposeHead(kt []float32, lp int, k []float32, dim, n, hd int) {
	nb, db := n&^15, hd&^15
	if !hasMM4 || nb == 0 || db == 0 {
		transposeGo(kt, lp, k, dim, 0, n, 0, hd)
		return
	}
	transposeAsm(kt, lp, k, dim, nb, db)
	transposeGo(kt, lp, k, dim, 0, nb, db, hd)
	transposeGo(kt, lp, k, dim, nb, n, 0, hd)
}

// transposeGo writes kt[d*lp+j] = k[j*dim+d] for j0 <= j < n, d0 <= d < hd,
// four keys at a time, so that each write touches four neighbouring
// floats of a row of kt rather than one: the fallback, and the oracle of
// transpose16.
func transposeGo(kt []float32, lp int, k []float32, dim, j0, n, d0, hd int) {
	if d0 >= hd {
		return
	}
	j := j0
	for ; j+4 <= n; j += 4 {
		k0 := k[j*dim+d0 : j*dim+hd]
		k1 := k[(j+1)*dim+d0 : (j+1)*dim+hd]
		k2 := k[(j+2)*dim+d0 : (j+2)*dim+hd]
		k3 := k[(j+3)*dim+d0 : (j+3)*dim+hd]
		for i := range k0 {
			d := d0 + i
			dst := kt[d*lp+j : d*lp+j+4]
			dst[0], dst[1], dst[2], dst[3] = k0[i], k1[i], k2[i], k3[i]
		}
	}
	for ; j < n; j++ {
		row := k[j*dim+d0 : j*dim+hd]
		for i, x := range row {
			kt[(d0+i)*lp+j] = x
		}
	}
}

// panel is the width of one panel of attentionHead's transposed keys.
const panel = 64

// preparePanels is prepareHead for attentionHead: the keys transposed in
// panels of 64, Kᵀ[:, p0:p0+64] as hd rows of 64 floats, one contiguous
// run (lp a multiple of 64, the keys past L zero). Each product of four
// queries with a panel then reads 16 KB in order, where rows lp floats
// apart would make hd streams of 256 bytes.
func preparePanels(sc *attnScratch, k []float32, kdim, kcol, hd, start, L, lp int) (kt, sb, qb, ob []float32) {
	kt, sb, qb, ob = sc.size(hd, lp, lp)
	for p0 := 0; p0 < lp; p0 += panel {
		pt := kt[p0*hd : (p0+panel)*hd]
		n := max(0, min(panel, L-p0))
		if n > 0 {
			transposeHead(pt, panel, k[(start+p0)*kdim+kcol:], kdim, n, hd)
		}
		if n < panel {
			for d := 0; d < hd; d++ {
				clear(pt[d*panel+n : (d+1)*panel])
			}
		}
	}
	return kt, sb, qb, ob
}

// prepareHead sizes sc for one head of L tokens and hd columns whose score
// rows are scoreWidth floats wide, and writes the head's keys (columns
// kcol.. of rows kdim floats apart, from row start) transposed into sc.kt,
// each padded with zeros to lp = L rounded up to the kernel's 32 columns.
// attentionHead, causalHead and windowHead share it.
func prepareHead(sc *attnScratch, k []float32, kdim, kcol, hd, start, L, lp, scoreWidth int) (kt, sb, qb, ob []float32) {
	kt, sb, qb, ob = sc.size(hd, lp, scoreWidth)
	transposeHead(kt, lp, k[start*kdim+kcol:], kdim, L, hd)
	for d := 0; d < hd; d++ {
		clear(kt[d*lp+L : (d+1)*lp])
	}
	return kt, sb, qb, ob
}
