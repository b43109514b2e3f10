package gemm

import (
	"fmt"
	"math"
	"unsafe"
)

// int8: C = A·Wᵀ + bias with 8-bit integers and int32 sums.
//
//   - W, per output channel j (symmetric, signed): sw[j] = max|W[j,:]|/127,
//     q = round(W*127/max|W[j,:]|) in [-127, 127]. Done once, at pack time,
//     with each column's sum colsum[j] = Σ_k q[j,k].
//   - A, per row i (per token, at every call; asymmetric, unsigned):
//     lo = min(0, min A[i,:]), hi = max(0, max A[i,:]), sa[i] = (hi-lo)/255,
//     zp[i] = round(-lo*255/(hi-lo)), q = clamp(round(A*255/(hi-lo)) + zp,
//     0, 255). Zero is exact, and a row that is all >= 0 (after GELU, say)
//     uses all 256 levels where a symmetric code would use 128.
//   - VPDPBUSD multiplies unsigned bytes (A) with signed bytes (W) and adds
//     groups of four to an int32: Σ qa*qw. The zero point is removed with
//     the weight's column sums, Σ (qa - zp)*qw = Σ qa*qw - zp*colsum[j],
//     which the kernel folds into the sums' starting value.
//   - C[i,j] = float32(sum)*(sa[i]*sw[j]) + bias[j], a product then a sum,
//     each rounded to float32 (the kernel uses no FMA there, so that the
//     reference reproduces it bit for bit).
//
// Rounding is to nearest even everywhere (VCVTPS2DQ under the default
// MXCSR; cvtPS2DQ in Go). The int32 sums cannot overflow for the models'
// widths: |Σ - zp*colsum| <= k*255*127 < 2^31 for k <= maxInt8In.

// maxInt8In is the widest weight PackWeightInt8 takes: past it the int32
// sums could overflow.
const maxInt8In = (1<<31 - 1) / (255 * 127)

// int8Set is an implementation of the int8 product.
type int8Set struct {
	name   string
	byRows []int8Kernel
	// quant quantises row x into dst (its bytes, (len(x)+3)/4 groups)
	// and returns the row's scale and minus its zero point.
	quant func(dst []uint32, x []float32) (float32, int32)
	// amx: the product runs on AMX tiles (TDPBUSD) in blocks of amxMR
	// rows, the steps of a panel padded to a multiple of amxKG; byRows is
	// unused.
	amx bool
}

// PackedInt8 is a weight W of Out x In (torch's Linear layout) quantised
// per output channel and packed for MatMulInt8: panel j holds output
// columns 32j..32j+31 as (In+3)/4 steps of 32 groups of four signed bytes
// (k = 4s..4s+3), zero past Out and In. It is read-only after packing and
// safe to share between goroutines.
type PackedInt8 struct {
	Out, In int
	steps   int       // groups of four per column: (In+3)/4
	data    []uint32  // the packed bytes
	scale   []float32 // sw per output channel, padded to a whole panel
	colsum  []int32   // Σ_k q[j,k] per output channel, padded
	zero    []float32 // the bias the kernel adds when there is none
	kern    *int8Set
}

// Kernel names the implementation b runs on ("amx-int8", "avx512vnni" or
// "go").
func (b *PackedInt8) Kernel() string { return b.kern.name }

// weightQuant returns the scale of a weight row and the factor that maps
// it to [-127, 127]; an all-zero row gets 0 for both.
func weightQuant(row []float32) (scale, inv float32) {
	var mx float32
	for _, v := range row {
		mx = max(mx, float32(math.Abs(float64(v))))
	}
	if mx == 0 {
		return 0, 0
	}
	return mx / 127, 127 / mx
}

// quantWeight is one weight's code.
func quantWeight(x, inv float32) int8 {
	return int8(min(max(cvtPS2DQ(x*inv), -127), 127))
}

