package weights

import "unsafe"

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
// for an aligned F32 tensor; otherwise one block's values, converted into
// a buffer the next block reuses): fn copies what it keeps. A caller that
// stores a large table in its own form (a copy, or bf16) then holds at most
// one block beside it, never the whole tensor widened: XLM-R's 250,002 x
// 1,024 word embeddings are 1 GB in float32, Qwen3-0.6B's 151,669 x 1,024
// bf16 table 600 MB once widened. fn's error stops the reading and is
// returned.
func (c *Checkpoint) Float32Blocks(name string, fn func(off int, vals []float32) error) error {
	r, ok := c.ref(name)
	if !ok {
		return c.notFound(name)
	}
	n := int(r.info.Elements())
	if n == 0 {
		return nil
	}
	elem := int64(r.info.DType.Size()) // bytes per value as stored
	view := r.info.DType == F32 && hostLittleEndian && uintptr(unsafe.Pointer(&r.file.data[r.lo]))%4 == 0
	if elem == 0 || view {
		// A view of the mapping (or the dtype error): nothing to convert.
		data, _, err := c.Float32(name)
		if err != nil {
			return err
		}
		return blocks(r, data, elem, fn)
	}
	step := blockBytes / 4
	buf := make([]float32, min(step, n))
	for i := 0; i < n; i += step {
		j := min(i+step, n)
		vals := buf[:j-i]
		if err := r.widen(vals, r.file.data[r.lo+int64(i)*elem:r.lo+int64(j)*elem]); err != nil {
			return err
		}
		if err := fn(i, vals); err != nil {
			return err
		}
		releasePagesIf(r.file, r.lo+int64(i)*elem, r.lo+int64(j)*elem)
	}
	return nil
}

// blocks hands out data, a view of r's mapping, a block at a time.
func blocks(r tensorRef, data []float32, elem int64, fn func(off int, vals []float32) error) error {
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
