//go:build amd64 && !purego

package cpu

import (
	"fmt"

	"golang.org/x/sys/cpu"
)

//go:generate go run kern_bf16_gen.go

// The bf16 attention micro-kernels of kern_bf16_amd64.s (VDPBF16PS):
// C[4 x w] = A[4 x k pairs] · B[k pairs x w] for w = 16, 32 and 64, A and B of
// bf16 pairs (uint32: the even element in the low half), C fp32; strides in
// elements of each matrix. k must be at least 1.

//go:noescape
func dp4x16(k int, a *uint32, lda int, b *uint32, ldb int, c *float32, ldc int)

//go:noescape
func dp4x32(k int, a *uint32, lda int, b *uint32, ldb int, c *float32, ldc int)

//go:noescape
func dp4x64(k int, a *uint32, lda int, b *uint32, ldb int, c *float32, ldc int)

// pairs32 rounds n floats (a multiple of 32, at least 32) to bf16 pairs.
//
//go:noescape
func pairs32(dst *uint32, src *float32, n int)

// vpairs16 writes dst[d] = (r0[d], r1[d]) rounded to bf16 for n floats (a
// multiple of 16, at least 16).
//
//go:noescape
func vpairs16(dst *uint32, r0, r1 *float32, n int)

// hasDP4 says whether dp4x32, dp4x64 and pairs32 run here.
var hasDP4 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BF16

// dp4asm is dp4Go on the kernels, w a multiple of 16, k >= 1. The kernels
// do not check bounds: checked once here.
func dp4asm(k int, a []uint32, lda int, b []uint32, ldb int, c []float32, ldc, w int) {
	if k < 1 || w%16 != 0 || len(a) < 3*lda+k || len(b) < (k-1)*ldb+w || len(c) < 3*ldc+w {
		panic(fmt.Sprintf("cpu: dp4: k=%d w=%d: len(a)=%d lda=%d len(b)=%d ldb=%d len(c)=%d ldc=%d",
			k, w, len(a), lda, len(b), ldb, len(c), ldc))
	}
	for c0 := 0; c0 < w; {
		if w-c0 >= 64 {
			dp4x64(k, &a[0], lda, &b[c0], ldb, &c[c0], ldc)
			c0 += 64
		} else if w-c0 >= 32 {
			dp4x32(k, &a[0], lda, &b[c0], ldb, &c[c0], ldc)
			c0 += 32
		} else {
			dp4x16(k, &a[0], lda, &b[c0], ldb, &c[c0], ldc)
			c0 += 16
		}
	}
}

// vpairsAsm is vpairsGo on vpairs16 (len(dst) a multiple of 16).
func vpairsAsm(dst []uint32, r0, r1 []float32) {
	if len(dst) > 0 {
		_, _ = r0[len(dst)-1], r1[len(dst)-1]
		vpairs16(&dst[0], &r0[0], &r1[0], len(dst))
	}
}

func pairsAsm(dst []uint32, src []float32) {
	n := len(src) &^ 31
	if n > 0 {
		_ = dst[n/2-1]
		pairs32(&dst[0], &src[0], n)
	}
	pairsGo(dst[n/2:], src[n:])
}
