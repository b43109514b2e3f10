package cpu

import (
	"math"

	"github.com/crossrank/crossrank/internal/gemm"
)

// Causal attention in the bf16 precision, as PyTorch's autocast and
// OpenVINO's bf16 run it: both products (Q·Kᵀ and P·V) take bf16 inputs
// and accumulate in fp32 (VDPBF16PS); the scores, their softmax and the
// output stay fp32. The products pair their inputs along the dot product:
//
//	Kᵀ: kp[p*lp + j] = (k[j][2p], k[j][2p+1])   hd/2 rows of lp pairs
//	V:  vp[m*hd + d] = (v[2m][d], v[2m+1][d])   lp/2 rows of hd pairs
//
// both packed once per (sequence, key-value head), zero-padded to lp keys;
// Q rounded to pairs once per query head, P's four rows per block.
// Only a bf16 backend on a CPU with AVX512_BF16 takes this path (hd a
// multiple of 16); fp32 and int8 keep causalHead.

// bf16Scratch is one participant's bf16 attention memory.
type bf16Scratch struct {
	kp, kr, vp, qp, pp []uint32
}

func growPairs(b []uint32, n int) []uint32 {
	if cap(b) < n {
		return make([]uint32, n)
	}
	return b[:n]
}

// pairsGo stores src rounded to bf16 as (len(src)+1)/2 pairs in dst, an odd
// tail's high half zero (gemm's conversion): pairs32's fallback and oracle.
func pairsGo(dst []uint32, src []float32) { gemm.ToBF16Pairs(dst, src) }

// bf16Bits is x rounded to bf16 (gemm.RoundBF16), in a pair's low half.
func bf16Bits(x float32) uint32 { return uint32(gemm.RoundBF16(x)) }

// dp4Go is the portable dp4: C[4 x w] = A[4 x k pairs] · B[k pairs x w],
// each product of two bf16 values exact in fp32, the pair's two products
// added to the row in order (low, high).
func dp4Go(k int, a []uint32, lda int, b []uint32, ldb int, c []float32, ldc, w int) {
	for r := 0; r < 4; r++ {
		cr := c[r*ldc : r*ldc+w]
		clear(cr)
		for p := 0; p < k; p++ {
			x := a[r*lda+p]
			lo, hi := gemm.FromBF16(uint16(x)), gemm.FromBF16(uint16(x>>16))
			for j, y := range b[p*ldb : p*ldb+w] {
				cr[j] += lo*gemm.FromBF16(uint16(y)) + hi*gemm.FromBF16(uint16(y>>16))
			}
		}
	}
}