// actParams returns the scale, quantisation factor and zero point of a row
// of activations whose extremes are lo and hi; a row of zeros gets zeros.
func actParams(lo, hi float32) (scale, inv float32, zp int32) {
	lo, hi = min(lo, 0), max(hi, 0)
	if hi == lo {
		return 0, 0, 0
	}
	scale = (hi - lo) / 255
	inv = 255 / (hi - lo)
	zp = min(max(cvtPS2DQ(-lo*inv), 0), 255)
	return scale, inv, zp
}

// quantAct is one activation's code, as quantU8 computes it (int32
// arithmetic, then the clamp).
func quantAct(x, inv float32, zp int32) uint8 {
	return uint8(min(max(cvtPS2DQ(x*inv)+zp, 0), 255))
}

// dequant is C's value from an int32 sum (zero point removed).
func dequant(sum int32, sa, sw, bias float32) float32 {
	s := sa * sw
	v := float32(float32(sum) * s) // rounded here: no FMA with the bias
	return v + bias
}

// quantRowGo quantises a row of A with plain loops.
func quantRowGo(dst []uint32, x []float32) (float32, int32) {
	lo, hi := x[0], x[0]
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	sa, inv, zp := actParams(lo, hi)
	b := unsafe.Slice((*uint8)(unsafe.Pointer(&dst[0])), 4*len(dst))
	for i, v := range x {
		b[i] = quantAct(v, inv, zp)
	}
	return sa, -zp
}

// PackWeightInt8 quantises w, a torch.nn.Linear weight stored [out, in]
// row-major in float32, per output channel and packs it for MatMulInt8 on
// this machine's fastest int8 kernel. It panics if len(w) is not out*in
// (weights are checked when they are loaded, before they get here) or if
// in > 66,311, where the int32 sums could overflow.
func PackWeightInt8(w []float32, out, in int) *PackedInt8 {
	if out <= 0 || in <= 0 || in > maxInt8In || len(w) != out*in {
		panic(fmt.Sprintf("gemm: PackWeightInt8: %d floats for a weight of [%d %d]", len(w), out, in))
	}
	return packInt8(defaultInt8, w, out, in)
}

func packInt8(ks *int8Set, w []float32, out, in int) *PackedInt8 {
	steps := (in + 3) / 4
	if ks.amx {
		steps = (steps + amxKG - 1) / amxKG * amxKG
	}
	panels := (out + lowNR - 1) / lowNR
	b := &PackedInt8{
		Out: out, In: in, steps: steps, kern: ks,
		data:   make([]uint32, panels*steps*lowNR),
		scale:  make([]float32, panels*lowNR),
		colsum: make([]int32, panels*lowNR),
		zero:   make([]float32, panels*lowNR),
	}
	for o := 0; o < out; o++ {
		row := w[o*in : (o+1)*in]
		scale, inv := weightQuant(row)
		b.scale[o] = scale
		j, c := o/lowNR, o%lowNR
		dst := b.data[j*steps*lowNR:]
		for k, v := range row {
			q := quantWeight(v, inv)
			b.colsum[o] += int32(q)
			dst[(k/4)*lowNR+c] |= uint32(uint8(q)) << (8 * (k % 4))
		}
	}
	return b
}

// MatMulInt8 computes C = A·Wᵀ + bias on the default pool with A quantised
// per row to 8 bits, int32 sums and C dequantised to float32: A is
// m x w.In, C is m x w.Out, both row-major float32; bias (w.Out floats) may
// be nil. It panics if a slice is shorter than its shape says.
func MatMulInt8(c, a []float32, m int, w *PackedInt8, bias []float32) {
	Default().MatMulInt8(c, a, m, w, bias, nil)
}

// MatMulInt8 is MatMulInt8 on p's threads; epi, if not nil, is called on
// each finished block of C as in Pool.MatMul.
func (p *Pool) MatMulInt8(c, a []float32, m int, w *PackedInt8, bias []float32, epi Epilogue) {
	p.matMulLowp(lowpJob{c: c, src: a, m: m, bias: bias, epi: epi, i8: w, steps: w.steps, n: w.Out, k: w.In})
}

