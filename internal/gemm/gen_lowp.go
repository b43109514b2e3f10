//go:build ignore

// gen_lowp writes the reduced-precision (bf16 and int8) Go assembly of
// package gemm: lowp_amd64.s and its declarations lowp_amd64.go. Run it with
// `go generate` in internal/gemm (bf16.go names it); the output is
// committed, so the build never runs it.
//
// The micro-kernels have the shape of gen.go's AVX-512 ones (14 rows x 32
// columns of C in 28 zmm accumulators, one kernel per number of live rows,
// masked right edge) but each k step consumes a 32-bit group of A, broadcast
// to all lanes, against 32 columns x 32 bits of packed weight:
//
//   - bf16: VDPBF16PS multiplies two bf16 pairs per lane and adds both
//     products to an fp32 lane, two k per instruction where VFMADD231PS does
//     one. Go's assembler does not know the AVX512_BF16 instructions, so
//     they are written as BYTE directives; evex() builds them and each is
//     preceded by a comment naming the instruction. The encodings were
//     checked against llvm-mc.
//   - int8: VPDPBUSD multiplies four unsigned bytes of A with four signed
//     bytes of the weight and adds the sum to an int32 lane: four k per
//     instruction. The int32 sums are dequantised to fp32 in the kernel
//     when the last k block is done.
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

