//go:build !purego

package gemm

import (
	"syscall"
	"unsafe"
)

const (
	sysArchPrctl     = 158    // SYS_arch_prctl on amd64
	archGetXcompSupp = 0x1021 // ARCH_GET_XCOMP_SUPP
	archReqXcompPerm = 0x1023 // ARCH_REQ_XCOMP_PERM
	xfeatureTileData = 18     // XFEATURE_XTILEDATA
)

// amxPermit asks Linux (5.16 and later) for the tile data state: without
// the grant the first tile instruction raises SIGILL. A kernel or VM that
// does not offer the state answers the first call with an error or a mask
// without bit 18.
func amxPermit() (bool, string) {
	var supp uint64
	if _, _, e := syscall.RawSyscall(sysArchPrctl, archGetXcompSupp, uintptr(unsafe.Pointer(&supp)), 0); e != 0 {
		return false, "the kernel does not report extended states (ARCH_GET_XCOMP_SUPP: " + e.Error() + ")"
	}
	if supp&(1<<xfeatureTileData) == 0 {
		return false, "the kernel does not offer the AMX tile state (XTILEDATA)"
	}
	if _, _, e := syscall.RawSyscall(sysArchPrctl, archReqXcompPerm, xfeatureTileData, 0); e != 0 {
		return false, "the kernel refused the AMX tile state (ARCH_REQ_XCOMP_PERM: " + e.Error() + ")"
	}
	return true, ""
}
