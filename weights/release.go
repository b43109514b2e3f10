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

// ownedChunk is how many bytes Float32Owned copies between releases.
const ownedChunk = 16 << 20

// Float32Owned is Float32 for a caller that keeps the values: it always
// returns a new slice (never a view of the mapping), and it releases the
// tensor's mapped pages as it copies them, 16 MB at a time, so that a large
// table (XLM-R's 250,002 x 1,024 word embeddings: 1 GB) costs one copy at
// its peak, not the copy plus the mapped file.
func (c *Checkpoint) Float32Owned(name string) (data []float32, shape []int, err error) {
	data, shape, err = c.Float32(name)
	if err != nil {
		return nil, nil, err
	}
	r, _ := c.ref(name)
	if len(data) == 0 || r.info.DType != F32 || !c.isView(r, data) {
		// Already a new slice (converted, or copied for alignment).
		c.Release(name)
		return data, shape, nil
	}
	out := make([]float32, len(data))
	step := ownedChunk / 4
	for i := 0; i < len(data); i += step {
		j := min(i+step, len(data))
		copy(out[i:j], data[i:j])
		releasePagesIf(r.file, r.lo+int64(i)*4, r.lo+int64(j)*4)
	}
	return out, shape, nil
}

// isView says whether data points into r's mapping.
func (c *Checkpoint) isView(r tensorRef, data []float32) bool {
	if len(r.file.data) == 0 {
		return false
	}
	return unsafe.Pointer(&data[0]) == unsafe.Pointer(&r.file.data[r.lo])
}

func releasePagesIf(f *stFile, lo, hi int64) {
	if f.mapped {
		releasePages(f.data, lo, hi)
	}
}