const (
	mr     = 14 // rows of C per micro-tile: 14 x 2 zmm = 28 accumulators
	nvec   = 2  // zmm vectors of C per row: 32 columns
	unroll = 4  // k steps per loop iteration

	prefetchB = 1024 // bytes of the weight panel prefetched ahead
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

// evex returns a 512-bit, register-only EVEX instruction of map 0F38, W0,
// no masking: op dst, src1 (EVEX.vvvv), src2 (ModRM.rm), in Intel's
// operand order. pp selects the implied prefix (2 = F3, 3 = F2).
func evex(pp, op byte, dst, src1, src2 int) string {
	inv := func(b int) byte { return byte(^b & 1) }
	b := []byte{
		0x62,
		inv(dst>>3)<<7 | inv(src2>>4)<<6 | inv(src2>>3)<<5 | inv(dst>>4)<<4 | 0x02, // R X B R' 0 mmm=010 (0F38)
		byte((^src1)&0xF)<<3 | 1<<2 | pp,                                           // W=0 vvvv 1 pp
		2<<5 | inv(src1>>4)<<3,                                                     // z=0 L'L=10 (512) b=0 V' aaa=000
		op,
		0xC0 | byte(dst&7)<<3 | byte(src2&7), // ModRM: register form
	}
	var s []string
	for _, x := range b {
		s = append(s, fmt.Sprintf("BYTE $0x%02x", x))
	}
	return strings.Join(s, "; ")
}

// vdpbf16ps emits VDPBF16PS zmm(src2), zmm(src1), zmm(dst) in Go operand
// order: dst.fp32[j] += src1.bf16[2j+1]*src2.bf16[2j+1] + src1.bf16[2j]*src2.bf16[2j].
func vdpbf16ps(src2, src1, dst int) {
	p("\t// VDPBF16PS Z%d, Z%d, Z%d", src2, src1, dst)
	p("\t%s", evex(2, 0x52, dst, src1, src2))
}

// vcvtne2ps2bf16 emits VCVTNE2PS2BF16 zmm(src2), zmm(src1), zmm(dst) in Go
// operand order: the low 16 words of dst are src2 rounded to bf16, the high
// 16 words src1.
func vcvtne2ps2bf16(src2, src1, dst int) {
	p("\t// VCVTNE2PS2BF16 Z%d, Z%d, Z%d", src2, src1, dst)
	p("\t%s", evex(3, 0x72, dst, src1, src2))
}

// Rows are lda bytes apart; groups of five rows share a base register and
// reach their rows with the scaled-index forms 1, 2, 3 (R12 = 3*lda) and 4
// times lda (as in gen.go).
var bases = []string{"AX", "R13", "R10", "R9"}

func aAddr(i, off int) string {
	b := bases[i/5]
	d := ""
	if off != 0 {
		d = fmt.Sprint(off)
	}
	switch i % 5 {
	case 0:
		return fmt.Sprintf("%s(%s)", d, b)
	case 1:
		return fmt.Sprintf("%s(%s)(R11*1)", d, b)
	case 2:
		return fmt.Sprintf("%s(%s)(R11*2)", d, b)
	case 3:
		return fmt.Sprintf("%s(%s)(R12*1)", d, b)
	default:
		return fmt.Sprintf("%s(%s)(R11*4)", d, b)
	}
}

func acc(i, v int) int     { return i*nvec + v }
func zacc(i, v int) string { return fmt.Sprintf("Z%d", acc(i, v)) }

const (
	bReg0 = 28 // weight vectors: Z28, Z29
	bc0   = 30 // broadcast A: Z30, Z31 alternate between rows
)

func mask(v int) string { return fmt.Sprintf("K%d", v+1) }

// prologue loads the common arguments: k steps in CX, A in AX (and the
// other bases), the weight panel in BX, C in DI, ldc in bytes in DX, and
// the column masks in K1, K2; it prefetches the C tile.
func prologue(rows int, maskOff int) {
	p("\tMOVQ k+0(FP), CX")
	p("\tMOVQ a+8(FP), AX")
	p("\tMOVQ lda+16(FP), R11")
	p("\tSHLQ $2, R11")
	p("\tLEAQ (R11)(R11*2), R12")
	for g := 1; g < len(bases) && g*5 < rows; g++ {
		p("\tLEAQ (%s)(R11*4), %s", bases[g-1], bases[g])
		p("\tADDQ R11, %s", bases[g])
	}
	p("\tMOVQ b+24(FP), BX")
	p("\tMOVQ c+32(FP), DI")
	p("\tMOVQ ldc+40(FP), DX")
	p("\tSHLQ $2, DX")
	p("\tMOVQ mask+%d(FP), R8", maskOff)
	p("\tKMOVW R8, K1")
	p("\tSHRQ $16, R8")
	p("\tKMOVW R8, K2")
	// The C tile is read (a later k block) or written at the end: start
	// it on its way to L1 while the k loop runs.
	p("\tMOVQ DI, R8")
	for i := 0; i < rows; i++ {
		p("\tPREFETCHT1 0(R8)")
		p("\tPREFETCHT1 64(R8)")
		p("\tPREFETCHT1 124(R8)")
		if i+1 < rows {
			p("\tADDQ DX, R8")
		}
	}
}

// loop emits the k loop: per k step, two weight vectors (128 bytes) and one
// 32-bit group of each row of A, broadcast; madd emits the multiply-add.
func loop(rows int, madd func(b, a, acc int)) {
	step := func(u int) {
		for v := 0; v < nvec; v++ {
			p("\tVMOVDQU32 %d(BX), Z%d", (u*nvec+v)*64, bReg0+v)
		}
		p("\tPREFETCHT0 %d(BX)", prefetchB+u*128)
		p("\tPREFETCHT0 %d(BX)", prefetchB+u*128+64)
		for i := 0; i < rows; i++ {
			p("\tVPBROADCASTD %s, Z%d", aAddr(i, 4*u), bc0+i%2)
			for v := 0; v < nvec; v++ {
				madd(bReg0+v, bc0+i%2, acc(i, v))
			}
		}
	}
	advance := func(n int) {
		for g := 0; g < len(bases) && g*5 < rows; g++ {
			p("\tADDQ $%d, %s", 4*n, bases[g])
		}
		p("\tADDQ $%d, BX", n*128)
	}
	p("start:")
	p("\tCMPQ CX, $%d", unroll)
	p("\tJLT tail")
	p("loop:")
	for u := 0; u < unroll; u++ {
		step(u)
	}
	advance(unroll)
	p("\tSUBQ $%d, CX", unroll)
	p("\tCMPQ CX, $%d", unroll)
	p("\tJGE loop")
	p("tail:")
	p("\tTESTQ CX, CX")
	p("\tJEQ store")
	p("tailloop:")
	step(0)
	advance(1)
	p("\tDECQ CX")
	p("\tJNZ tailloop")
	p("store:")
}

// bf16Kernel: func(k int, a *uint32, lda int, b *uint32, c *float32, ldc int, bias *float32, init int, mask int)
// k counts bf16 pairs; lda is in pairs. init as in the fp32 kernels: 0 from
// zero, 1 from bias, 2 adds C at the end.
func bf16Kernel(name string, rows int) {
	p("")
	p("// func %s(k int, a *uint32, lda int, b *uint32, c *float32, ldc int, bias *float32, init int, mask int)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-72", name)
	prologue(rows, 64)
	p("\tMOVQ bias+48(FP), SI")
	p("\tMOVQ init+56(FP), R8")
	p("\tCMPQ R8, $1")
	p("\tJEQ bias")
	for i := 0; i < rows; i++ {
		for v := 0; v < nvec; v++ {
			p("\tVPXORD %s, %s, %s", zacc(i, v), zacc(i, v), zacc(i, v))
		}
	}
	p("\tJMP start")
	p("bias:")
	for v := 0; v < nvec; v++ {
		p("\tVMOVUPS.Z %d(SI), %s, %s", v*64, mask(v), zacc(0, v))
	}
	for i := 1; i < rows; i++ {
		for v := 0; v < nvec; v++ {
			p("\tVMOVAPS %s, %s", zacc(0, v), zacc(i, v))
		}
	}
	loop(rows, func(b, a, acc int) { vdpbf16ps(b, a, acc) })
	p("\tMOVQ init+56(FP), R8")
	p("\tCMPQ R8, $2")
	p("\tJNE write")
	p("\tMOVQ DI, R8")
	for i := 0; i < rows; i++ {
		for v := 0; v < nvec; v++ {
			p("\tVADDPS %d(R8), %s, %s, %s", v*64, zacc(i, v), mask(v), zacc(i, v))
		}
		if i+1 < rows {
			p("\tADDQ DX, R8")
		}
	}
	p("write:")
	for i := 0; i < rows; i++ {
		for v := 0; v < nvec; v++ {
			p("\tVMOVUPS %s, %s, %d(DI)", zacc(i, v), mask(v), v*64)
		}
		if i+1 < rows {
			p("\tADDQ DX, DI")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
}

// int8Kernel: func(k int, a *uint32, lda int, b *uint32, c *float32, ldc int,
// colsum *int32, sw *float32, bias *float32, rs *float32, rz *int32, flags int, mask int)
//
// k counts groups of four bytes; lda is in groups. flags bit 0 (first k
// block): the sums start at rz[i]*colsum[j] (rz is minus the row's zero
// point), else at the int32 partial sums C holds. Bit 1 (last k block): C =
// float32(sum)*(rs[i]*sw[j]) + bias[j], else the int32 sums are stored in C
// as they are, for the next block.
func int8Kernel(name string, rows int) {
	p("")
	p("// func %s(k int, a *uint32, lda int, b *uint32, c *float32, ldc int, colsum *int32, sw *float32, bias *float32, rs *float32, rz *int32, flags int, mask int)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-104", name)
	prologue(rows, 96)
	p("\tMOVQ flags+88(FP), R8")
	p("\tTESTQ $1, R8")
	p("\tJNE first")
	for i := 0; i < rows; i++ {
		for v := 0; v < nvec; v++ {
			p("\tVPXORD %s, %s, %s", zacc(i, v), zacc(i, v), zacc(i, v))
		}
	}
	p("\tJMP start")
	p("first:")
	p("\tMOVQ colsum+48(FP), SI")
	p("\tMOVQ rz+80(FP), R8")
	for v := 0; v < nvec; v++ {
		p("\tVMOVDQU32 %d(SI), Z%d", v*64, bReg0+v)
	}
	for i := 0; i < rows; i++ {
		p("\tVPBROADCASTD %d(R8), Z%d", 4*i, bc0)
		for v := 0; v < nvec; v++ {
			p("\tVPMULLD Z%d, Z%d, %s", bReg0+v, bc0, zacc(i, v))
		}
	}
	loop(rows, func(b, a, acc int) { p("\tVPDPBUSD Z%d, Z%d, Z%d", b, a, acc) })
	p("\tMOVQ flags+88(FP), R8")
	p("\tTESTQ $1, R8")
	p("\tJNE sums")
	p("\tMOVQ DI, R8")
	for i := 0; i < rows; i++ {
		for v := 0; v < nvec; v++ {
			p("\tVPADDD %d(R8), %s, %s, %s", v*64, zacc(i, v), mask(v), zacc(i, v))
		}
		if i+1 < rows {
			p("\tADDQ DX, R8")
		}
	}
	p("sums:")
	p("\tMOVQ flags+88(FP), R8")
	p("\tTESTQ $2, R8")
	p("\tJNE dequant")
	for i := 0; i < rows; i++ {
		for v := 0; v < nvec; v++ {
			p("\tVMOVDQU32 %s, %s, %d(DI)", zacc(i, v), mask(v), v*64)
		}
		if i+1 < rows {
			p("\tADDQ DX, DI")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
	p("dequant:")
	p("\tMOVQ sw+56(FP), SI")
	p("\tMOVQ rs+72(FP), R8")
	p("\tMOVQ bias+64(FP), BX")
	for v := 0; v < nvec; v++ {
		p("\tVMOVUPS %d(SI), Z%d", v*64, bReg0+v)
	}
	for i := 0; i < rows; i++ {
		for v := 0; v < nvec; v++ {
			// scale = sw[j]*rs[i], rounded to fp32 as the Go code does;
			// then the product and the bias are two roundings, not an FMA.
			p("\tVMULPS.BCST %d(R8), Z%d, Z%d", 4*i, bReg0+v, bc0)
			p("\tVCVTDQ2PS %s, %s", zacc(i, v), zacc(i, v))
			p("\tVMULPS Z%d, %s, %s", bc0, zacc(i, v), zacc(i, v))
			p("\tVADDPS %d(BX), %s, %s, %s", v*64, zacc(i, v), mask(v), zacc(i, v))
			p("\tVMOVUPS %s, %s, %d(DI)", zacc(i, v), mask(v), v*64)
		}
		if i+1 < rows {
			p("\tADDQ DX, DI")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
}

// cvtBF16 rounds n floats to bf16 (round to nearest even, as
// VCVTNE2PS2BF16 does) and stores them as n/2 pairs, rounded up; an odd
// tail's high half is zero.
func cvtBF16() {
	p("")
	p("// func cvtBF16(dst *uint32, src *float32, n int)")
	p("TEXT ·cvtBF16(SB), NOSPLIT, $0-24")
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ src+8(FP), SI")
	p("\tMOVQ n+16(FP), CX")
	p("cvtloop:")
	p("\tCMPQ CX, $32")
	p("\tJLT cvttail")
	p("\tVMOVUPS 0(SI), Z0")
	p("\tVMOVUPS 64(SI), Z1")
	vcvtne2ps2bf16(0, 1, 2)
	p("\tVMOVDQU32 Z2, 0(DI)")
	p("\tADDQ $128, SI")
	p("\tADDQ $64, DI")
	p("\tSUBQ $32, CX")
	p("\tJMP cvtloop")
	p("cvttail:")
	p("\tTESTQ CX, CX")
	p("\tJEQ cvtdone")
	// K3 = the n floats left (n < 32); K1, K2 its halves; the store
	// writes whole pairs, (n+1)/2 of them.
	p("\tMOVQ $1, R8")
	p("\tSHLQ CX, R8")
	p("\tDECQ R8")
	p("\tKMOVW R8, K1")
	p("\tSHRQ $16, R8")
	p("\tKMOVW R8, K2")
	p("\tINCQ CX")
	p("\tSHRQ $1, CX")
	p("\tMOVQ $1, R8")
	p("\tSHLQ CX, R8")
	p("\tDECQ R8")
	p("\tKMOVW R8, K3")
	p("\tVMOVUPS.Z 0(SI), K1, Z0")
	p("\tVMOVUPS.Z 64(SI), K2, Z1")
	vcvtne2ps2bf16(0, 1, 2)
	p("\tVMOVDQU32 Z2, K3, 0(DI)")
	p("cvtdone:")
	p("\tVZEROUPPER")
	p("\tRET")
}

// quantU8 stores n bytes max(round(x*inv) + zp, 0), saturated at 255, with
// round to nearest even (the default MXCSR rounding that VCVTPS2DQ uses).
func quantU8() {
	p("")
	p("// func quantU8(dst *uint8, src *float32, n int, inv float32, zp int32)")
	p("TEXT ·quantU8(SB), NOSPLIT, $0-32")
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ src+8(FP), SI")
	p("\tMOVQ n+16(FP), CX")
	p("\tVBROADCASTSS inv+24(FP), Z4")
	p("\tMOVL zp+28(FP), R8")
	p("\tVPBROADCASTD R8, Z5")
	p("\tVPXORD Z6, Z6, Z6")
	p("qloop:")
	p("\tCMPQ CX, $16")
	p("\tJLT qtail")
	p("\tVMULPS 0(SI), Z4, Z0")
	p("\tVCVTPS2DQ Z0, Z0")
	p("\tVPADDD Z5, Z0, Z0")
	p("\tVPMAXSD Z6, Z0, Z0")
	p("\tVPMOVUSDB Z0, 0(DI)")
	p("\tADDQ $64, SI")
	p("\tADDQ $16, DI")
	p("\tSUBQ $16, CX")
	p("\tJMP qloop")
	p("qtail:")
	p("\tTESTQ CX, CX")
	p("\tJEQ qdone")
	p("\tMOVQ $1, R8")
	p("\tSHLQ CX, R8")
	p("\tDECQ R8")
	p("\tKMOVW R8, K1")
	p("\tVMOVUPS.Z 0(SI), K1, Z0")
	p("\tVMULPS Z0, Z4, Z0")
	p("\tVCVTPS2DQ Z0, Z0")
	p("\tVPADDD Z5, Z0, Z0")
	p("\tVPMAXSD Z6, Z0, Z0")
	p("\tVPMOVUSDB Z0, K1, 0(DI)")
	p("qdone:")
	p("\tVZEROUPPER")
	p("\tRET")
}

// minMax16 stores in out[0:16] and out[16:32] the lane-wise minimum and
// maximum of n >= 1 floats (lanes past n repeat src[0]); the caller
// reduces the 32 values.
func minMax16() {
	p("")
	p("// func minMax16(src *float32, n int, out *[32]float32)")
	p("TEXT ·minMax16(SB), NOSPLIT, $0-24")
	p("\tMOVQ src+0(FP), SI")
	p("\tMOVQ n+8(FP), CX")
	p("\tMOVQ out+16(FP), DI")
	p("\tVBROADCASTSS 0(SI), Z0")
	p("\tVMOVAPS Z0, Z1")
	p("mmloop:")
	p("\tCMPQ CX, $16")
	p("\tJLT mmtail")
	p("\tVMOVUPS 0(SI), Z2")
	p("\tVMINPS Z2, Z0, Z0")
	p("\tVMAXPS Z2, Z1, Z1")
	p("\tADDQ $64, SI")
	p("\tSUBQ $16, CX")
	p("\tJMP mmloop")
	p("mmtail:")
	p("\tTESTQ CX, CX")
	p("\tJEQ mmdone")
	p("\tMOVQ $1, R8")
	p("\tSHLQ CX, R8")
	p("\tDECQ R8")
	p("\tKMOVW R8, K1")
	p("\tVMOVUPS.Z 0(SI), K1, Z2")
	p("\tVMINPS Z2, Z0, K1, Z0")
	p("\tVMAXPS Z2, Z1, K1, Z1")
	p("mmdone:")
	p("\tVMOVUPS Z0, 0(DI)")
	p("\tVMOVUPS Z1, 64(DI)")
	p("\tVZEROUPPER")
	p("\tRET")
}

// peak writes 12 independent chains of the multiply-add: the instruction's
// throughput, the ceiling of its GEMM.
func peak(name string, madd func(b, a, acc int)) {
	p("")
	p("// func %s(n int)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-8", name)
	p("\tMOVQ n+0(FP), CX")
	for i := 0; i < 14; i++ {
		p("\tVPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	p("%sloop:", name)
	for r := 0; r < 2; r++ {
		for i := 0; i < 12; i++ {
			madd(12, 13, i)
		}
	}
	p("\tDECQ CX")
	p("\tJNZ %sloop", name)
	p("\tVZEROUPPER")
	p("\tRET")
}

func main() {
	p("// Code generated by gen_lowp.go; DO NOT EDIT.")
	p("")
	p("//go:build amd64 && !purego")
	p("")
	p("#include \"textflag.h\"")
	var decl strings.Builder
	fmt.Fprintf(&decl, "// Code generated by gen_lowp.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\npackage gemm\n\n")
	fmt.Fprintf(&decl, "const (\n\tmrLow = %d\n\tnrLow = %d\n)\n\n", mr, nvec*16)
	var bf, i8 []string
	for r := 1; r <= mr; r++ {
		name := fmt.Sprintf("bf16x512r%d", r)
		bf16Kernel(name, r)
		fmt.Fprintf(&decl, "//go:noescape\nfunc %s(k int, a *uint32, lda int, b *uint32, c *float32, ldc int, bias *float32, init int, mask int)\n\n", name)
		bf = append(bf, name)
	}
	for r := 1; r <= mr; r++ {
		name := fmt.Sprintf("int8x512r%d", r)
		int8Kernel(name, r)
		fmt.Fprintf(&decl, "//go:noescape\nfunc %s(k int, a *uint32, lda int, b *uint32, c *float32, ldc int, colsum *int32, sw *float32, bias *float32, rs *float32, rz *int32, flags int, mask int)\n\n", name)
		i8 = append(i8, name)
	}
	cvtBF16()
	quantU8()
	minMax16()
	peak("bf16Peak", func(b, a, acc int) { vdpbf16ps(b, a, acc) })
	peak("vnniPeak", func(b, a, acc int) { p("\tVPDPBUSD Z%d, Z%d, Z%d", b, a, acc) })
	fmt.Fprintf(&decl, "//go:noescape\nfunc cvtBF16(dst *uint32, src *float32, n int)\n\n")
	fmt.Fprintf(&decl, "//go:noescape\nfunc quantU8(dst *uint8, src *float32, n int, inv float32, zp int32)\n\n")
	fmt.Fprintf(&decl, "//go:noescape\nfunc minMax16(src *float32, n int, out *[32]float32)\n\n")
	fmt.Fprintf(&decl, "// bf16Peak runs n iterations of 24 VDPBF16PS in 12 independent chains.\nfunc bf16Peak(n int)\n\n")
	fmt.Fprintf(&decl, "// vnniPeak runs n iterations of 24 VPDPBUSD in 12 independent chains.\nfunc vnniPeak(n int)\n\n")
	fmt.Fprintf(&decl, "var bf16Kernels512 = []bf16Kernel{\n")
	for _, n := range bf {
		fmt.Fprintf(&decl, "\t%s,\n", n)
	}
	fmt.Fprintf(&decl, "}\n\nvar int8Kernels512 = []int8Kernel{\n")
	for _, n := range i8 {
		fmt.Fprintf(&decl, "\t%s,\n", n)
	}
	fmt.Fprintf(&decl, "}\n")
	if err := os.WriteFile("lowp_amd64.s", out.Bytes(), 0o644); err != nil {
		panic(err)
	}
	if err := os.WriteFile("lowp_amd64.go", []byte(decl.String()), 0o644); err != nil {
		panic(err)
	}
}
