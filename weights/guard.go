package weights

import (
	"errors"
	"fmt"
	"runtime/debug"
	"unsafe"
)

// ErrChangedOnDisk says a checkpoint file shrank or vanished while its
// mapping was being read: the read faulted (SIGBUS) where the file used to be.
var ErrChangedOnDisk = errors.New("the file changed on disk while it was being read (truncated or overwritten in place?)")

// Guard runs fn, which reads tensors of c (the views Float32 and Bytes
// return point into memory-mapped files), and turns a memory fault during
// those reads into an error naming the checkpoint's files instead of killing
// the process. A file truncated or rewritten in place while a model loads
// makes the mapping's pages past the new end fault; with Guard the load fails
// with ErrChangedOnDisk.
//
// Only reads made by fn's own goroutine are guarded (runtime/debug's
// SetPanicOnFault is per goroutine): fn must not hand the views to other
// goroutines. Other panics pass through unchanged.
func (c *Checkpoint) Guard(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		r := recover()
		if r == nil {
			return
		}
		// With SetPanicOnFault, a fault panics with a runtime.Error that
		// carries its address; a fault inside one of our mappings is a file
		// that changed under us, anything else is not ours to hide.
		if f, ok := r.(interface{ Addr() uintptr }); ok {
			if path := c.mappedFile(f.Addr()); path != "" {
				err = fmt.Errorf("weights: %s: %w: %v", path, ErrChangedOnDisk, r)
				return
			}
		}
		panic(r)
	}()
	return fn()
}

// mappedFile is the path of the mapped file that holds addr, or "".
func (c *Checkpoint) mappedFile(addr uintptr) string {
	for _, f := range c.files {
		if len(f.data) == 0 {
			continue
		}
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(f.data)))
		if addr >= lo && addr-lo < uintptr(cap(f.data)) {
			return f.path
		}
	}
	return ""
}
