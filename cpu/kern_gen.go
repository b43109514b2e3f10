//go:build ignore

// kern_gen writes kern_amd64.s: the attention micro-kernels of the
// fast CPU backend. Run it with `go generate ./cpu`.
package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

// kernel writes mm4x<16*nv>: C[4 x 16nv] = A[4 x k] · B[k x 16nv], all
// row-major with their own strides (in floats), k >= 1. The 4*nv
// accumulators stay in registers for the whole k loop; each step loads nv
// vectors of B's row and broadcasts one float of each of A's four rows.
//
// With scaled, it is mm4x<w>s(..., ldc int, s *float32): row r of C is
// multiplied by s[r] before it is stored (the softmax's 1/sum, for P·V).
func kernel(nv int, scaled bool) {
	name := fmt.Sprintf("mm4x%d", 16*nv)
	if scaled {
		name += "s"
		p("// func %s(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, s *float32)", name)
		p("TEXT ·%s(SB), NOSPLIT, $0-64", name)
	} else {
		p("// func %s(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)", name)
		p("TEXT ·%s(SB), NOSPLIT, $0-56", name)
	}
	p("\tMOVQ k+0(FP), CX")
	p("\tMOVQ a+8(FP), SI")
	p("\tMOVQ lda+16(FP), R8")
	p("\tMOVQ b+24(FP), DX")
	p("\tMOVQ ldb+32(FP), R9")
	p("\tMOVQ c+40(FP), DI")
	p("\tMOVQ ldc+48(FP), R10")
	p("\tSHLQ $2, R8")
	p("\tSHLQ $2, R9")
	p("\tSHLQ $2, R10")
	p("\tLEAQ (SI)(R8*1), R11")
	p("\tLEAQ (SI)(R8*2), R12")
	p("\tLEAQ (R11)(R8*2), R13")
	for i := 0; i < 4*nv; i++ {
		p("\tVPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	label := fmt.Sprintf("loop%d", nv)
	if scaled {
		label += "s"
	}
	p("%s:", label)
	for v := 0; v < nv; v++ {
		p("\tVMOVUPS %d(DX), Z%d", 64*v, 16+v)
	}
	rows := []string{"SI", "R11", "R12", "R13"}
	for r, reg := range rows {
		p("\tVBROADCASTSS (%s), Z%d", reg, 20+r)
		for v := 0; v < nv; v++ {
			p("\tVFMADD231PS Z%d, Z%d, Z%d", 16+v, 20+r, r*nv+v)
		}
	}
	for _, reg := range rows {
		p("\tADDQ $4, %s", reg)
	}
	p("\tADDQ R9, DX")
	p("\tDECQ CX")
	p("\tJNZ %s", label)
	if scaled {
		p("\tMOVQ s+56(FP), AX")
		for r := 0; r < 4; r++ {
			p("\tVBROADCASTSS %d(AX), Z%d", 4*r, 20+r)
			for v := 0; v < nv; v++ {
				p("\tVMULPS Z%d, Z%d, Z%d", 20+r, r*nv+v, r*nv+v)
			}
		}
	}
	for r := 0; r < 4; r++ {
		for v := 0; v < nv; v++ {
			p("\tVMOVUPS Z%d, %d(DI)", r*nv+v, 64*v)
		}
		if r < 3 {
			p("\tADDQ R10, DI")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// transpose writes transpose16(kt *float32, lp int, k *float32, dim, kb, db
// int): kt[d·lp+j] = k[j·dim+d] for j < 16·kb, d < 16·db, one 16 x 16
// block at a time: sixteen rows of k loaded, transposed in registers
// (interleaving floats, then pairs, then 128-bit lanes twice), and stored
// as sixteen rows of kt. Strides are in floats.
func transpose() {
	p("// func transpose16(kt *float32, lp int, k *float32, dim, kb, db int)")
	p("TEXT ·transpose16(SB), NOSPLIT, $0-48")
	p("\tMOVQ kt+0(FP), DI")
	p("\tMOVQ lp+8(FP), R10")
	p("\tMOVQ k+16(FP), SI")
	p("\tMOVQ dim+24(FP), R8")
	p("\tMOVQ kb+32(FP), R12")
	p("\tMOVQ db+40(FP), R13")
	p("\tSHLQ $2, R8")
	p("\tSHLQ $2, R10")
	p("\tLEAQ (R8)(R8*2), R9")    // 3 rows of k
	p("\tLEAQ (R10)(R10*2), R11") // 3 rows of kt
	// rows writes the 16 moves between Z0-Z15 and the rows base, base +
	// stride, ... (stride in register s, 3·stride in s3), through BX.
	rows := func(base, s, s3 string, load bool) {
		p("\tMOVQ %s, BX", base)
		for g := 0; g < 4; g++ {
			for i, a := range []string{"(BX)", "(BX)(" + s + "*1)", "(BX)(" + s + "*2)", "(BX)(" + s3 + "*1)"} {
				if load {
					p("\tVMOVUPS %s, Z%d", a, 4*g+i)
				} else {
					p("\tVMOVUPS Z%d, %s", 4*g+i, a)
				}
			}
			if g < 3 {
				p("\tLEAQ (BX)(%s*4), BX", s)
			}
		}
	}
	p("tr1:")
	p("\tMOVQ SI, AX") // k's block at dims d0..
	p("\tMOVQ DI, CX") // kt's block at rows d0..
	p("\tMOVQ R13, DX")
	p("tr2:")
	rows("AX", "R8", "R9", true)
	// Row r of the block is Z<r>; lane L of a register is its floats
	// 4L..4L+3. Floats of row pairs interleaved:
	for m := 0; m < 8; m++ {
		p("\tVUNPCKLPS Z%d, Z%d, Z%d", 2*m+1, 2*m, 16+2*m)
		p("\tVUNPCKHPS Z%d, Z%d, Z%d", 2*m+1, 2*m, 17+2*m)
	}
	// then pairs: Z<4m+i>'s lane L is column 4L+i of rows 4m..4m+3.
	for m := 0; m < 4; m++ {
		t := 16 + 4*m
		p("\tVUNPCKLPD Z%d, Z%d, Z%d", t+2, t, 4*m)
		p("\tVUNPCKHPD Z%d, Z%d, Z%d", t+2, t, 4*m+1)
		p("\tVUNPCKLPD Z%d, Z%d, Z%d", t+3, t+1, 4*m+2)
		p("\tVUNPCKHPD Z%d, Z%d, Z%d", t+3, t+1, 4*m+3)
	}
	// then lanes: column 4L+i is lane L of Z<i>, Z<4+i>, Z<8+i>, Z<12+i>.
	for i := 0; i < 4; i++ {
		a, b, c, d := i, 4+i, 8+i, 12+i
		v := 16 + 4*i
		p("\tVSHUFF32X4 $0x44, Z%d, Z%d, Z%d", b, a, v)        // a0 a1 b0 b1
		p("\tVSHUFF32X4 $0xee, Z%d, Z%d, Z%d", b, a, v+1)      // a2 a3 b2 b3
		p("\tVSHUFF32X4 $0x44, Z%d, Z%d, Z%d", d, c, v+2)      // c0 c1 d0 d1
		p("\tVSHUFF32X4 $0xee, Z%d, Z%d, Z%d", d, c, v+3)      // c2 c3 d2 d3
		p("\tVSHUFF32X4 $0x88, Z%d, Z%d, Z%d", v+2, v, i)      // column i
		p("\tVSHUFF32X4 $0xdd, Z%d, Z%d, Z%d", v+2, v, 4+i)    // column 4+i
		p("\tVSHUFF32X4 $0x88, Z%d, Z%d, Z%d", v+3, v+1, 8+i)  // column 8+i
		p("\tVSHUFF32X4 $0xdd, Z%d, Z%d, Z%d", v+3, v+1, 12+i) // column 12+i
	}
	rows("CX", "R10", "R11", false)
	p("\tADDQ $64, AX")
	p("\tLEAQ (CX)(R10*8), CX")
	p("\tLEAQ (CX)(R10*8), CX") // 16 rows of kt on
	p("\tDECQ DX")
	p("\tJNZ tr2")
	p("\tLEAQ (SI)(R8*8), SI")
	p("\tLEAQ (SI)(R8*8), SI") // 16 rows of k on
	p("\tADDQ $64, DI")
	p("\tDECQ R12")
	p("\tJNZ tr1")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// bcast loads the float32 constant v into every lane of Z<reg>.
func bcast(v float32, reg int) {
	p("\tMOVL $0x%08x, AX", math.Float32bits(v))
	p("\tVPBROADCASTD AX, Z%d", reg)
}

// tailMask puts (1 << (n % 16)) - 1 in K1, n in BX; clobbers AX, CX.
func tailMask() {
	p("\tMOVQ BX, CX")
	p("\tANDQ $15, CX")
	p("\tMOVL $1, AX")
	p("\tSHLL CX, AX")
	p("\tDECL AX")
	p("\tKMOVW AX, K1")
}

// reduce folds the 16 lanes of Z<reg> into lane 0 of X<reg> with op
// (VMAXPS or VADDPS), then broadcasts it to Z<dst>; clobbers Z1.
func reduce(op string, reg, dst int) {
	p("\tVEXTRACTF64X4 $1, Z%d, Y1", reg)
	p("\t%s Y1, Y%d, Y%d", op, reg, reg)
	p("\tVEXTRACTF128 $1, Y%d, X1", reg)
	p("\t%s X1, X%d, X%d", op, reg, reg)
	p("\tVPERMILPS $0x4e, X%d, X1", reg)
	p("\t%s X1, X%d, X%d", op, reg, reg)
	p("\tVPERMILPS $0xb1, X%d, X1", reg)
	p("\t%s X1, X%d, X%d", op, reg, reg)
	p("\tVBROADCASTSS X%d, Z%d", reg, dst)
}

// Constants of exp (Z20-Z27) and their use: Z<x> = e^Z<x>, with Z<n> and
// Z<t> as scratch. The same range reduction and Taylor polynomial as
// exp32 (fastmath.go), with VSCALEFPS for the 2^n.
func expConsts() {
	bcast(-104, 20)                // e^x is 0 in float32 below about -103.97
	bcast(1.44269504088896341, 21) // log2(e)
	bcast(0.693359375, 22)         // ln2 hi
	bcast(-2.12194440e-4, 23)      // ln2 lo
	bcast(1.0/5040, 24)
	bcast(1.0/720, 25)
	bcast(1.0/120, 26)
	bcast(1.0/24, 27)
	bcast(1.0/6, 28)
	bcast(0.5, 29)
	bcast(1, 19)
}

func exp(x, n, t int) {
	p("\tVMAXPS Z20, Z%d, Z%d", x, x)
	p("\tVMULPS Z21, Z%d, Z%d", x, n)
	p("\tVRNDSCALEPS $0, Z%d, Z%d", n, n)
	p("\tVFNMADD231PS Z22, Z%d, Z%d", n, x)
	p("\tVFNMADD231PS Z23, Z%d, Z%d", n, x)
	p("\tVMOVAPS Z24, Z%d", t)
	for _, c := range []int{25, 26, 27, 28, 29, 19, 19} {
		p("\tVFMADD213PS Z%d, Z%d, Z%d", c, x, t)
	}
	p("\tVSCALEFPS Z%d, Z%d, Z%d", n, t, x)
}

// softmax writes softmax16(x *float32, n int, scale float32): x[i] *= scale,
// then exp(x[i] - max) / sum over the n >= 1 floats, in three passes
// (scale and max; exp, store and sum; times 1/sum, which is within an ulp
// of the quotient and far cheaper than a divide per vector), the last n%16
// floats under the mask K1.
func softmax() {
	p("// func softmax16(x *float32, n int, scale float32)")
	p("TEXT ·softmax16(SB), NOSPLIT, $0-20")
	p("\tMOVQ x+0(FP), SI")
	p("\tMOVQ n+8(FP), BX")
	p("\tVBROADCASTSS scale+16(FP), Z31")
	tailMask()
	bcast(float32(math.Inf(-1)), 30)
	// pass 1
	p("\tMOVQ SI, DI")
	p("\tMOVQ BX, DX")
	p("sm1:")
	p("\tCMPQ DX, $16")
	p("\tJLT sm1tail")
	p("\tVMULPS (DI), Z31, Z0")
	p("\tVMOVUPS Z0, (DI)")
	p("\tVMAXPS Z0, Z30, Z30")
	p("\tADDQ $64, DI")
	p("\tSUBQ $16, DX")
	p("\tJMP sm1")
	p("sm1tail:")
	p("\tTESTQ DX, DX")
	p("\tJZ sm1done")
	p("\tVMOVUPS.Z (DI), K1, Z0")
	p("\tVMULPS Z0, Z31, Z0")
	p("\tVMOVUPS Z0, K1, (DI)")
	p("\tVMAXPS Z0, Z30, K1, Z30")
	p("sm1done:")
	p("\tVMOVAPS Z30, Z2")
	reduce("VMAXPS", 2, 30) // Z30 = max everywhere
	// pass 2
	expConsts()
	p("\tVPXORD Z18, Z18, Z18") // the sum
	p("\tMOVQ SI, DI")
	p("\tMOVQ BX, DX")
	p("sm2:")
	p("\tCMPQ DX, $16")
	p("\tJLT sm2tail")
	p("\tVMOVUPS (DI), Z0")
	p("\tVSUBPS Z30, Z0, Z0")
	exp(0, 2, 3)
	p("\tVMOVUPS Z0, (DI)")
	p("\tVADDPS Z0, Z18, Z18")
	p("\tADDQ $64, DI")
	p("\tSUBQ $16, DX")
	p("\tJMP sm2")
	p("sm2tail:")
	p("\tTESTQ DX, DX")
	p("\tJZ sm2done")
	p("\tVMOVUPS.Z (DI), K1, Z0")
	p("\tVSUBPS Z30, Z0, Z0")
	exp(0, 2, 3)
	p("\tVMOVUPS Z0, K1, (DI)")
	p("\tVADDPS Z0, Z18, K1, Z18")
	p("sm2done:")
	p("\tVMOVAPS Z18, Z2")
	reduce("VADDPS", 2, 18)     // Z18 = sum everywhere
	p("\tVDIVPS Z18, Z19, Z18") // 1/sum (Z19 is 1)
	// pass 3
	p("\tMOVQ SI, DI")
	p("\tMOVQ BX, DX")
	p("sm3:")
	p("\tCMPQ DX, $16")
	p("\tJLT sm3tail")
	p("\tVMULPS (DI), Z18, Z0")
	p("\tVMOVUPS Z0, (DI)")
	p("\tADDQ $64, DI")
	p("\tSUBQ $16, DX")
	p("\tJMP sm3")
	p("sm3tail:")
	p("\tTESTQ DX, DX")
	p("\tJZ sm3done")
	p("\tVMOVUPS.Z (DI), K1, Z0")
	p("\tVMULPS Z18, Z0, Z0")
	p("\tVMOVUPS Z0, K1, (DI)")
	p("sm3done:")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// softexp writes softexp16(x *float32, n int, scale float32) float32: the
// softmax without its last pass, for attention, which divides the n >= 1
// exponentials' weighted sum (P·V) instead of each of them. Pass 1 takes
// the maximum m of the raw scores (scale > 0, so m·scale is the maximum of
// the scaled ones) and stores nothing; pass 2 stores exp(x[i]·scale -
// m·scale), the argument in one FMA, and sums them; it returns 1/sum. With
// a power-of-two scale (head size 64: 1/8) x[i]·scale is exact, so every
// stored float is softmax16's before its product with 1/sum, to the bit.
func softexp() {
	p("// func softexp16(x *float32, n int, scale float32) float32")
	p("TEXT ·softexp16(SB), NOSPLIT, $0-28")
	p("\tMOVQ x+0(FP), SI")
	p("\tMOVQ n+8(FP), BX")
	p("\tVBROADCASTSS scale+16(FP), Z31")
	tailMask()
	bcast(float32(math.Inf(-1)), 30)
	bcast(float32(math.Inf(-1)), 17)
	// pass 1: two chains of maxima
	p("\tMOVQ SI, DI")
	p("\tMOVQ BX, DX")
	p("se1:")
	p("\tCMPQ DX, $32")
	p("\tJLT se1one")
	p("\tVMAXPS (DI), Z30, Z30")
	p("\tVMAXPS 64(DI), Z17, Z17")
	p("\tADDQ $128, DI")
	p("\tSUBQ $32, DX")
	p("\tJMP se1")
	p("se1one:")
	p("\tCMPQ DX, $16")
	p("\tJLT se1tail")
	p("\tVMAXPS (DI), Z30, Z30")
	p("\tADDQ $64, DI")
	p("\tSUBQ $16, DX")
	p("se1tail:")
	p("\tTESTQ DX, DX")
	p("\tJZ se1done")
	p("\tVMOVUPS.Z (DI), K1, Z0")
	p("\tVMAXPS Z0, Z30, K1, Z30")
	p("se1done:")
	p("\tVMAXPS Z17, Z30, Z2")
	reduce("VMAXPS", 2, 30)
	p("\tVMULPS Z31, Z30, Z30") // m·scale
	// pass 2
	expConsts()
	p("\tVPXORD Z18, Z18, Z18") // the sum
	p("\tMOVQ SI, DI")
	p("\tMOVQ BX, DX")
	p("se2:")
	p("\tCMPQ DX, $16")
	p("\tJLT se2tail")
	p("\tVMOVUPS (DI), Z0")
	p("\tVFMSUB213PS Z30, Z31, Z0") // x·scale - m·scale
	exp(0, 2, 3)
	p("\tVMOVUPS Z0, (DI)")
	p("\tVADDPS Z0, Z18, Z18")
	p("\tADDQ $64, DI")
	p("\tSUBQ $16, DX")
	p("\tJMP se2")
	p("se2tail:")
	p("\tTESTQ DX, DX")
	p("\tJZ se2done")
	p("\tVMOVUPS.Z (DI), K1, Z0")
	p("\tVFMSUB213PS Z30, Z31, Z0")
	exp(0, 2, 3)
	p("\tVMOVUPS Z0, K1, (DI)")
	p("\tVADDPS Z0, Z18, K1, Z18")
	p("se2done:")
	p("\tVMOVAPS Z18, Z2")
	reduce("VADDPS", 2, 18)
	p("\tVDIVSS X18, X19, X18") // 1/sum (Z19 is 1)
	p("\tVMOVSS X18, ret+24(FP)")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// geluConsts loads the constants of geluBody: Z10-Z13 and Z16-Z31.
func geluConsts() {
	bcast(0.70710678118654752, 31)
	bcast(-4, 30)
	bcast(4, 29)
	bcast(0.5, 28)
	pc := []float32{1.9098870041034388e-08, -1.9219710338802543e-06, 0.00014337495667859912, 0.0038402536883950233, 0.05105819180607796, 0.20370277762413025, 1.1283791065216064}
	qc := []float32{0.0009836675599217415, 0.01465712208300829, 0.11654333770275116, 0.5138589143753052, 1}
	for i, c := range pc {
		bcast(c, 16+i) // Z16-Z22
	}
	for i, c := range qc {
		bcast(c, 23+i) // Z23-Z27
	}
	p("\tMOVL $0x7fffffff, AX")
	p("\tVPBROADCASTD AX, Z10")
	bcast(3.92, 11)
	p("\tMOVL $0x80000000, AX")
	p("\tVPBROADCASTD AX, Z12")
	bcast(1, 13)
}

// geluBody replaces Z0 = x by the exact GELU x/2 + x/2·erf(x/√2), with
// erf32's rational function (fastmath.go); clobbers Z1-Z5 and K2.
func geluBody() {
	// Z0 = x; Z1 = u = clamp(x/sqrt2); Z2 = t = u²; Z3 = P; Z4 = Q
	p("\tVMULPS Z31, Z0, Z1")
	p("\tVMAXPS Z30, Z1, Z1")
	p("\tVMINPS Z29, Z1, Z1")
	p("\tVMULPS Z1, Z1, Z2")
	p("\tVMOVAPS Z16, Z3")
	for i := 17; i <= 22; i++ {
		p("\tVFMADD213PS Z%d, Z2, Z3", i)
	}
	p("\tVMOVAPS Z23, Z4")
	for i := 24; i <= 27; i++ {
		p("\tVFMADD213PS Z%d, Z2, Z4", i)
	}
	p("\tVMULPS Z1, Z3, Z3")
	p("\tVDIVPS Z4, Z3, Z3") // erf
	// erf is ±1 to float32 precision for |u| >= 3.92 (erfc < half
	// an ulp of 1), where the rational function is off by 2 ulp.
	p("\tVPANDD Z10, Z1, Z5")
	p("\tVCMPPS $0x1d, Z11, Z5, K2") // |u| >= 3.92
	p("\tVPANDD Z12, Z1, Z5")
	p("\tVPORD Z13, Z5, Z5") // ±1 with u's sign
	p("\tVMOVAPS Z5, K2, Z3")
	p("\tVMULPS Z28, Z0, Z0")     // x/2
	p("\tVFMADD231PS Z3, Z0, Z0") // x/2 + x/2·erf
}

// gelu writes gelu16(x *float32, n int): the exact GELU in place
// (geluBody), the last n%16 floats under K1.
func gelu() {
	p("// func gelu16(x *float32, n int)")
	p("TEXT ·gelu16(SB), NOSPLIT, $0-16")
	p("\tMOVQ x+0(FP), DI")
	p("\tMOVQ n+8(FP), BX")
	tailMask()
	geluConsts()
	p("\tMOVQ BX, DX")
	p("ge1:")
	p("\tCMPQ DX, $16")
	p("\tJLT ge1tail")
	p("\tVMOVUPS (DI), Z0")
	geluBody()
	p("\tVMOVUPS Z0, (DI)")
	p("\tADDQ $64, DI")
	p("\tSUBQ $16, DX")
	p("\tJMP ge1")
	p("ge1tail:")
	p("\tTESTQ DX, DX")
	p("\tJZ ge1done")
	p("\tVMOVUPS.Z (DI), K1, Z0")
	geluBody()
	p("\tVMOVUPS Z0, K1, (DI)")
	p("ge1done:")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// geglu writes geglu16(dst, x, gate *float32, n int): dst = gelu(x)·gate
// over n >= 1 floats in one pass, GeGLU's element step. The GELU is
// geluBody's, rounded to float32 before the product, so each dst[i] is
// gelu16's result times gate[i] to the bit.
func geglu() {
	p("// func geglu16(dst, x, gate *float32, n int)")
	p("TEXT ·geglu16(SB), NOSPLIT, $0-32")
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ x+8(FP), SI")
	p("\tMOVQ gate+16(FP), R8")
	p("\tMOVQ n+24(FP), BX")
	tailMask()
	geluConsts()
	p("\tMOVQ BX, DX")
	p("gg1:")
	p("\tCMPQ DX, $16")
	p("\tJLT gg1tail")
	p("\tVMOVUPS (SI), Z0")
	geluBody()
	p("\tVMULPS (R8), Z0, Z0")
	p("\tVMOVUPS Z0, (DI)")
	p("\tADDQ $64, DI")
	p("\tADDQ $64, SI")
	p("\tADDQ $64, R8")
	p("\tSUBQ $16, DX")
	p("\tJMP gg1")
	p("gg1tail:")
	p("\tTESTQ DX, DX")
	p("\tJZ gg1done")
	p("\tVMOVUPS.Z (SI), K1, Z0")
	geluBody()
	p("\tVMOVUPS.Z (R8), K1, Z6")
	p("\tVMULPS Z6, Z0, Z0")
	p("\tVMOVUPS Z0, K1, (DI)")
	p("gg1done:")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// add writes add16(a, b *float32, n int): a[i] += b[i] over n >= 1 floats,
// 64 floats a step while they last, then 16, then the last n%16 under K1.
func add() {
	p("// func add16(a, b *float32, n int)")
	p("TEXT ·add16(SB), NOSPLIT, $0-24")
	p("\tMOVQ a+0(FP), DI")
	p("\tMOVQ b+8(FP), SI")
	p("\tMOVQ n+16(FP), BX")
	tailMask()
	p("\tMOVQ BX, DX")
	p("ad4:")
	p("\tCMPQ DX, $64")
	p("\tJLT ad1")
	for v := 0; v < 4; v++ {
		p("\tVMOVUPS %d(DI), Z%d", 64*v, v)
	}
	for v := 0; v < 4; v++ {
		p("\tVADDPS %d(SI), Z%d, Z%d", 64*v, v, v)
	}
	for v := 0; v < 4; v++ {
		p("\tVMOVUPS Z%d, %d(DI)", v, 64*v)
	}
	p("\tADDQ $256, DI")
	p("\tADDQ $256, SI")
	p("\tSUBQ $64, DX")
	p("\tJMP ad4")
	p("ad1:")
	p("\tCMPQ DX, $16")
	p("\tJLT ad1tail")
	p("\tVMOVUPS (DI), Z0")
	p("\tVADDPS (SI), Z0, Z0")
	p("\tVMOVUPS Z0, (DI)")
	p("\tADDQ $64, DI")
	p("\tADDQ $64, SI")
	p("\tSUBQ $16, DX")
	p("\tJMP ad1")
	p("ad1tail:")
	p("\tTESTQ DX, DX")
	p("\tJZ ad1done")
	p("\tVMOVUPS.Z (DI), K1, Z0")
	p("\tVMOVUPS.Z (SI), K1, Z1")
	p("\tVADDPS Z1, Z0, Z0")
	p("\tVMOVUPS Z0, K1, (DI)")
	p("ad1done:")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// layerNorm writes layerNorm16: dst = LayerNorm(x + res) (res when hasRes
// is not 0) over n >= 1 floats, as addLayerNormRow (fastmath.go) but with
// float32 sums in 16 lanes: pass 1 stores x + res in dst and sums it, pass
// 2 sums the squared deviations, pass 3 writes (v - mean)·inv·gamma + beta.
func layerNorm() {
	p("// func layerNorm16(dst, x, res, gamma, beta *float32, n, hasRes int, invN, eps float32)")
	p("TEXT ·layerNorm16(SB), NOSPLIT, $0-64")
	p("\tMOVQ n+40(FP), BX")
	tailMask()
	p("\tMOVQ hasRes+48(FP), R8")
	// pass 1
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ x+8(FP), SI")
	p("\tMOVQ res+16(FP), R9")
	p("\tMOVQ BX, DX")
	p("\tVPXORD Z10, Z10, Z10")
	load := func(masked bool) {
		m := ""
		if masked {
			m = ".Z"
		}
		k := ""
		if masked {
			k = "K1, "
		}
		p("\tVMOVUPS%s (SI), %sZ0", m, k)
		p("\tTESTQ R8, R8")
		p("\tJZ ln1noRes%v", masked)
		p("\tVMOVUPS%s (R9), %sZ1", m, k)
		p("\tVADDPS Z1, Z0, Z0")
		p("ln1noRes%v:", masked)
	}
	p("ln1:")
	p("\tCMPQ DX, $16")
	p("\tJLT ln1tail")
	load(false)
	p("\tVMOVUPS Z0, (DI)")
	p("\tVADDPS Z0, Z10, Z10")
	p("\tADDQ $64, DI")
	p("\tADDQ $64, SI")
	p("\tADDQ $64, R9")
	p("\tSUBQ $16, DX")
	p("\tJMP ln1")
	p("ln1tail:")
	p("\tTESTQ DX, DX")
	p("\tJZ ln1done")
	load(true)
	p("\tVMOVUPS Z0, K1, (DI)")
	p("\tVADDPS Z0, Z10, Z10") // masked-off lanes are zero
	p("ln1done:")
	p("\tVMOVAPS Z10, Z2")
	reduce("VADDPS", 2, 10)
	p("\tVBROADCASTSS invN+56(FP), Z11")
	p("\tVMULPS Z11, Z10, Z10") // the mean, everywhere
	// pass 2
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ BX, DX")
	p("\tVPXORD Z12, Z12, Z12")
	p("ln2:")
	p("\tCMPQ DX, $16")
	p("\tJLT ln2tail")
	p("\tVMOVUPS (DI), Z0")
	p("\tVSUBPS Z10, Z0, Z0")
	p("\tVFMADD231PS Z0, Z0, Z12")
	p("\tADDQ $64, DI")
	p("\tSUBQ $16, DX")
	p("\tJMP ln2")
	p("ln2tail:")
	p("\tTESTQ DX, DX")
	p("\tJZ ln2done")
	p("\tVMOVUPS.Z (DI), K1, Z0")
	p("\tVSUBPS.Z Z10, Z0, K1, Z0")
	p("\tVFMADD231PS Z0, Z0, Z12")
	p("ln2done:")
	p("\tVMOVAPS Z12, Z2")
	reduce("VADDPS", 2, 12)
	// inv = 1 / sqrt(sq·invN + eps), in lane 0 then everywhere
	p("\tVMULSS X11, X12, X12")
	p("\tVADDSS eps+60(FP), X12, X12")
	p("\tVSQRTSS X12, X12, X12")
	bcast(1, 13)
	p("\tVDIVSS X12, X13, X13")
	p("\tVBROADCASTSS X13, Z13")
	// pass 3
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ gamma+24(FP), SI")
	p("\tMOVQ beta+32(FP), R9")
	p("\tMOVQ BX, DX")
	p("ln3:")
	p("\tCMPQ DX, $16")
	p("\tJLT ln3tail")
	p("\tVMOVUPS (DI), Z0")
	p("\tVSUBPS Z10, Z0, Z0")
	p("\tVMULPS Z13, Z0, Z0")
	p("\tVMOVUPS (R9), Z1")
	p("\tVFMADD231PS (SI), Z0, Z1")
	p("\tVMOVUPS Z1, (DI)")
	p("\tADDQ $64, DI")
	p("\tADDQ $64, SI")
	p("\tADDQ $64, R9")
	p("\tSUBQ $16, DX")
	p("\tJMP ln3")
	p("ln3tail:")
	p("\tTESTQ DX, DX")
	p("\tJZ ln3done")
	p("\tVMOVUPS.Z (DI), K1, Z0")
	p("\tVSUBPS Z10, Z0, Z0")
	p("\tVMULPS Z13, Z0, Z0")
	p("\tVMOVUPS.Z (R9), K1, Z1")
	p("\tVMOVUPS.Z (SI), K1, Z2")
	p("\tVFMADD231PS Z2, Z0, Z1")
	p("\tVMOVUPS Z1, K1, (DI)")
	p("ln3done:")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// swiglu writes swiglu16(gate, up *float32, n int): g = silu(g)·u in place for
// n >= 1 floats, the last n%16 under K1. As silu (decoder.go) it takes the
// exp of -|g| only, so e is in [0, 1] and nothing overflows: with
// s = 1 where g >= 0 and s = e where g < 0, silu(g) = g·s/(1+e). Below -104
// the exp clamps to about 0 and silu(g)·u is g·0·u (a signed zero) where the
// true value is below |g·u|·e^-104.
func swiglu() {
	p("// func swiglu16(gate, up *float32, n int)")
	p("TEXT ·swiglu16(SB), NOSPLIT, $0-24")
	p("\tMOVQ gate+0(FP), DI")
	p("\tMOVQ up+8(FP), SI")
	p("\tMOVQ n+16(FP), BX")
	tailMask()
	expConsts()
	p("\tMOVL $0x80000000, AX")
	p("\tVPBROADCASTD AX, Z30") // the sign bit
	p("\tVPXORD Z31, Z31, Z31") // 0
	p("\tMOVQ BX, DX")
	body := func() {
		// Z0 = g, Z1 = u; Z2 = e = exp(-|g|); Z5 = 1+e; Z6 = s
		p("\tVPORD Z30, Z0, Z2")
		exp(2, 3, 4)
		p("\tVADDPS Z19, Z2, Z5")
		p("\tVCMPPS $1, Z31, Z0, K2") // g < 0 (false for -0)
		p("\tVMOVAPS Z19, Z6")
		p("\tVMOVAPS Z2, K2, Z6")
		p("\tVMULPS Z6, Z0, Z0")
		p("\tVMULPS Z1, Z0, Z0")
		p("\tVDIVPS Z5, Z0, Z0")
	}
	p("sw1:")
	p("\tCMPQ DX, $16")
	p("\tJLT sw1tail")
	p("\tVMOVUPS (DI), Z0")
	p("\tVMOVUPS (SI), Z1")
	body()
	p("\tVMOVUPS Z0, (DI)")
	p("\tADDQ $64, DI")
	p("\tADDQ $64, SI")
	p("\tSUBQ $16, DX")
	p("\tJMP sw1")
	p("sw1tail:")
	p("\tTESTQ DX, DX")
	p("\tJZ sw1done")
	p("\tVMOVUPS.Z (DI), K1, Z0")
	p("\tVMOVUPS.Z (SI), K1, Z1")
	body()
	p("\tVMOVUPS Z0, K1, (DI)")
	p("sw1done:")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// rmsNorm writes rmsNorm16(dst, x, w *float32, n int, nf, eps float64):
// dst = w·(x·inv) over n >= 1 floats with inv = 1/sqrt(sum(x²)/nf + eps),
// as rmsNormRow (decoder.go): the squares summed in float64 (eight lanes in
// each of Z10 and Z11), inv in float64 and rounded once to float32, then
// two float32 products per element in rmsNormRow's order.
func rmsNorm() {
	p("// func rmsNorm16(dst, x, w *float32, n int, nf, eps float64)")
	p("TEXT ·rmsNorm16(SB), NOSPLIT, $0-48")
	p("\tMOVQ n+24(FP), BX")
	tailMask()
	p("\tMOVQ x+8(FP), SI")
	p("\tMOVQ BX, DX")
	p("\tVPXORQ Z10, Z10, Z10")
	p("\tVPXORQ Z11, Z11, Z11")
	sq := func() {
		p("\tVCVTPS2PD Y0, Z2")
		p("\tVEXTRACTF64X4 $1, Z0, Y1")
		p("\tVCVTPS2PD Y1, Z3")
		p("\tVFMADD231PD Z2, Z2, Z10")
		p("\tVFMADD231PD Z3, Z3, Z11")
	}
	p("rn1:")
	p("\tCMPQ DX, $16")
	p("\tJLT rn1tail")
	p("\tVMOVUPS (SI), Z0")
	sq()
	p("\tADDQ $64, SI")
	p("\tSUBQ $16, DX")
	p("\tJMP rn1")
	p("rn1tail:")
	p("\tTESTQ DX, DX")
	p("\tJZ rn1done")
	p("\tVMOVUPS.Z (SI), K1, Z0") // masked-off lanes add 0
	sq()
	p("rn1done:")
	p("\tVADDPD Z11, Z10, Z10")
	p("\tVEXTRACTF64X4 $1, Z10, Y1")
	p("\tVADDPD Y1, Y10, Y10")
	p("\tVEXTRACTF128 $1, Y10, X1")
	p("\tVADDPD X1, X10, X10")
	p("\tVPERMILPD $1, X10, X1")
	p("\tVADDSD X1, X10, X10")
	// inv = float32(1 / sqrt(ss/nf + eps)), everywhere
	p("\tVDIVSD nf+32(FP), X10, X10")
	p("\tVADDSD eps+40(FP), X10, X10")
	p("\tVSQRTSD X10, X10, X10")
	p("\tMOVQ $0x%016x, AX", math.Float64bits(1))
	p("\tVMOVQ AX, X13")
	p("\tVDIVSD X10, X13, X13")
	p("\tVCVTSD2SS X13, X13, X13")
	p("\tVBROADCASTSS X13, Z13")
	// pass 2
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ x+8(FP), SI")
	p("\tMOVQ w+16(FP), R9")
	p("\tMOVQ BX, DX")
	p("rn2:")
	p("\tCMPQ DX, $16")
	p("\tJLT rn2tail")
	p("\tVMULPS (SI), Z13, Z0")
	p("\tVMULPS (R9), Z0, Z0")
	p("\tVMOVUPS Z0, (DI)")
	p("\tADDQ $64, DI")
	p("\tADDQ $64, SI")
	p("\tADDQ $64, R9")
	p("\tSUBQ $16, DX")
	p("\tJMP rn2")
	p("rn2tail:")
	p("\tTESTQ DX, DX")
	p("\tJZ rn2done")
	p("\tVMOVUPS.Z (SI), K1, Z0")
	p("\tVMOVUPS.Z (R9), K1, Z1")
	p("\tVMULPS Z13, Z0, Z0")
	p("\tVMULPS Z1, Z0, Z0")
	p("\tVMOVUPS Z0, K1, (DI)")
	p("rn2done:")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// rope writes rope16(x, cos, sin *float32, heads, half int): the rotary
// embedding of one token's heads heads of 2·half floats each (half >= 1),
// x1·cos - x2·sin and x2·cos + x1·sin as the RoPE loop (rope.go), with
// separate multiplies and adds (no FMA) so that it rounds as the Go loop
// and the reference do, to the bit; the last half%16 floats under K1.
func rope() {
	p("// func rope16(x, cos, sin *float32, heads, half int)")
	p("TEXT ·rope16(SB), NOSPLIT, $0-40")
	p("\tMOVQ x+0(FP), DI")
	p("\tMOVQ cos+8(FP), SI")
	p("\tMOVQ sin+16(FP), R8")
	p("\tMOVQ heads+24(FP), R10")
	p("\tMOVQ half+32(FP), BX")
	tailMask()
	p("\tMOVQ BX, R11")
	p("\tSHLQ $2, R11") // x2's offset in bytes
	body := func() {
		// Z0 = x1, Z1 = x2, Z2 = cos, Z3 = sin
		p("\tVMULPS Z2, Z0, Z4")
		p("\tVMULPS Z3, Z1, Z5")
		p("\tVSUBPS Z5, Z4, Z4") // x1·cos - x2·sin
		p("\tVMULPS Z2, Z1, Z6")
		p("\tVMULPS Z3, Z0, Z7")
		p("\tVADDPS Z7, Z6, Z6") // x2·cos + x1·sin
	}
	p("rp1:")
	p("\tLEAQ (DI)(R11*1), R13")
	p("\tXORQ AX, AX")
	p("\tMOVQ BX, DX")
	p("rp2:")
	p("\tCMPQ DX, $16")
	p("\tJLT rp2tail")
	p("\tVMOVUPS (DI)(AX*1), Z0")
	p("\tVMOVUPS (R13)(AX*1), Z1")
	p("\tVMOVUPS (SI)(AX*1), Z2")
	p("\tVMOVUPS (R8)(AX*1), Z3")
	body()
	p("\tVMOVUPS Z4, (DI)(AX*1)")
	p("\tVMOVUPS Z6, (R13)(AX*1)")
	p("\tADDQ $64, AX")
	p("\tSUBQ $16, DX")
	p("\tJMP rp2")
	p("rp2tail:")
	p("\tTESTQ DX, DX")
	p("\tJZ rp2done")
	p("\tVMOVUPS.Z (DI)(AX*1), K1, Z0")
	p("\tVMOVUPS.Z (R13)(AX*1), K1, Z1")
	p("\tVMOVUPS.Z (SI)(AX*1), K1, Z2")
	p("\tVMOVUPS.Z (R8)(AX*1), K1, Z3")
	body()
	p("\tVMOVUPS Z4, K1, (DI)(AX*1)")
	p("\tVMOVUPS Z6, K1, (R13)(AX*1)")
	p("rp2done:")
	p("\tLEAQ (DI)(R11*2), DI") // the next head
	p("\tDECQ R10")
	p("\tJNZ rp1")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

func main() {
	p("// Code generated by kern_gen.go; DO NOT EDIT.")
	p("")
	p("//go:build amd64 && !purego")
	p("")
	p("#include \"textflag.h\"")
	p("")
	for _, scaled := range []bool{false, true} {
		kernel(1, scaled)
		kernel(2, scaled)
		kernel(4, scaled)
	}
	softmax()
	softexp()
	gelu()
	geglu()
	add()
	layerNorm()
	swiglu()
	rmsNorm()
	rope()
	transpose()
	if err := os.WriteFile("kern_amd64.s", out.Bytes(), 0o644); err != nil {
		panic(err)
	}
}
