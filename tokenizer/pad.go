package tokenizer

// Batch is encodings padded on the right into a Rows x Cols rectangle,
// stored row-major, for callers whose forward pass wants one.
type Batch struct {
	Rows, Cols int
	// IDs, TypeIDs and AttentionMask have Rows*Cols entries; padding has
	// the pad id, type id 0 and mask 0, as Hugging Face pads.
	IDs, TypeIDs, AttentionMask []int32
	// Lengths are the unpadded lengths of the rows.
	Lengths []int
}

// Pad pads encs to the length of the longest one.
func Pad(encs []*Encoding, padID int32) *Batch {
	b := &Batch{Rows: len(encs), Lengths: make([]int, len(encs))}
	for i, e := range encs {
		b.Lengths[i] = len(e.IDs)
		b.Cols = max(b.Cols, len(e.IDs))
	}
	n := b.Rows * b.Cols
	back := make([]int32, 3*n)
	b.IDs, b.TypeIDs, b.AttentionMask = back[:n:n], back[n:2*n:2*n], back[2*n:]
	for i, e := range encs {
		row := i * b.Cols
		copy(b.IDs[row:], e.IDs)
		copy(b.TypeIDs[row:], e.TypeIDs)
		copy(b.AttentionMask[row:], e.AttentionMask)
		for j := len(e.IDs); j < b.Cols; j++ {
			b.IDs[row+j] = padID
		}
	}
	return b
}

// Row returns the ids, type ids and mask of row i.
func (b *Batch) Row(i int) (ids, typeIDs, mask []int32) {
	s, e := i*b.Cols, (i+1)*b.Cols
	return b.IDs[s:e], b.TypeIDs[s:e], b.AttentionMask[s:e]
}
