package cpu

import (
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/gemm"
)

func TestOptions(t *testing.T) {
	if _, err := New(Options{Precision: "fp16"}); err == nil || !strings.Contains(err.Error(), "fp16") {
		t.Errorf("precision fp16: err %v, want one naming fp16", err)
	}
	for _, tc := range []struct{ in, prec, name string }{
		{"", "fp32", "cpu"}, {"FP32", "fp32", "cpu"}, {"bf16", "bf16", "cpu (bf16, "}, {"int8", "int8", "cpu (int8, "},
	} {
		be, err := New(Options{Precision: tc.in})
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		got := be.(interface{ Precision() string }).Precision()
		if fallback := strings.Contains(be.Name(), "fp32:"); fallback {
			if got != "fp32" || !strings.Contains(be.Name(), tc.prec) {
				t.Errorf("%q falls back: Precision %q, Name %q; want fp32 and a name saying %s is missing", tc.in, got, be.Name(), tc.prec)
			}
			continue
		}
		if got != tc.prec || !strings.HasPrefix(be.Name(), tc.name) || strings.Contains(be.Name(), "go)") {
			t.Errorf("%q: Precision %q, Name %q; want %q, %q...", tc.in, got, be.Name(), tc.prec, tc.name)
		}
	}
}

// TestPrecisionPlan: a precision whose kernel would be the portable Go
// one (a CPU without AVX512_BF16 or VNNI) runs as fp32, and Name says so.
func TestPrecisionPlan(t *testing.T) {
	for _, tc := range []struct {
		prec     gemm.Precision
		kernel   string
		run      gemm.Precision
		name     string
		fellBack bool
	}{
		{gemm.FP32, "avx512", gemm.FP32, "cpu", false},
		{gemm.BF16, "avx512bf16", gemm.BF16, "cpu (bf16, avx512bf16)", false},
		{gemm.Int8, "avx512vnni", gemm.Int8, "cpu (int8, avx512vnni)", false},
		{gemm.BF16, "go", gemm.FP32, "cpu (fp32: no bf16 kernel on this CPU)", true},
		{gemm.Int8, "go", gemm.FP32, "cpu (fp32: no int8 kernel on this CPU)", true},
	} {
		run, name, fb := precisionPlan(tc.prec, tc.kernel)
		if run != tc.run || name != tc.name || fb != tc.fellBack {
			t.Errorf("%v on %q: %v %q %v; want %v %q %v", tc.prec, tc.kernel, run, name, fb, tc.run, tc.name, tc.fellBack)
		}
	}
}
