package gemm

import (
	"compress/gzip"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unsafe"

	"github.com/crossrank/crossrank/weights"
)

// The int8 and bf16 schemes against testdata/golden/quant-bert.jsonl.gz, which
// numpy and torch computed from the scheme's description (testdata/gen/quant.py),
// not from this package: per-channel weight scales and codes, per-token
// activation scales, zero points and codes, the int8 product, and the bf16 bits
// of weights and activations, for two Linear layers of the bert fixture (with the
// real activations that reach them) and a small matrix of corner cases. Unlike
// ReferenceInt8 and ReferenceBF16, which share weightQuant, actParams and
// roundBF16 with the packers, this oracle shares nothing with them.

const quantGolden = "../../testdata/golden/quant-bert.jsonl.gz"

type quantCase struct {
	Name   string    `json:"name"`
	M      int       `json:"m"`
	K      int       `json:"k"`
	N      int       `json:"n"`
	Tensor string    `json:"tensor"`
	Weight []float32 `json:"weight"`
	Bias   []float32 `json:"bias"`
	Input  []float32 `json:"input"`
	Int8   struct {
		WeightScale    []float32 `json:"weight_scale"`
		WeightQ        []int8    `json:"weight_q"`
		InputScale     []float32 `json:"input_scale"`
		InputZeroPoint []int32   `json:"input_zero_point"`
		InputQ         []int     `json:"input_q"`
		Output         []float32 `json:"output"`
	} `json:"int8"`
	BF16 struct {
		WeightBits []uint16 `json:"weight_bits"`
		InputBits  []uint16 `json:"input_bits"`
	} `json:"bf16"`
}

type quantGoldenFile struct {
	Model string      `json:"model"`
	Cases []quantCase `json:"cases"`
}

