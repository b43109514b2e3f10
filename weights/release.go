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
	if !ok || r.file == nil || r.info.Size == 0 {
		return
	}
	releasePagesIf(r.file, r.lo, r.lo+r.info.Size)
}

// blockBytes is how many bytes of the mapping Float32Blocks hands over at
// a time before giving them back (a variable for the tests).
var blockBytes = 16 << 20

// Float32Blocks calls fn with tensor name's values in order, at most 4M
// values (16 MB of float32) at a time, off being the index of vals[0] in
// the tensor, and gives each block's mapped pages back (Release) once fn
// has returned. vals is only valid during the call (a view of the mapping
// for an aligned F32 tensor; converted values otherwise, an F16 or BF16
// tensor being widened whole first): fn copies what it keeps. A caller that
// stores a large table in its own form (a copy, or bf16) then holds at most
// one block of an F32 checkpoint beside it, not the whole tensor: XLM-R's
// 250,002 x 1,024 word embeddings are 1 GB. fn's error stops the reading
// and is returned.
func (c *Checkpoint) Float32Blocks(name string, fn func(off int, vals []float32) error) error {
	data, _, err := c.Float32(name)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return nil
	}
	r, _ := c.ref(name)
	elem := r.info.Size / int64(len(data)) // bytes per value as stored
	step := blockBytes / 4
	for i := 0; i < len(data); i += step {
		j := min(i+step, len(data))
		if err := fn(i, data[i:j]); err != nil {
			return err
		}
		releasePagesIf(r.file, r.lo+int64(i)*elem, r.lo+int64(j)*elem)
	}
	return nil
}

// releasePagesIf releases only from a file mapping: on the heap copy made
// where mapFile cannot map, MADV_DONTNEED would zero the values.
func releasePagesIf(f *stFile, lo, hi int64) {
	if mapsFiles && f.data != nil {
		releasePages(f.data, lo, hi)
	}
}
