package weights

import (
	"encoding/binary"
	"path/filepath"
	"testing"
)

// Expected bits computed by torch 2.15: x.to(torch.float16) and
// x.to(torch.bfloat16) of the float32 values below (ties, overflow to
// infinity, subnormals, negative zero).
var (
	convF32  = []uint32{0x3eaaaaab, 0x477fe000, 0x4788b800, 0x322bcc77, 0x80000000, 0x3f808000, 0x3f818000, 0xc0200000, 0x7f61b1e6, 0x387fda40}
	convF16  = []uint16{0x3555, 0x7bff, 0x7c00, 0x0, 0x8000, 0x3c04, 0x3c0c, 0xc100, 0x7c00, 0x3ff}
	convBF16 = []uint16{0x3eab, 0x4780, 0x4789, 0x322c, 0x8000, 0x3f80, 0x3f82, 0xc020, 0x7f62, 0x3880}
)

func TestConvert(t *testing.T) {
	raw := make([]byte, 4*len(convF32))
	for i, b := range convF32 {
		binary.LittleEndian.PutUint32(raw[4*i:], b)
	}
	p := filepath.Join(t.TempDir(), "m.safetensors")
	writeFile(t, p, rawSafetensors(map[string]any{
		"w": map[string]any{"dtype": "F32", "shape": []int{len(convF32)}, "data_offsets": []int{0, len(raw)}},
	}, raw))
	c, err := OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tt := range []struct {
		to   DType
		want []uint16
	}{{F16, convF16}, {BF16, convBF16}} {
		b, shape, err := c.Convert("w", tt.to)
		if err != nil || shape[0] != len(convF32) || len(b) != 2*len(convF32) {
			t.Fatalf("Convert(%s): %d bytes, %v, %v", tt.to, len(b), shape, err)
		}
		for i, want := range tt.want {
			if got := binary.LittleEndian.Uint16(b[2*i:]); got != want {
				t.Errorf("%s of %#x = %#x, torch gives %#x", tt.to, convF32[i], got, want)
			}
		}
	}
	same, _, err := c.Convert("w", F32)
	if err != nil || &same[0] != &c.files[0].data[c.tensors["w"].lo] {
		t.Errorf("Convert to the stored dtype copied (%v)", err)
	}
	if _, _, err := c.Convert("w", I64); err == nil {
		t.Error("Convert to I64 succeeded")
	}
	if bfloat16Bits(float32NaN())&0x7fc0 != 0x7fc0 {
		t.Error("NaN did not stay NaN in bfloat16")
	}
}

func float32NaN() float32 { z := float32(0); return z / z }
