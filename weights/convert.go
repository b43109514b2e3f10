package weights

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/x448/float16"
)

// Convert returns a tensor's values in dtype to (F32, F16 or BF16) as
// little-endian bytes, for a backend that computes in a dtype other than
// the checkpoint's (say, F16 on a GPU from an F32 checkpoint). When the
// tensor is stored in that dtype, the bytes are the mapping itself (no
// copy, read-only). Narrowing rounds to nearest even, as torch's .to() does.
func (c *Checkpoint) Convert(name string, to DType) ([]byte, []int, error) {
	r, ok := c.ref(name)
	if !ok {
		return nil, nil, c.notFound(name)
	}
	if to != F32 && to != F16 && to != BF16 {
		return nil, nil, fmt.Errorf("weights: tensor %q: cannot convert to %s (F32, F16 or BF16): %w", r.info.Name, to, ErrDType)
	}
	if r.info.DType == to {
		b, err := c.Bytes(name)
		return b, append([]int(nil), r.info.Shape...), err
	}
	v, shape, err := c.Float32(name)
	if err != nil {
		return nil, nil, err
	}
	out := make([]byte, len(v)*to.Size())
	switch to {
	case F32:
		for i, x := range v {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
		}
	case F16:
		for i, x := range v {
			binary.LittleEndian.PutUint16(out[2*i:], float16.Fromfloat32(x).Bits())
		}
	case BF16:
		for i, x := range v {
			binary.LittleEndian.PutUint16(out[2*i:], bfloat16Bits(x))
		}
	}
	return out, shape, nil
}

// bfloat16Bits rounds a float32 to bfloat16, to nearest even; NaN stays a
// (quiet) NaN instead of rounding into infinity.
func bfloat16Bits(x float32) uint16 {
	b := math.Float32bits(x)
	if x != x {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
