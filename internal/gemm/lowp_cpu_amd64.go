//go:build amd64 && !purego

package gemm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

var (
	avx512BF16 = &bf16Set{name: "avx512bf16", byRows: bf16Kernels512, cvt: cvtRowBF16}
	amxBF16Set = &bf16Set{name: "amx-bf16", cvt: cvtRowBF16, amx: true}
	avx512VNNI = &int8Set{name: "avx512vnni", byRows: int8Kernels512, quant: quantRowVNNI}
	amxInt8Set = &int8Set{name: "amx-int8", quant: quantRowVNNI, amx: true}
)

// bf16Sets lists the bf16 implementations this machine runs, fastest first.
// AMX tiles where the CPU and the OS allow them (amxUsable), then
// VDPBF16PS; both convert A with VCVTNE2PS2BF16, which needs AVX512_BF16; x/sys/cpu also checks
// that the OS saves the zmm state.
func bf16Sets() []*bf16Set {
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BF16 {
		if ok, _ := amxUsable(); ok {
			return []*bf16Set{amxBF16Set, avx512BF16, goBF16}
		}
		return []*bf16Set{avx512BF16, goBF16}
	}
	return []*bf16Set{goBF16}
}

// int8Sets lists the int8 implementations this machine runs, fastest
// first: AMX tiles where the CPU and the OS allow them (TDPBUSD; A is
// quantised with AVX-512), then VPDPBUSD on zmm, which needs AVX512_VNNI.
func int8Sets() []*int8Set {
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VNNI {
		if ok, _ := amxUsable(); ok {
			return []*int8Set{amxInt8Set, avx512VNNI, goInt8}
		}
		return []*int8Set{avx512VNNI, goInt8}
	}
	return []*int8Set{goInt8}
}

func cvtRowBF16(dst []uint32, x []float32) {
	if len(dst) < (len(x)+1)/2 {
		panic("gemm: cvtRowBF16: short destination")
	}
	if len(x) > 0 {
		cvtBF16(&dst[0], &x[0], len(x))
	}
}

// quantRowVNNI is quantRowGo with the row's extremes and codes computed by
// the assembly (minMax16, quantU8).
func quantRowVNNI(dst []uint32, x []float32) (float32, int32) {
	if 4*len(dst) < len(x) {
		panic("gemm: quantRowVNNI: short destination")
	}
	var mm [32]float32
	minMax16(&x[0], len(x), &mm)
	lo, hi := mm[0], mm[16]
	for i := 1; i < 16; i++ {
		lo, hi = min(lo, mm[i]), max(hi, mm[16+i])
	}
	sa, inv, zp := actParams(lo, hi)
	quantU8((*uint8)(unsafe.Pointer(&dst[0])), &x[0], len(x), inv, zp)
	return sa, -zp
}

// lowPeakFuncs are the VDPBF16PS and VPDPBUSD throughput loops for the
// benchmarks, nil where the machine lacks them.
func lowPeakFuncs() (bf16, vnni func(int)) {
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BF16 {
		bf16 = bf16Peak
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VNNI {
		vnni = vnniPeak
	}
	return bf16, vnni
}
