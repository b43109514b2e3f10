package gemm

//go:generate go run gen_lowp.go

import (
	"fmt"
	"math"
	"unsafe"
)

// bf16: C = A·Wᵀ + bias with W stored as bfloat16 (the high half of a
// float32: 8 bits of precision), A rounded to bf16 as it is converted for
// the kernel, and every product accumulated in float32. The product of two
// bf16 values is exact in float32, so the only errors beyond an fp32 GEMM's
// are the two roundings to bf16 (at most 2^-8 relative each).
//
// Rounding is round-to-nearest-even, with zero for float32 denormals and
// quiet NaNs, exactly as VCVTNE2PS2BF16 rounds; roundBF16 is the scalar
// definition every path follows. The AVX512_BF16 kernel multiplies with
// VDPBF16PS (two k per fp32 lane per instruction, twice the fp32 FMA's
// work); the portable kernel does the same arithmetic in Go, in the order
// the ISA defines, and gives the same bits (TestBF16KernelsAgree).

// bf16Set is an implementation of the bf16 product.
type bf16Set struct {
	name   string
	byRows []bf16Kernel                    // byRows[r-1] computes r rows
	cvt    func(dst []uint32, x []float32) // A's row x to bf16 pairs
	// amx: the product runs on AMX tiles (amx_amd64.s) in blocks of
	// amxMR rows, with the steps of a panel padded to a multiple of amxKG
	// (zero pairs); byRows is unused.
	amx bool
}

// PackedBF16 is a weight W of Out x In (torch's Linear layout) rounded to
// bf16 and packed for MatMulBF16: panel j holds output columns
// 32j..32j+31 as (In+1)/2 steps of 32 pairs (k even in the low half, k odd
// in the high half, as VDPBF16PS pairs them), zero past Out and In. It is
// read-only after packing and safe to share between goroutines.
type PackedBF16 struct {
	Out, In int
	steps   int // pairs per column: (In+1)/2
	data    []uint32
	kern    *bf16Set
}

// Kernel names the implementation b runs on ("amx-bf16", "avx512bf16" or
// "go").
func (b *PackedBF16) Kernel() string { return b.kern.name }

// roundBF16 rounds x to bfloat16 as VCVTNE2PS2BF16 does: to nearest, ties
// to even; float32 denormals become zero of the same sign; NaNs stay NaN
// (quieted); infinities stay.
func roundBF16(x float32) uint16 {
	u := math.Float32bits(x)
	switch {
	case u&0x7f800000 == 0: // zero or denormal
		return uint16(u>>16) & 0x8000
	case u&0x7fffffff > 0x7f800000: // NaN
		return uint16(u>>16) | 0x40
	case u&0x7fffffff == 0x7f800000: // infinity
		return uint16(u >> 16)
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// ToBF16 rounds each value of src to bfloat16 in dst (as the bf16 kernels
// round their inputs: to nearest, ties to even).
func ToBF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = roundBF16(x)
	}
}

// RoundBF16 rounds x to bfloat16 as the bf16 kernels round their inputs
// (VCVTNE2PS2BF16: to nearest, ties to even, denormals to zero of the same
// sign, NaN kept NaN).
func RoundBF16(x float32) uint16 { return roundBF16(x) }

// ToBF16Pairs rounds src to bfloat16 pairs in dst, the layout VDPBF16PS
// reads ((len(src)+1)/2 of them, the even value in the low half, an odd
// tail's high half zero), in Go: the plain form of the kernels' conversion.
func ToBF16Pairs(dst []uint32, src []float32) { cvtRowGo(dst, src) }

// FromBF16 widens a bf16 value to the float32 it stands for (exactly).
func FromBF16(h uint16) float32 { return bf16ToF32(h) }

// bf16ToF32 widens a bf16 value to the float32 it stands for.
func bf16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// cvtRowGo rounds the floats of x to bf16 pairs in dst ((len(x)+1)/2 of
// them; an odd tail's high half is zero).
func cvtRowGo(dst []uint32, x []float32) {
	dst = dst[:(len(x)+1)/2]
	for i := range dst {
		lo := uint32(roundBF16(x[2*i]))
		var hi uint32
		if 2*i+1 < len(x) {
			hi = uint32(roundBF16(x[2*i+1]))
		}
		dst[i] = lo | hi<<16
	}
}

// PackWeightBF16 rounds w, a torch.nn.Linear weight stored [out, in]
// row-major in float32, to bf16 and packs it for MatMulBF16 on this
// machine's fastest bf16 kernel. It panics if len(w) is not out*in:
// weights are checked when they are loaded, before they get here.
func PackWeightBF16(w []float32, out, in int) *PackedBF16 {
	if out <= 0 || in <= 0 || len(w) != out*in {
		panic(fmt.Sprintf("gemm: PackWeightBF16: %d floats for a weight of [%d %d]", len(w), out, in))
	}
	return packBF16(defaultBF16, out, in, func(o, k int) uint16 { return roundBF16(w[o*in+k]) })
}

