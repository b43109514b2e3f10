package weights

// Release gives back the memory the process holds for tensor name's bytes:
// the whole pages of the mapping inside the tensor stop counting in the
// process's resident set (madvise MADV_DONTNEED on Linux; a no-op
// elsewhere). The mapping stays valid: reading the bytes again faults them
// back in from the page cache (or the file), with the same values.
//
// A loader that copies (packs, converts, uploads) each tensor calls it once
// the copy is made, so that its peak memory is the copies, not the copies
// plus the whole checkpoint. Unknown names are ignored: there is nothing to
// give back.
func (c *Checkpoint) Release(name string) {
	r, ok := c.ref(name)
	if !ok || r.file == nil || !r.file.mapped || r.info.Size == 0 {
		return
	}
	releasePages(r.file.data, r.lo, r.lo+r.info.Size)
}
