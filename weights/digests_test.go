package weights

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

// digest is what testdata/gen_digests.py records per tensor, from
// safetensors' Python reader.
type digest struct {
	DType     DType     `json:"dtype"`
	Shape     []int     `json:"shape"`
	SHA256F32 string    `json:"sha256_f32"`
	Sum       float64   `json:"sum"`
	SumSq     float64   `json:"sum_sq"`
	First     []float32 `json:"first"`
}

// TestFixtureValues checks every tensor of every fixture checkpoint (fp32,
// fp16, bf16, sharded) against what safetensors' Python reader gives: the
// same names, dtypes and shapes, and bit-identical float32 values.
func TestFixtureValues(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "digests.json"))
	if err != nil {
		t.Fatal(err)
	}
	var models map[string]struct {
		Files   map[string]string `json:"files"`
		Tensors map[string]digest `json:"tensors"`
	}
	if err := json.Unmarshal(raw, &models); err != nil {
		t.Fatal(err)
	}
	// Every fixture checkpoint must be covered, including ones added later.
	dirs, _ := filepath.Glob(filepath.Join("..", "testdata", "models", "*", "*.safetensors"))
	for _, d := range dirs {
		// The bi-encoder fixtures link their encoder to a cross-encoder's
		// checkpoint, whose digests cover it.
		if fi, err := os.Lstat(d); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			continue
		}
		if _, ok := models[filepath.Base(filepath.Dir(d))]; !ok {
			t.Errorf("%s has no digests: rerun weights/testdata/gen_digests.py", d)
		}
	}
	for model, want := range models {
		t.Run(model, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", "models", model)
			if _, err := os.Stat(dir); err != nil {
				t.Fatal("fixture missing (make fixtures):", err)
			}
			for f, sum := range want.Files {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
					t.Fatalf("%s changed since digests.json was made: rerun weights/testdata/gen_digests.py", f)
				}
			}
			c, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var names []string
			for n := range want.Tensors {
				names = append(names, n)
			}
			sort.Strings(names)
			if got := c.Names(); !reflect.DeepEqual(got, names) {
				t.Fatalf("names = %v\nwant %v", got, names)
			}
			for _, n := range names {
				d := want.Tensors[n]
				info, _ := c.Info(n)
				if info.DType != d.DType || !reflect.DeepEqual(info.Shape, d.Shape) {
					t.Errorf("%s: %s %v, want %s %v", n, info.DType, info.Shape, d.DType, d.Shape)
					continue
				}
				v, shape, err := c.Float32(n)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(shape, d.Shape) {
					t.Errorf("%s: Float32 shape %v, want %v", n, shape, d.Shape)
				}
				h := sha256.New()
				var buf [4]byte
				var sum, sumSq, abs float64
				for _, x := range v {
					binary.LittleEndian.PutUint32(buf[:], math.Float32bits(x))
					h.Write(buf[:])
					sum += float64(x)
					sumSq += float64(x) * float64(x)
					abs += math.Abs(float64(x))
				}
				if got := hex.EncodeToString(h.Sum(nil)); got != d.SHA256F32 {
					// Say how far off, to tell a conversion bug from a wrong tensor.
					t.Errorf("%s: float32 values differ from safetensors' (sum %g want %g, sum of squares %g want %g, first %v want %v)",
						n, sum, d.Sum, sumSq, d.SumSq, v[:min(8, len(v))], d.First)
				}
				if tol := 1e-9 * (abs + 1); math.Abs(sum-d.Sum) > tol || math.Abs(sumSq-d.SumSq) > 1e-9*(sumSq+1) {
					t.Errorf("%s: sum %g / %g, want %g / %g", n, sum, sumSq, d.Sum, d.SumSq)
				}
			}
		})
	}
}
