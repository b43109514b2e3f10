//go:build amd64 && !purego

package gemm

import (
	"sync"

	"golang.org/x/sys/cpu"
)

// The AMX kernels (amx_amd64.s) compute C blocks of 32 rows x 32 columns in
// four tile accumulators (tmm0-3) from two tiles of A (tmm4-5: 16 rows x 16
// groups each) and two of a weight panel (tmm6-7: 16 groups x 16 columns),
// k advancing 16 groups (32 bf16 or 64 bytes) per step. The weight panels
// of PackedBF16 and PackedInt8 are already in the tiles' VNNI layout: row p
// of a B tile is group p of 16 columns, the first or second 64 bytes of a
// 128-byte panel step. Each call configures the tiles, loops over npan
// panels, stores every block and releases the tiles, calling nothing: a
// goroutine may change OS thread between two calls, never inside one.

//go:noescape
func amxBF16(cfg *[64]byte, a *uint32, lda int, b *uint32, pstride int, c *float32, ldc int, bias *float32, bstep int, k16 int, npan int, mode int)

//go:noescape
func amxDequant(acc *int32, lacc int, c *float32, ldc int, rows int, colsum *int32, sw *float32, bias *float32, rs *float32, rz *int32, mask int)

//go:noescape
func amxU8S8(cfg *[64]byte, a *uint32, lda int, b *uint32, pstride int, c *int32, ldc int, bias *int32, bstep int, k16 int, npan int, mode int)

// amxCfg is the tile configuration every AMX call loads: palette 1, all
// eight tiles 16 rows x 64 bytes.
var amxCfg = func() (c [64]byte) {
	c[0] = 1
	for t := range 8 {
		c[16+2*t] = 64
		c[48+t] = 16
	}
	return c
}()

var (
	amxOnce   sync.Once
	amxOK     bool
	amxReason string
)

// amxUsable says whether the AMX kernels may run: the CPU has AMX-TILE,
// AMX-BF16 and AMX-INT8, and the OS offers the tile state and granted this
// process its use (one request, at the first call). reason says why not.
func amxUsable() (ok bool, reason string) {
	amxOnce.Do(func() {
		switch {
		case !cpu.X86.HasAMXTile || !cpu.X86.HasAMXBF16 || !cpu.X86.HasAMXInt8:
			amxReason = "the CPU has no AMX-BF16/AMX-INT8"
		default:
			amxOK, amxReason = amxPermit()
		}
	})
	return amxOK, amxReason
}

// AMXStatus says whether the bf16 products run on AMX tiles here (ok),
// whether the CPU has AMX at all (hw), and if it is not used, why.
func AMXStatus() (ok, hw bool, reason string) {
	ok, reason = amxUsable()
	return ok, cpu.X86.HasAMXTile && cpu.X86.HasAMXBF16 && cpu.X86.HasAMXInt8, reason
}
