//go:build !amd64 || purego

package cpu

// No bf16 kernels here: attention stays in fp32.
var hasDP4 = false

func dp4asm(k int, a []uint32, lda int, b []uint32, ldb int, c []float32, ldc, w int) {
	panic("cpu: dp4 without assembly")
}

func pairsAsm(dst []uint32, src []float32) { pairsGo(dst, src) }

func vpairsAsm(dst []uint32, r0, r1 []float32) { vpairsGo(dst, r0, r1) }
