package gemm

import (
	"math"
	"strings"
	"testing"
)

func TestParsePrecision(t *testing.T) {
	for s, want := range map[string]Precision{"fp32": FP32, "": FP32, "Float32": FP32, "bf16": BF16, "BFLOAT16": BF16, "int8": Int8} {
		got, err := ParsePrecision(s)
		if err != nil || got != want {
			t.Errorf("ParsePrecision(%q) = %v, %v, want %v", s, got, err, want)
		}
	}
	for _, p := range []Precision{FP32, BF16, Int8} {
		if got, err := ParsePrecision(p.String()); err != nil || got != p {
			t.Errorf("ParsePrecision(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := ParsePrecision("fp8"); err == nil || !strings.Contains(err.Error(), `"fp8"`) {
		t.Errorf("ParsePrecision(fp8): error %v, want one that names it", err)
	}
}

// TestPackLinear: Pack and Pool.Linear give what the precision's own
// functions give, bit for bit.
func TestPackLinear(t *testing.T) {
	r := newRand(t)
	m, k, n := 37, 300, 70
	a, w, bias := randSlice(r, m*k), randSlice(r, n*k), randSlice(r, n)
	p := NewPool(2)
	defer p.Close()
	direct := map[Precision]func(c []float32){
		FP32: func(c []float32) { p.MatMul(c, a, m, PackWeight(w, n, k), bias, nil) },
		BF16: func(c []float32) { p.MatMulBF16(c, a, m, PackWeightBF16(w, n, k), bias, nil) },
		Int8: func(c []float32) { p.MatMulInt8(c, a, m, PackWeightInt8(w, n, k), bias, nil) },
	}
	for prec, f := range direct {
		pw, err := Pack(prec, w, n, k)
		if err != nil {
			t.Fatal(err)
		}
		if o, i := pw.Shape(); o != n || i != k || pw.Precision() != prec || pw.Kernel() == "" {
			t.Fatalf("%v: Shape %d %d, Precision %v, Kernel %q", prec, o, i, pw.Precision(), pw.Kernel())
		}
		got, want := make([]float32, m*n), make([]float32, m*n)
		p.Linear(got, a, m, pw, bias, nil)
		f(want)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%v: cell %d = %g, want %g", prec, i, got[i], want[i])
			}
		}
	}
}

func TestPackErrors(t *testing.T) {
	if _, err := Pack(BF16, make([]float32, 5), 2, 3); err == nil || !strings.Contains(err.Error(), "[2 3]") {
		t.Errorf("a short weight: error %v", err)
	}
	if _, err := Pack(Precision(7), make([]float32, 6), 2, 3); err == nil {
		t.Error("an unknown precision packed")
	}
	if _, err := Pack(Int8, make([]float32, maxInt8In+1), 1, maxInt8In+1); err == nil || !strings.Contains(err.Error(), "overflow") {
		t.Errorf("an int8 weight too wide for int32 sums: error %v", err)
	}
}
