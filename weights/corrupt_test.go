package weights

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCorruptFiles(t *testing.T) {
	ok := map[string]any{"dtype": "F32", "shape": []int{2}, "data_offsets": []int{0, 8}}
	data8 := make([]byte, 8)
	tests := []struct {
		name   string
		file   []byte
		want   error
		tensor string // the error must name this tensor
	}{
		{"short file", []byte{1, 2, 3}, ErrHeader, ""},
		{"header length past the file", func() []byte {
			b := make([]byte, 16)
			binary.LittleEndian.PutUint64(b, 1<<40)
			return b
		}(), ErrHeader, ""},
		{"bad JSON", func() []byte {
			h := []byte(`{"w": {"dtype": "F32",`)
			b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
			return append(b, h...)
		}(), ErrHeader, ""},
		{"tensor entry of the wrong type", rawSafetensors(map[string]any{"w": []int{1}}, nil), ErrHeader, "w"},
		{"three offsets", rawSafetensors(map[string]any{"w": map[string]any{"dtype": "F32", "shape": []int{2}, "data_offsets": []int{0, 4, 8}}}, data8), ErrHeader, "w"},
		{"negative offset", rawSafetensors(map[string]any{"w": map[string]any{"dtype": "F32", "shape": []int{2}, "data_offsets": []int{-8, 0}}}, data8), ErrHeader, "w"},
		{"offsets past the data", rawSafetensors(map[string]any{"w": map[string]any{"dtype": "F32", "shape": []int{4}, "data_offsets": []int{0, 16}}}, data8), ErrOffsets, "w"},
		{"reversed offsets", rawSafetensors(map[string]any{"w": map[string]any{"dtype": "F32", "shape": []int{0}, "data_offsets": []int{8, 0}}}, data8), ErrOffsets, "w"},
		{"overlap", rawSafetensors(map[string]any{
			"a": ok,
			"b": map[string]any{"dtype": "F32", "shape": []int{1}, "data_offsets": []int{4, 8}},
		}, data8), ErrOverlap, "b"},
		{"shape vs bytes", rawSafetensors(map[string]any{"w": map[string]any{"dtype": "F32", "shape": []int{3}, "data_offsets": []int{0, 8}}}, data8), ErrShape, "w"},
		{"shape overflow", rawSafetensors(map[string]any{"w": map[string]any{"dtype": "F32", "shape": []uint64{1 << 32, 1 << 32, 1 << 2}, "data_offsets": []int{0, 8}}}, data8), ErrShape, "w"},
		{"unsupported dtype", rawSafetensors(map[string]any{"w": map[string]any{"dtype": "F4", "shape": []int{2}, "data_offsets": []int{0, 1}}}, data8), ErrDType, "w"},
		{"bad metadata", rawSafetensors(map[string]any{"__metadata__": map[string]any{"n": 1}, "w": ok}, data8), ErrHeader, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.safetensors")
			writeFile(t, p, tt.file)
			c, err := OpenFile(p)
			if err == nil {
				c.Close()
				t.Fatal("OpenFile succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("err %q does not name the file", err)
			}
			if tt.tensor != "" && !strings.Contains(err.Error(), `"`+tt.tensor+`"`) {
				t.Errorf("err %q does not name tensor %q", err, tt.tensor)
			}
		})
	}
}

func TestEmptyAndUnalignedTensors(t *testing.T) {
	// An empty tensor, a scalar, and an F32 tensor at an odd offset (read
	// by copying instead of viewing the mapping).
	data := []byte{9, 0, 0, 128, 63, 0, 0, 0, 64}
	p := filepath.Join(t.TempDir(), "m.safetensors")
	writeFile(t, p, rawSafetensors(map[string]any{
		"empty":  map[string]any{"dtype": "F32", "shape": []int{0, 5}, "data_offsets": []int{0, 0}},
		"pad":    map[string]any{"dtype": "U8", "shape": []int{}, "data_offsets": []int{0, 1}},
		"odd":    map[string]any{"dtype": "F32", "shape": []int{2}, "data_offsets": []int{1, 9}},
		"empty2": map[string]any{"dtype": "F16", "shape": []int{0}, "data_offsets": []int{1, 1}},
	}, data))
	c, err := OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, shape, err := c.Float32("odd")
	if err != nil || len(v) != 2 || v[0] != 1 || v[1] != 2 || shape[0] != 2 {
		t.Errorf("odd = %v %v %v", v, shape, err)
	}
	v, shape, err = c.Float32("empty")
	if err != nil || len(v) != 0 || len(shape) != 2 {
		t.Errorf("empty = %v %v %v", v, shape, err)
	}
	// A file whose only tensor is empty has no data bytes: Python's
	// safetensors writes it so (save_file({"a": zeros((0, 4))})) and loads it.
	p = filepath.Join(t.TempDir(), "e.safetensors")
	writeFile(t, p, rawSafetensors(map[string]any{"a": map[string]any{"dtype": "F32", "shape": []int{0, 4}, "data_offsets": []int{0, 0}}}, nil))
	e, err := OpenFile(p)
	if err != nil {
		t.Fatalf("a file with one empty tensor: %v", err)
	}
	e.Close()
	// An empty tensor's other dimensions are still bounded.
	p = filepath.Join(t.TempDir(), "h.safetensors")
	writeFile(t, p, rawSafetensors(map[string]any{"a": map[string]any{"dtype": "F32", "shape": []int{0, 1 << 40}, "data_offsets": []int{0, 0}}}, nil))
	if e, err := OpenFile(p); err == nil {
		e.Close()
		t.Error("an empty tensor of [0 2^40] accepted")
	}
}

