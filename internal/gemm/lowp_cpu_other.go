//go:build !amd64 || purego

package gemm

func bf16Sets() []*bf16Set { return []*bf16Set{goBF16} }

func int8Sets() []*int8Set { return []*int8Set{goInt8} }

func lowPeakFuncs() (bf16, vnni func(int)) { return nil, nil }

// The AMX kernels exist on amd64 only; no set here has amx set.
func amxBF16(cfg *[64]byte, a *uint32, lda int, b *uint32, pstride int, c *float32, ldc int, bias *float32, bstep int, k16 int, npan int, mode int) {
	panic("gemm: no AMX kernel in this build")
}

func amxU8S8(cfg *[64]byte, a *uint32, lda int, b *uint32, pstride int, c *int32, ldc int, bias *int32, bstep int, k16 int, npan int, mode int) {
	panic("gemm: no AMX kernel in this build")
}

func amxDequant(acc *int32, lacc int, c *float32, ldc int, rows int, colsum *int32, sw *float32, bias *float32, rs *float32, rz *int32, mask int) {
	panic("gemm: no AMX kernel in this build")
}

var amxCfg [64]byte

// AMXStatus: the AMX kernels are built for amd64 only (and not with purego).
func AMXStatus() (ok, hw bool, reason string) { return false, false, "no AMX kernels in this build" }
