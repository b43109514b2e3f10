package weights

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/x448/float16"
)

// A minimal safetensors writer for tests, written from the format's
// description (not from our reader), so reader bugs cannot cancel out.

type testTensor struct {
	name  string
	dtype DType
	shape []int
	vals  []float32 // converted to dtype when written
}

func encodeValues(dt DType, vals []float32) []byte {
	switch dt {
	case F32:
		b := make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b
	case F16:
		b := make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(b[2*i:], float16.Fromfloat32(v).Bits())
		}
		return b
	case BF16:
		b := make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(math.Float32bits(v)>>16)) // truncation: tests use exact values
		}
		return b
	case I64:
		b := make([]byte, 8*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint64(b[8*i:], uint64(int64(v)))
		}
		return b
	}
	panic("encodeValues: dtype " + string(dt))
}

// safetensorsBytes lays the tensors out one after the other, header padded
// with spaces to a multiple of 8 as the reference writer does.
func safetensorsBytes(tensors []testTensor, meta map[string]string) []byte {
	header := map[string]any{}
	if meta != nil {
		header["__metadata__"] = meta
	}
	var data []byte
	for _, t := range tensors {
		b := encodeValues(t.dtype, t.vals)
		header[t.name] = map[string]any{
			"dtype": t.dtype, "shape": t.shape,
			"data_offsets": []int{len(data), len(data) + len(b)},
		}
		data = append(data, b...)
	}
	return rawSafetensors(header, data)
}

func rawSafetensors(header map[string]any, data []byte) []byte {
	h, err := json.Marshal(header)
	if err != nil {
		panic(err)
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := make([]byte, 8, 8+len(h)+len(data))
	binary.LittleEndian.PutUint64(out, uint64(len(h)))
	out = append(out, h...)
	return append(out, data...)
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func seq(n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i-n/2) * scale
	}
	return v
}