func writeIndex(t *testing.T, dir string, weightMap map[string]string) {
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 16}, "weight_map": weightMap})
	writeFile(t, filepath.Join(dir, SafetensorsIndex), b)
}

func TestSharded(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "model-00001-of-00002.safetensors"), safetensorsBytes([]testTensor{{"a", F32, []int{2}, []float32{1, 2}}}, map[string]string{"format": "pt"}))
	writeFile(t, filepath.Join(dir, "model-00002-of-00002.safetensors"), safetensorsBytes([]testTensor{{"b", F16, []int{2}, []float32{3, 4}}}, nil))
	writeIndex(t, dir, map[string]string{"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"})
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := c.Float32("b"); err != nil || v[1] != 4 {
		t.Errorf("b = %v %v", v, err)
	}
	if m := c.Metadata(); m["total_size"] != "16" || m["format"] != "pt" {
		t.Errorf("metadata = %v", m)
	}
	c.Close()

	t.Run("missing shard", func(t *testing.T) {
		writeIndex(t, dir, map[string]string{"a": "model-00001-of-00002.safetensors", "c": "model-00003-of-00003.safetensors"})
		_, err := Open(dir)
		if !errors.Is(err, ErrMissingShard) || !strings.Contains(err.Error(), "model-00003-of-00003.safetensors") || !strings.Contains(err.Error(), `"c"`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("tensor not in its shard", func(t *testing.T) {
		writeIndex(t, dir, map[string]string{"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors"})
		_, err := Open(dir)
		if !errors.Is(err, ErrMissingShard) || !strings.Contains(err.Error(), `"b"`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("path traversal", func(t *testing.T) {
		writeIndex(t, dir, map[string]string{"a": "../model-00001-of-00002.safetensors"})
		if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "not a file name") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("stored twice", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "model-00002-of-00002.safetensors"), safetensorsBytes([]testTensor{{"a", F16, []int{2}, []float32{3, 4}}}, nil))
		writeIndex(t, dir, map[string]string{"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"})
		if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("err = %v", err)
		}
	})
	_ = os.Remove
}

func FuzzParseHeader(f *testing.F) {
	valid := map[string]int64{ // headers that must parse, with their data length
		`{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}`:                    16,
		`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[],"data_offsets":[4,6]}}`: 6,
		`{"a":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]}}    `:                                                0,
	}
	for h, n := range valid {
		f.Add([]byte(h), n)
	}
	f.Add([]byte(`{"a":{"dtype":"I64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`), int64(8))
	f.Fuzz(func(t *testing.T, header []byte, dataLen int64) {
		if dataLen < 0 || dataLen > 1<<40 {
			return
		}
		infos, _, err := parseHeader("f", header, dataLen)
		if err != nil {
			if n, ok := valid[string(header)]; ok && n == dataLen {
				t.Fatalf("a valid header refused: %v", err)
			}
			return
		}
		// Whatever parses must be safe to slice and must not overlap.
		var used int64
		for _, in := range infos {
			if in.Offset < 0 || in.Size < 0 || in.Offset+in.Size > dataLen {
				t.Fatalf("tensor %q [%d +%d] outside %d bytes", in.Name, in.Offset, in.Size, dataLen)
			}
			if in.Elements()*int64(in.DType.Size()) != in.Size {
				t.Fatalf("tensor %q: shape %v of %s is not %d bytes", in.Name, in.Shape, in.DType, in.Size)
			}
			used += in.Size
		}
		if used > dataLen {
			t.Fatalf("tensors use %d bytes of %d", used, dataLen)
		}
	})
}
