package tokenizer

// Batch is encodings padded into a Rows x Cols rectangle, stored
// row-major, for callers whose forward pass wants one.
type Batch struct {
	Rows, Cols int
	// IDs, TypeIDs and AttentionMask have Rows*Cols entries; padding has
	// the pad id, type id 0 and mask 0, as Hugging Face pads.
	IDs, TypeIDs, AttentionMask []int32
	// Lengths are the unpadded lengths of the rows.
	Lengths []int
	// Side is where the padding is: Right (after the tokens) or Left
	// (before them, as decoder models such as Qwen3 are batched, so that
	// every row's last token is in the last column).
	Side Side
}

// Pad pads encs on the right to the length of the longest one.
func Pad(encs []*Encoding, padID int32) *Batch { return PadSide(encs, padID, Right) }

// PadSide pads encs to the length of the longest one, on the given side
// (transformers' padding_side).
func PadSide(encs []*Encoding, padID int32, side Side) *Batch {
	b := &Batch{Rows: len(encs), Lengths: make([]int, len(encs)), Side: side}
	for i, e := range encs {
		b.Lengths[i] = len(e.IDs)
		b.Cols = max(b.Cols, len(e.IDs))
	}
	n := b.Rows * b.Cols
	back := make([]int32, 3*n)
	b.IDs, b.TypeIDs, b.AttentionMask = back[:n:n], back[n:2*n:2*n], back[2*n:]
	for i, e := range encs {
		row := i * b.Cols
		pad := b.Cols - len(e.IDs)
		start := row // where the tokens go
		if side == Left {
			start += pad
			for j := row; j < start; j++ {
				b.IDs[j] = padID
			}
		} else {
			for j := row + len(e.IDs); j < row+b.Cols; j++ {
				b.IDs[j] = padID
			}
		}
		copy(b.IDs[start:], e.IDs)
		copy(b.TypeIDs[start:], e.TypeIDs)
		copy(b.AttentionMask[start:], e.AttentionMask)
	}
	return b
}

// Row returns the ids, type ids and mask of row i.
func (b *Batch) Row(i int) (ids, typeIDs, mask []int32) {
	s, e := i*b.Cols, (i+1)*b.Cols
	return b.IDs[s:e], b.TypeIDs[s:e], b.AttentionMask[s:e]
}
