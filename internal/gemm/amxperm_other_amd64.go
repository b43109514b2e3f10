//go:build !linux && !purego

package gemm

// amxPermit: only Linux's permission protocol is known to this package; on
// other systems the AVX-512 kernels run.
func amxPermit() (bool, string) { return false, "AMX is used on Linux only" }
