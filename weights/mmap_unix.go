//go:build unix

package weights

import (
	"os"
	"syscall"
)

// mapsFiles says mapFile returns a file mapping.
const mapsFiles = true

// mapFile maps f read-only. Pages are shared with the page cache, so opening
// a checkpoint costs address space, not memory: tensor bytes are read from
// disk only when touched.
func mapFile(f *os.File, size int64) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	return syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
}

func unmapFile(b []byte) error {
	if b == nil {
		return nil
	}
	return syscall.Munmap(b)
}