// causalHeadBF16 is causalHead in bf16 products; useAsm selects dp4asm,
// pairsAsm and softmaxAsm (else dp4Go, pairsGo and softmaxRow). hd must be
// a multiple of 16.
func causalHeadBF16(sc *attnScratch, out, q, k, v []float32, qdim, qcol, group, kdim, kcol, hd, start, L int, useAsm bool) {
	lp := (L + 31) &^ 31
	if sc.bf == nil {
		sc.bf = new(bf16Scratch)
	}
	bs := sc.bf
	bs.kp = growPairs(bs.kp, hd/2*lp)
	bs.kr = growPairs(bs.kr, hd/2*L)
	bs.vp = growPairs(bs.vp, lp/2*hd)
	bs.qp = growPairs(bs.qp, (L+attnRows-1)/attnRows*attnRows*hd/2)
	bs.pp = growPairs(bs.pp, attnRows*lp/2)
	sc.s = growFloats(sc.s, attnRows*lp)
	sc.o = growFloats(sc.o, attnRows*hd)
	kp, vp, qp, pp, sb, ob := bs.kp, bs.vp, bs.qp, bs.pp, sc.s, sc.o
	dp4, pairs, vpairs, softmax := dp4Go, pairsGo, vpairsGo, softmaxRow
	if useAsm {
		dp4, pairs, vpairs, softmax = dp4asm, pairsAsm, vpairsAsm, softmaxAsm
	}
	packKeysBF16(kp, bs.kr, lp, k[start*kdim+kcol:], kdim, L, hd, pairs)
	packValuesBF16(vp, lp, v[start*kdim+kcol:], kdim, L, hd, vpairs)
	scale := float32(1 / math.Sqrt(float64(hd)))
	hp, lpp := hd/2, lp/2
	for g := range group {
		col := qcol + g*hd
		// The head's queries rounded to pairs in one pass (rows past L
		// zero), ahead of the blocks: reading them there, between the
		// products, stalled on the cache misses.
		for i := 0; i < L; i++ {
			pairs(qp[i*hp:(i+1)*hp], q[(start+i)*qdim+col:(start+i)*qdim+col+hd])
		}
		clear(qp[L*hp:])
		for i0 := 0; i0 < L; i0 += attnRows {
			rows := min(attnRows, L-i0)
			keys := i0 + rows
			w := min(lp, (keys+31)&^31)
			ke := (keys + 1) &^ 1 // keys rounded up to whole pairs
			dp4(hp, qp[i0*hp:], hp, kp, lp, sb, lp, w)
			for r := 0; r < attnRows; r++ {
				// The whole kernel width w is rounded (pairs32 takes
				// multiples of 32), the keys past n zero.
				row := sb[r*lp : r*lp+w]
				n := i0 + r + 1
				if r >= rows {
					n = 0
				}
				if n > 0 {
					softmax(row[:n], scale)
				}
				clear(row[n:])
			}
			// Rounded after the four softmaxes: a row read right after
			// its masked and scalar stores stalls on store forwarding.
			for r := 0; r < attnRows; r++ {
				pairs(pp[r*lpp:r*lpp+w/2], sb[r*lp:r*lp+w])
			}
			oc, ldc := out[(start+i0)*qdim+col:], qdim
			if rows < attnRows {
				oc, ldc = ob, hd
			}
			dp4(ke/2, pp, lpp, vp, hd, oc, ldc, hd)
			if rows < attnRows {
				for r := 0; r < rows; r++ {
					copy(out[(start+i0+r)*qdim+col:(start+i0+r)*qdim+col+hd], ob[r*hd:(r+1)*hd])
				}
			}
		}
	}
}

// packKeysBF16 writes kp[p*lp+j] = (k[j][2p], k[j][2p+1]) rounded to bf16
// for j < n (rows kdim floats apart), zero for n <= j < lp: each key's row
// rounded to pairs (pairs, into kr: n rows of hd/2), then transposed four
// keys at a time.
func packKeysBF16(kp, kr []uint32, lp int, k []float32, kdim, n, hd int, pairs func([]uint32, []float32)) {
	hp := hd / 2
	for j := 0; j < n; j++ {
		pairs(kr[j*hp:(j+1)*hp], k[j*kdim:j*kdim+hd])
	}
	j := 0
	for ; j+4 <= n; j += 4 {
		k0, k1, k2, k3 := kr[j*hp:(j+1)*hp], kr[(j+1)*hp:(j+2)*hp], kr[(j+2)*hp:(j+3)*hp], kr[(j+3)*hp:(j+4)*hp]
		for p := range k0 {
			dst := kp[p*lp+j : p*lp+j+4]
			dst[0], dst[1], dst[2], dst[3] = k0[p], k1[p], k2[p], k3[p]
		}
	}
	for ; j < n; j++ {
		for p, x := range kr[j*hp : (j+1)*hp] {
			kp[p*lp+j] = x
		}
	}
	for p := 0; p < hp; p++ {
		clear(kp[p*lp+n : (p+1)*lp])
	}
}

// packValuesBF16 writes vp[m*hd+d] = (v[2m][d], v[2m+1][d]) rounded to
// bf16, a key past n zero, for m < lp/2; vpairs pairs two whole rows.
func packValuesBF16(vp []uint32, lp int, v []float32, kdim, n, hd int, vpairs func(dst []uint32, r0, r1 []float32)) {
	for m := 0; m < lp/2; m++ {
		dst := vp[m*hd : (m+1)*hd]
		j := 2 * m
		switch {
		case j+1 < n:
			vpairs(dst, v[j*kdim:j*kdim+hd], v[(j+1)*kdim:(j+1)*kdim+hd])
		case j < n:
			r0 := v[j*kdim : j*kdim+hd]
			for d := range dst {
				dst[d] = bf16Bits(r0[d])
			}
		default:
			clear(dst)
		}
	}
}

// vpairsGo is vpairs16's fallback and oracle.
func vpairsGo(dst []uint32, r0, r1 []float32) {
	r0, r1 = r0[:len(dst)], r1[:len(dst)]
	for d := range dst {
		dst[d] = bf16Bits(r0[d]) | bf16Bits(r1[d])<<16
	}
}
