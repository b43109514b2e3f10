//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

//go:generate go run kern_gen.go

// The AVX-512 micro-kernels of kern_amd64.s: C[4 x w] = A[4 x k] · B[k x w]
// for w = 16, 32 and 64, every matrix row-major with its own stride in
// floats. k must be at least 1.

//go:noescape
func mm4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

//go:noescape
func mm4x32(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

//go:noescape
func mm4x64(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

// mm4x16s, mm4x32s and mm4x64s are the kernels with row r of C
// multiplied by s[r] before it is stored.

//go:noescape
func mm4x16s(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, s *float32)

//go:noescape
func mm4x32s(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, s *float32)

//go:noescape
func mm4x64s(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, s *float32)

// mm4Asm runs the kernel of width w (64, 32 or 16): the scaled one where
// s is not nil.
func mm4Asm(w, k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, s *float32) {
	switch {
	case w == 64 && s == nil:
		mm4x64(k, a, lda, b, ldb, c, ldc)
	case w == 64:
		mm4x64s(k, a, lda, b, ldb, c, ldc, s)
	case w == 32 && s == nil:
		mm4x32(k, a, lda, b, ldb, c, ldc)
	case w == 32:
		mm4x32s(k, a, lda, b, ldb, c, ldc, s)
	case s == nil:
		mm4x16(k, a, lda, b, ldb, c, ldc)
	default:
		mm4x16s(k, a, lda, b, ldb, c, ldc, s)
	}
}

// hasMM4 says whether the mm4 kernels run here (the OS must also save the
// zmm registers, which x/sys/cpu checks).
var hasMM4 = cpu.X86.HasAVX512F

// softmax16 is softmaxRow (attention.go) on AVX-512: x[i] *= scale,
// then exp(x[i] - max) / sum (as a product with 1/sum: within 2 float32
// roundings of the quotient), for n >= 1 floats.
//
//go:noescape
func softmax16(x *float32, n int, scale float32)

// softexp16 is softexpRow (attention.go) on AVX-512: x[i] =
// exp(x[i]·scale - max·scale) for n >= 1 floats, returning 1/sum.
//
//go:noescape
func softexp16(x *float32, n int, scale float32) float32

func softexpAsm(x []float32, scale float32) float32 {
	if len(x) == 0 {
		return 0
	}
	return softexp16(&x[0], len(x), scale)
}

// gelu16 is geluSlice (fastmath.go) on AVX-512, for n >= 1 floats.
//
//go:noescape
func gelu16(x *float32, n int)

func softmaxAsm(x []float32, scale float32) {
	if len(x) > 0 {
		softmax16(&x[0], len(x), scale)
	}
}

func geluAsm(x []float32) {
	if len(x) > 0 {
		gelu16(&x[0], len(x))
	}
}

// geglu16 is GeGLU's element pass on AVX-512: dst[i] = gelu(x[i])·gate[i]
// with gelu16's GELU, for n >= 1 floats.
//
//go:noescape
func geglu16(dst, x, gate *float32, n int)

func gegluAsm(dst, x, gate []float32) {
	n := len(dst)
	if n == 0 {
		return
	}
	_, _ = x[n-1], gate[n-1] // the kernel does not check bounds
	geglu16(&dst[0], &x[0], &gate[0], n)
}

// add16 is a[i] += b[i] on AVX-512, for n >= 1 floats.
//
//go:noescape
func add16(a, b *float32, n int)

func addAsm(a, b []float32) {
	n := len(a)
	if n == 0 {
		return
	}
	_ = b[n-1] // the kernel does not check bounds
	add16(&a[0], &b[0], n)
}

// layerNorm16 is addLayerNormRow (fastmath.go) on AVX-512 with float32
// sums: dst = LayerNorm(x + res) over n >= 1 floats (res read only when
// hasRes is not 0); invN is 1/n.
//
//go:noescape
func layerNorm16(dst, x, res, gamma, beta *float32, n, hasRes int, invN, eps float32)

func layerNormAsm(dst, x, res, gamma, beta []float32, eps float32) {
	n := len(dst)
	if n == 0 {
		return
	}
	// The kernel does not check bounds: check once here.
	_, _, _ = x[n-1], gamma[n-1], beta[n-1]
	if res == nil {
		layerNorm16(&dst[0], &x[0], nil, &gamma[0], &beta[0], n, 0, 1/float32(n), eps)
		return
	}
	_ = res[n-1]
	layerNorm16(&dst[0], &x[0], &res[0], &gamma[0], &beta[0], n, 1, 1/float32(n), eps)
}

// swiglu16 is SwiGLU's element pass on AVX-512: gate[i] = silu(gate[i])·up[i]
// (silu as in decoder.go), for n >= 1 floats.
//
//go:noescape
func swiglu16(gate, up *float32, n int)

func swigluAsm(g, u []float32) {
	n := len(g)
	if n == 0 {
		return
	}
	_ = u[n-1] // the kernel does not check bounds
	swiglu16(&g[0], &u[0], n)
}

// rmsNorm16 is rmsNormRow (decoder.go) on AVX-512, for n >= 1 floats; nf
// is float64(n).
//
//go:noescape
func rmsNorm16(dst, x, w *float32, n int, nf, eps float64)

func rmsNormAsm(dst, x, w []float32, eps float32) {
	n := len(dst)
	if n == 0 {
		return
	}
	_, _ = x[n-1], w[n-1] // the kernel does not check bounds
	rmsNorm16(&dst[0], &x[0], &w[0], n, float64(n), float64(eps))
}

// rope16 rotates one token's heads heads of 2·half floats at x (half >= 1)
// by cos and sin (half floats each), as RoPE's Go loop (rope.go) does, to
// the bit.
//
//go:noescape
func rope16(x, cos, sin *float32, heads, half int)

func ropeAsm(row, cos, sin []float32, heads int) {
	half := len(cos)
	if heads == 0 || half == 0 {
		return
	}
	_, _ = row[heads*2*half-1], sin[half-1] // the kernel does not check bounds
	rope16(&row[0], &cos[0], &sin[0], heads, half)
}

// transpose16 writes kt[d·lp+j] = k[j·dim+d] for j < 16·kb and d < 16·db
// (kb, db >= 1), on AVX-512, to the bit.
//
//go:noescape
func transpose16(kt *float32, lp int, k *float32, dim, kb, db int)

// transposeAsm is transpose16 for the first nb keys and db dims (both
// positive multiples of 16).
func transposeAsm(kt []float32, lp int, k []float32, dim, nb, db int) {
	// The kernel does not check bounds: check once here.
	_, _ = k[(nb-1)*dim+db-1], kt[(db-1)*lp+nb-1]
	transpose16(&kt[0], lp, &k[0], dim, nb/16, db/16)
}
