//go:build !unix

package weights

import (
	"io"
	"os"
)

// mapsFiles says mapFile returns a heap copy, not a mapping.
const mapsFiles = false

// mapFile reads the whole file where memory mapping is not available.
func mapFile(f *os.File, size int64) ([]byte, error) {
	b := make([]byte, size)
	_, err := io.ReadFull(f, b)
	return b, err
}

func unmapFile(b []byte) error { return nil }
