//go:build ignore

// gen writes the Go assembly micro-kernels of package gemm (kernel_amd64.s)
// and their Go declarations (kernel_amd64.go). Run it with `go generate`
// in internal/gemm; the output is committed, so the build never runs it.
//
// Writing the kernels from a program rather than by hand keeps the dozens of
// row-count variants (one per number of live rows in a micro-tile) and the
// unrolled inner loops consistent with each other.
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Micro-kernel shape. Each kernel computes a rows x (nvec*lanes) tile of C
// with rows <= mr: the B panel (a packed weight) supplies vectors, the A rows
// supply broadcast scalars.
const (
	mr512   = 14 // AVX-512: 14 rows x 2 zmm = 28 accumulators of 32 registers
	nvec512 = 2  // 32 columns
	mr256   = 6  // AVX2: 6 rows x 2 ymm = 12 accumulators of 16 registers
	nvec256 = 2  // 16 columns
	unroll  = 4  // k steps per loop iteration

	prefetchB = 1024 // bytes ahead of the weight panel to prefetch, 0 for none
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

// aAddr returns the memory operand of A's row i at byte offset off along k.
// Rows are lda bytes apart; groups of five rows share a base register and
// reach their rows with the scaled-index forms 1, 2, 3 (a second register
// holds 3*lda) and 4 times lda, so the loop advances only a few pointers.
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

// kernel writes one micro-kernel for `rows` live rows.
//
// func name(k int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32, init int, mask int)
//
// init: 0 starts the accumulators at zero, 1 at the bias vector, 2 at zero
// and adds C at the end (a later k block adds to the earlier ones). mask (AVX-512 only) holds 16 bits
// per vector: which columns of the tile exist, so ragged right edges need no
// copy; the AVX2 kernels always write full tiles.
func kernel(name string, zmm bool, rows, nvec int) {
	reg := "Y"
	width := 32
	nregs := 16
	if zmm {
		reg, width, nregs = "Z", 64, 32
	}
	acc := func(i, v int) string { return fmt.Sprintf("%s%d", reg, i*nvec+v) }
	bReg := func(v int) string { return fmt.Sprintf("%s%d", reg, nregs-nvec-2+v) }
	// Two registers for the broadcast A values alternate, so consecutive
	// rows do not wait on each other.
	bc := func(i int) string { return fmt.Sprintf("%s%d", reg, nregs-2+i%2) }
	mask := func(v int) string { return fmt.Sprintf("K%d", v+1) }
	lanes := width / 4

	p("")
	p("// func %s(k int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32, init int, mask int)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-72", name)
	p("\tMOVQ k+0(FP), CX")
	p("\tMOVQ a+8(FP), AX")
	p("\tMOVQ lda+16(FP), R11")
	p("\tSHLQ $2, R11")
	p("\tLEAQ (R11)(R11*2), R12")
	for g := 1; g < len(bases) && g*5 < rows; g++ {
		// base g = a + 5*g*lda
		p("\tLEAQ (%s)(R11*4), %s", bases[g-1], bases[g])
		p("\tADDQ R11, %s", bases[g])
	}
	p("\tMOVQ b+24(FP), BX")
	p("\tMOVQ c+32(FP), DI")
	p("\tMOVQ ldc+40(FP), DX")
	p("\tSHLQ $2, DX")
	p("\tMOVQ bias+48(FP), SI")
	if zmm {
		p("\tMOVQ mask+64(FP), R8")
		for v := 0; v < nvec; v++ {
			p("\tKMOVW R8, %s", mask(v))
			if v+1 < nvec {
				p("\tSHRQ $16, R8")
			}
		}
	}
	load := func(src, dst string, v int) {
		if zmm {
			p("\tVMOVUPS.Z %s, %s, %s", src, mask(v), dst)
		} else {
			p("\tVMOVUPS %s, %s", src, dst)
		}
	}
	// Start the C tile on its way to L1 now: it is added at the end (init
	// 2), after the k loop has hidden the miss, and written in any case.
	p("\tMOVQ DI, R8")
	for i := 0; i < rows; i++ {
		for v := 0; v < nvec; v += 64 / width {
			p("\tPREFETCHT1 %d(R8)", v*width)
		}
		p("\tPREFETCHT1 %d(R8)", nvec*width-4)
		if i+1 < rows {
			p("\tADDQ DX, R8")
		}
	}
	p("\tMOVQ init+56(FP), R8")
	p("\tCMPQ R8, $1")
	p("\tJEQ bias")
	for i := 0; i < rows; i++ {
		for v := 0; v < nvec; v++ {
			if zmm {
				p("\tVPXORD %s, %s, %s", acc(i, v), acc(i, v), acc(i, v))
			} else {
				p("\tVXORPS %s, %s, %s", acc(i, v), acc(i, v), acc(i, v))
			}
		}
	}
	p("\tJMP start")
	p("bias:")
	for v := 0; v < nvec; v++ {
		load(fmt.Sprintf("%d(SI)", v*width), acc(0, v), v)
	}
	for i := 1; i < rows; i++ {
		for v := 0; v < nvec; v++ {
			p("\tVMOVAPS %s, %s", acc(0, v), acc(i, v))
		}
	}

	step := func(u int) {
		for v := 0; v < nvec; v++ {
			p("\tVMOVUPS %d(BX), %s", (u*nvec+v)*width, bReg(v))
		}
		if prefetchB > 0 {
			// One line of the weight panel per k step, prefetchB bytes
			// ahead: it streams from L2 or L3, and the hardware
			// prefetcher stops at page boundaries.
			p("\tPREFETCHT0 %d(BX)", prefetchB+u*nvec*width)
			if nvec*width > 64 {
				p("\tPREFETCHT0 %d(BX)", prefetchB+u*nvec*width+64)
			}
		}
		for i := 0; i < rows; i++ {
			p("\tVBROADCASTSS %s, %s", aAddr(i, 4*u), bc(i))
			for v := 0; v < nvec; v++ {
				p("\tVFMADD231PS %s, %s, %s", bReg(v), bc(i), acc(i, v))
			}
		}
	}
	advance := func(n int) {
		for g := 0; g < len(bases) && g*5 < rows; g++ {
			p("\tADDQ $%d, %s", 4*n, bases[g])
		}
		p("\tADDQ $%d, BX", n*nvec*width)
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
	p("\tMOVQ init+56(FP), R8")
	p("\tCMPQ R8, $2")
	p("\tJNE write")
	p("\tMOVQ DI, R8")
	for i := 0; i < rows; i++ {
		for v := 0; v < nvec; v++ {
			if zmm {
				p("\tVADDPS %d(R8), %s, %s, %s", v*width, acc(i, v), mask(v), acc(i, v))
			} else {
				p("\tVADDPS %d(R8), %s, %s", v*width, acc(i, v), acc(i, v))
			}
		}
		if i+1 < rows {
			p("\tADDQ DX, R8")
		}
	}
	p("write:")
	for i := 0; i < rows; i++ {
		for v := 0; v < nvec; v++ {
			if zmm {
				p("\tVMOVUPS %s, %s, %d(DI)", acc(i, v), mask(v), v*width)
			} else {
				p("\tVMOVUPS %s, %d(DI)", acc(i, v), v*width)
			}
		}
		if i+1 < rows {
			p("\tADDQ DX, DI")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
	_ = lanes
}

// peak writes a loop of 12 independent FMA chains: the machine's FP32 FMA
// throughput, against which the GEMM's speed is judged.
func peak(name string, zmm bool) {
	reg := "Y"
	if zmm {
		reg = "Z"
	}
	p("")
	p("// func %s(n int)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-8", name)
	p("\tMOVQ n+0(FP), CX")
	for i := 0; i < 14; i++ {
		p("\tVXORPS %s%d, %s%d, %s%d", "Y", i, "Y", i, "Y", i)
	}
	p("peakloop:")
	for r := 0; r < 2; r++ {
		for i := 0; i < 12; i++ {
			p("\tVFMADD231PS %s12, %s13, %s%d", reg, reg, reg, i)
		}
	}
	p("\tDECQ CX")
	p("\tJNZ peakloop")
	p("\tVZEROUPPER")
	p("\tRET")
}

func main() {
	p("// Code generated by gen.go; DO NOT EDIT.")
	p("")
	p("//go:build amd64 && !purego")
	p("")
	p("#include \"textflag.h\"")
	var decl strings.Builder
	fmt.Fprintf(&decl, "// Code generated by gen.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\npackage gemm\n\n")
	fmt.Fprintf(&decl, "const (\n\tmr512 = %d\n\tnr512 = %d\n\tmr256 = %d\n\tnr256 = %d\n)\n\n", mr512, nvec512*16, mr256, nvec256*8)
	sig := "(k int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32, init int, mask int)"
	tables := map[string][]string{}
	for _, kind := range []struct {
		prefix    string
		zmm       bool
		mr, nvec  int
		tableName string
	}{
		{"sgemm512r", true, mr512, nvec512, "kernels512"},
		{"sgemm256r", false, mr256, nvec256, "kernels256"},
	} {
		for r := 1; r <= kind.mr; r++ {
			name := fmt.Sprintf("%s%d", kind.prefix, r)
			kernel(name, kind.zmm, r, kind.nvec)
			fmt.Fprintf(&decl, "//go:noescape\nfunc %s%s\n\n", name, sig)
			tables[kind.tableName] = append(tables[kind.tableName], name)
		}
	}
	peak("fmaPeak512", true)
	peak("fmaPeak256", false)
	fmt.Fprintf(&decl, "// fmaPeak512 runs n iterations of 24 zmm FMAs in 12 independent chains.\nfunc fmaPeak512(n int)\n\n")
	fmt.Fprintf(&decl, "// fmaPeak256 runs n iterations of 24 ymm FMAs in 12 independent chains.\nfunc fmaPeak256(n int)\n\n")
	for _, t := range []string{"kernels512", "kernels256"} {
		fmt.Fprintf(&decl, "var %s = []microKernel{\n", t)
		for _, n := range tables[t] {
			fmt.Fprintf(&decl, "\t%s,\n", n)
		}
		fmt.Fprintf(&decl, "}\n\n")
	}
	if err := os.WriteFile("kernel_amd64.s", out.Bytes(), 0o644); err != nil {
		panic(err)
	}
	if err := os.WriteFile("kernel_amd64.go", []byte(strings.TrimRight(decl.String(), "\n")+"\n"), 0o644); err != nil {
		panic(err)
	}
}