// loadQuantGolden reads the golden and the checkpoint weights its cases name.
// A missing file fails the test: testdata/fixtures_test.go lists it in the
// manifest, so it is never legitimately absent.
func loadQuantGolden(t *testing.T) []quantCase {
	t.Helper()
	f, err := os.Open(quantGolden)
	if err != nil {
		t.Fatalf("quant golden: %v", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var g quantGoldenFile
	if err := json.NewDecoder(gz).Decode(&g); err != nil {
		t.Fatalf("%s: %v", quantGolden, err)
	}
	ck, err := weights.Open(filepath.Join("../../testdata", g.Model))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	for i := range g.Cases {
		c := &g.Cases[i]
		if c.Tensor != "" {
			w, shape, err := ck.Float32(c.Tensor + ".weight")
			if err != nil || !slices.Equal(shape, []int{c.N, c.K}) {
				t.Fatalf("%s: %v, shape %v, want [%d %d]", c.Tensor, err, shape, c.N, c.K)
			}
			b, _, err := ck.Float32(c.Tensor + ".bias")
			if err != nil {
				t.Fatal(err)
			}
			c.Weight, c.Bias = slices.Clone(w), slices.Clone(b)
		}
		if len(c.Weight) != c.N*c.K || len(c.Bias) != c.N || len(c.Input) != c.M*c.K ||
			len(c.Int8.WeightQ) != c.N*c.K || len(c.Int8.InputQ) != c.M*c.K || len(c.Int8.Output) != c.M*c.N ||
			len(c.BF16.WeightBits) != c.N*c.K || len(c.BF16.InputBits) != c.M*c.K {
			t.Fatalf("%s: malformed case", c.Name)
		}
	}
	if len(g.Cases) < 3 {
		t.Fatalf("%s: %d cases", quantGolden, len(g.Cases))
	}
	return g.Cases
}

func sameBits(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }

// TestInt8MatchesNumpy: the packed weight's scales and codes, every
// activation quantiser's scales, zero points and codes, and MatMulInt8's
// output (each kernel) equal numpy's bit for bit.
func TestInt8MatchesNumpy(t *testing.T) {
	for _, c := range loadQuantGolden(t) {
		for _, ks := range int8Sets() {
			w := packInt8(ks, c.Weight, c.N, c.K)
			for o := 0; o < c.N; o++ {
				if !sameBits(w.scale[o], c.Int8.WeightScale[o]) {
					t.Fatalf("%s %s: weight scale[%d] = %g, numpy %g", ks.name, c.Name, o, w.scale[o], c.Int8.WeightScale[o])
				}
				var colsum int32
				panel := w.data[(o/lowNR)*w.steps*lowNR:]
				for k := 0; k < c.K; k++ {
					got := int8(panel[(k/4)*lowNR+o%lowNR] >> (8 * (k % 4)))
					if want := c.Int8.WeightQ[o*c.K+k]; got != want {
						t.Fatalf("%s %s: weight code [%d,%d] = %d, numpy %d (w=%g)", ks.name, c.Name, o, k, got, want, c.Weight[o*c.K+k])
					}
					colsum += int32(got)
				}
				if w.colsum[o] != colsum {
					t.Fatalf("%s %s: colsum[%d] = %d, the codes add up to %d", ks.name, c.Name, o, w.colsum[o], colsum)
				}
			}
			groups := (c.K + 3) / 4
			for i := 0; i < c.M; i++ {
				dst := make([]uint32, groups)
				sa, negZP := ks.quant(dst, c.Input[i*c.K:(i+1)*c.K])
				if !sameBits(sa, c.Int8.InputScale[i]) || -negZP != c.Int8.InputZeroPoint[i] {
					t.Fatalf("%s %s: row %d: scale %g, zero point %d; numpy %g, %d", ks.name, c.Name, i, sa, -negZP, c.Int8.InputScale[i], c.Int8.InputZeroPoint[i])
				}
				codes := unsafe.Slice((*uint8)(unsafe.Pointer(&dst[0])), c.K)
				for k, got := range codes {
					if want := c.Int8.InputQ[i*c.K+k]; int(got) != want {
						t.Fatalf("%s %s: activation code [%d,%d] = %d, numpy %d (x=%g)", ks.name, c.Name, i, k, got, want, c.Input[i*c.K+k])
					}
				}
			}
			got := make([]float32, c.M*c.N)
			p := NewPool(2)
			p.MatMulInt8(got, c.Input, c.M, w, c.Bias, nil)
			p.Close()
			for q, want := range c.Int8.Output {
				if !sameBits(got[q], want) {
					t.Fatalf("%s %s: C[%d,%d] = %g, numpy %g (bit for bit)", ks.name, c.Name, q/c.N, q%c.N, got[q], want)
				}
			}
		}
		ref := make([]float32, c.M*c.N)
		ReferenceInt8(ref, c.Input, c.M, c.K, c.N, c.Weight, c.Bias)
		for q, want := range c.Int8.Output {
			if !sameBits(ref[q], want) {
				t.Fatalf("ReferenceInt8 %s: C[%d,%d] = %g, numpy %g", c.Name, q/c.N, q%c.N, ref[q], want)
			}
		}
	}
}

// TestBF16MatchesTorch: the bf16 bits of the packed weight (PackWeightBF16)
// and of each kernel's converted activations equal torch's
// float32 -> bfloat16 conversion; MatMulBF16 is within float32
// accumulation error of the exact product of those bits.
func TestBF16MatchesTorch(t *testing.T) {
	for _, c := range loadQuantGolden(t) {
		w := PackWeightBF16(c.Weight, c.N, c.K)
		for o := 0; o < c.N; o++ {
			panel := w.data[(o/lowNR)*w.steps*lowNR:]
			for k := 0; k < c.K; k++ {
				got := uint16(panel[(k/2)*lowNR+o%lowNR] >> (16 * (k % 2)))
				if want := c.BF16.WeightBits[o*c.K+k]; got != want {
					t.Fatalf("%s: weight [%d,%d] = %#04x, torch %#04x (w=%g)", c.Name, o, k, got, want, c.Weight[o*c.K+k])
				}
			}
		}
		for _, ks := range bf16Sets() {
			for i := 0; i < c.M; i++ {
				dst := make([]uint32, (c.K+1)/2)
				ks.cvt(dst, c.Input[i*c.K:(i+1)*c.K])
				for k := 0; k < c.K; k++ {
					got := uint16(dst[k/2] >> (16 * (k % 2)))
					if want := c.BF16.InputBits[i*c.K+k]; got != want {
						t.Fatalf("%s %s: activation [%d,%d] = %#04x, torch %#04x (x=%g)", ks.name, c.Name, i, k, got, want, c.Input[i*c.K+k])
					}
				}
			}
			got := make([]float32, c.M*c.N)
			p := NewPool(2)
			p.MatMulBF16(got, c.Input, c.M, packBF16(ks, c.N, c.K, func(o, k int) uint16 { return c.BF16.WeightBits[o*c.K+k] }), c.Bias, nil)
			p.Close()
			for i := 0; i < c.M; i++ {
				for j := 0; j < c.N; j++ {
					exact, mag := float64(c.Bias[j]), math.Abs(float64(c.Bias[j]))
					for k := 0; k < c.K; k++ {
						v := float64(FromBF16(c.BF16.InputBits[i*c.K+k])) * float64(FromBF16(c.BF16.WeightBits[j*c.K+k]))
						exact += v
						mag += math.Abs(v)
					}
					// k+1 float32 additions, each off by at most half an ulp of
					// a partial sum <= mag: (k+1)*2^-24*mag, plus C's rounding.
					bound := float64(c.K+1)*0x1p-24*mag + 0x1p-24*math.Abs(exact)
					if d := math.Abs(float64(got[i*c.N+j]) - exact); d > bound {
						t.Fatalf("%s %s: C[%d,%d] = %g, exact %g: off by %.3g > %.3g", ks.name, c.Name, i, j, got[i*c.N+j], exact, d, bound)
					}
				}
			}
		}
	}
}