// PackWeightBF16Bits packs a weight already stored as bf16 (a bf16
// checkpoint's raw values, [out, in] row-major) as it is, without a second
// rounding. It panics if len(w) is not out*in.
func PackWeightBF16Bits(w []uint16, out, in int) *PackedBF16 {
	if out <= 0 || in <= 0 || len(w) != out*in {
		panic(fmt.Sprintf("gemm: PackWeightBF16Bits: %d values for a weight of [%d %d]", len(w), out, in))
	}
	return packBF16(defaultBF16, out, in, func(o, k int) uint16 { return w[o*in+k] })
}

func packBF16(ks *bf16Set, out, in int, at func(o, k int) uint16) *PackedBF16 {
	steps := (in + 1) / 2
	if ks.amx {
		steps = (steps + amxKG - 1) / amxKG * amxKG
	}
	panels := (out + lowNR - 1) / lowNR
	data := make([]uint32, panels*steps*lowNR)
	for o := 0; o < out; o++ {
		j, c := o/lowNR, o%lowNR
		dst := data[j*steps*lowNR:]
		for k := 0; k < in; k++ {
			dst[(k/2)*lowNR+c] |= uint32(at(o, k)) << (16 * (k % 2))
		}
	}
	return &PackedBF16{Out: out, In: in, steps: steps, data: data, kern: ks}
}

// MatMulBF16 computes C = A·Wᵀ + bias on the default pool with A rounded to
// bf16 and fp32 accumulation: A is m x w.In, C is m x w.Out, both row-major
// float32; bias (w.Out floats) may be nil. It panics if a slice is shorter
// than its shape says.
func MatMulBF16(c, a []float32, m int, w *PackedBF16, bias []float32) {
	Default().MatMulBF16(c, a, m, w, bias, nil)
}

// MatMulBF16 is MatMulBF16 on p's threads; epi, if not nil, is called on
// each finished block of C as in Pool.MatMul.
func (p *Pool) MatMulBF16(c, a []float32, m int, w *PackedBF16, bias []float32, epi Epilogue) {
	p.matMulLowp(lowpJob{c: c, src: a, m: m, bias: bias, epi: epi, bf: w, steps: w.steps, n: w.Out, k: w.In})
}

// ReferenceBF16 is the oracle of MatMulBF16: A (m x k) and W (n x k,
// torch's Linear layout) rounded to bf16 by roundBF16, their products
// summed in float64 with the bias, C rounded once to float32. A kernel
// differs from it only by the order of its float32 additions.
func ReferenceBF16(c, a []float32, m, k, n int, w []float32, bias []float32) {
	round := func(x []float32) []float32 {
		r := make([]float32, len(x))
		for i, v := range x {
			r[i] = bf16ToF32(roundBF16(v))
		}
		return r
	}
	Reference(c, round(a[:m*k]), m, k, n, round(w[:n*k]), bias)
}

// The portable bf16 kernel: the arithmetic of VDPBF16PS in Go, the odd
// product of a pair added first, each addition rounded to float32.
var goBF16 = &bf16Set{name: "go", byRows: goBF16Kernels(), cvt: cvtRowGo}

func goBF16Kernels() []bf16Kernel {
	ks := make([]bf16Kernel, lowMR)
	for r := range ks {
		rows := r + 1
		ks[r] = func(k int, a *uint32, lda int, b *uint32, c *float32, ldc int, bias *float32, init int, mask int) {
			goBF16Tile(rows, k, a, lda, b, c, ldc, bias, init, mask)
		}
	}
	return ks
}

func goBF16Tile(rows, k int, a *uint32, lda int, b *uint32, c *float32, ldc int, bias *float32, init int, mask int) {
	cols := liveCols(mask)
	bs := unsafe.Slice(b, k*lowNR)
	var wlo, whi [lowNR]float32
	var acc [lowNR]float32
	for i := 0; i < rows; i++ {
		ar := unsafe.Slice((*uint32)(unsafe.Add(unsafe.Pointer(a), 4*i*lda)), k)
		cr := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(c), 4*i*ldc)), cols)
		switch init {
		case initBias:
			copy(acc[:cols], unsafe.Slice(bias, cols))
		default:
			clear(acc[:])
		}
		for p, av := range ar {
			alo, ahi := bf16ToF32(uint16(av)), bf16ToF32(uint16(av>>16))
			bp := bs[p*lowNR : p*lowNR+cols]
			for j, bv := range bp {
				wlo[j], whi[j] = bf16ToF32(uint16(bv)), bf16ToF32(uint16(bv>>16))
			}
			for j := range bp {
				// each product is exact in float32: only the sums round
				acc[j] += ahi * whi[j]
				acc[j] += alo * wlo[j]
			}
		}
		if init == initC {
			for j := range cr {
				cr[j] += acc[j]
			}
		} else {
			copy(cr, acc[:cols])
		}
	}
}