// ReferenceInt8 is the oracle of MatMulInt8, with plain loops over the
// unpacked matrices: the same quantisation of W (n x k, torch's Linear
// layout) per row and of A (m x k) per row, int32 sums, the same
// dequantisation. MatMulInt8 must match it bit for bit.
func ReferenceInt8(c, a []float32, m, k, n int, w []float32, bias []float32) {
	qw := make([]int32, n*k)
	sw := make([]float32, n)
	for j := 0; j < n; j++ {
		scale, inv := weightQuant(w[j*k : (j+1)*k])
		sw[j] = scale
		for p := 0; p < k; p++ {
			qw[j*k+p] = int32(quantWeight(w[j*k+p], inv))
		}
	}
	qa := make([]int32, k)
	for i := 0; i < m; i++ {
		row := a[i*k : (i+1)*k]
		lo, hi := row[0], row[0]
		for _, v := range row {
			lo, hi = min(lo, v), max(hi, v)
		}
		sa, inv, zp := actParams(lo, hi)
		for p, v := range row {
			qa[p] = int32(quantAct(v, inv, zp)) - zp
		}
		for j := 0; j < n; j++ {
			var s int32
			for p := 0; p < k; p++ {
				s += qa[p] * qw[j*k+p]
			}
			var b float32
			if bias != nil {
				b = bias[j]
			}
			c[i*n+j] = dequant(s, sa, sw[j], b)
		}
	}
}

// The portable int8 kernel: the kernel's integer arithmetic in Go, partial
// sums kept in C's memory as int32 bits between k blocks as the assembly
// does.
var goInt8 = &int8Set{name: "go", byRows: goInt8Kernels(), quant: quantRowGo}

func goInt8Kernels() []int8Kernel {
	ks := make([]int8Kernel, lowMR)
	for r := range ks {
		rows := r + 1
		ks[r] = func(k int, a *uint32, lda int, b *uint32, c *float32, ldc int, colsum *int32, sw *float32, bias *float32, rs *float32, rz *int32, flags int, mask int) {
			goInt8Tile(rows, k, a, lda, b, c, ldc, colsum, sw, bias, rs, rz, flags, mask)
		}
	}
	return ks
}

func goInt8Tile(rows, k int, a *uint32, lda int, b *uint32, c *float32, ldc int, colsum *int32, sw *float32, bias *float32, rs *float32, rz *int32, flags int, mask int) {
	cols := liveCols(mask)
	bs := unsafe.Slice((*int8)(unsafe.Pointer(b)), 4*k*lowNR)
	cs, sws, bi := unsafe.Slice(colsum, cols), unsafe.Slice(sw, cols), unsafe.Slice(bias, cols)
	rss, rzs := unsafe.Slice(rs, rows), unsafe.Slice(rz, rows)
	var acc [lowNR]int32
	for i := 0; i < rows; i++ {
		ar := unsafe.Slice((*uint8)(unsafe.Add(unsafe.Pointer(a), 4*i*lda)), 4*k)
		cr := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(c), 4*i*ldc)), cols)
		for j := range cols {
			if flags&int8First != 0 {
				acc[j] = rzs[i] * cs[j]
			} else {
				acc[j] = int32(math.Float32bits(cr[j]))
			}
		}
		for p := 0; p < k; p++ {
			a0, a1, a2, a3 := int32(ar[4*p]), int32(ar[4*p+1]), int32(ar[4*p+2]), int32(ar[4*p+3])
			bp := bs[4*p*lowNR : 4*p*lowNR+4*cols]
			for j := range cols {
				acc[j] += a0*int32(bp[4*j]) + a1*int32(bp[4*j+1]) + a2*int32(bp[4*j+2]) + a3*int32(bp[4*j+3])
			}
		}
		for j := range cols {
			if flags&int8Last != 0 {
				cr[j] = dequant(acc[j], rss[i], sws[j], bi[j])
			} else {
				cr[j] = math.Float32frombits(uint32(acc[j]))
			}
		}
	}
}
