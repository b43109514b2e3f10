//go:build linux

package weights

import (
	"os"
	"syscall"
)

// releasePages drops the resident pages of data[lo:hi] that lie wholly
// inside it (a page shared with a neighbouring tensor stays). data must be
// a read-only shared file mapping (Release checks): then MADV_DONTNEED
// loses nothing, the next read maps the page cache's copy again. (On heap
// memory it would zero the pages: never call it there.) The mapping starts
// on a page boundary, so offsets into it align as addresses do.
func releasePages(data []byte, lo, hi int64) {
	page := int64(os.Getpagesize())
	start := (lo + page - 1) / page * page
	end := min(hi/page*page, int64(len(data)))
	if end <= start {
		return
	}
	// An error only means the memory is not given back early: the pages
	// still go when the mapping does.
	_ = syscall.Madvise(data[start:end], syscall.MADV_DONTNEED)
}
