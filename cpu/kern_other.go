//go:build !amd64 || purego

package cpu

// No assembly kernels here: attention uses mm4Go.
var hasMM4 = false

func mm4Asm(w, k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, s *float32) {
	panic("cpu: mm4 kernels without assembly")
}

func softmaxAsm(x []float32, scale float32) { panic("bert: softmax16 without assembly") }
func geluAsm(x []float32)                   { panic("bert: gelu16 without assembly") }

func softexpAsm(x []float32, scale float32) float32 { panic("cpu: softexp16 without assembly") }

func gegluAsm(dst, x, gate []float32) { panic("cpu: geglu16 without assembly") }
func addAsm(a, b []float32)           { panic("cpu: add16 without assembly") }

func layerNormAsm(dst, x, res, gamma, beta []float32, eps float32) {
	panic("bert: layerNorm16 without assembly")
}

func swigluAsm(g, u []float32) { panic("cpu: swiglu16 without assembly") }

func rmsNormAsm(dst, x, w []float32, eps float32) { panic("cpu: rmsNorm16 without assembly") }

func ropeAsm(row, cos, sin []float32, heads int) { panic("cpu: rope16 without assembly") }

func transposeAsm(kt []float32, lp int, k []float32, dim, nb, db int) {
	panic("cpu: transpose16 without assembly")
}
