package gemm

import (
	"math"
	"math/rand"
	"testing"
)

// modelActivations returns m rows of k activations shaped like a BERT
// layer's inputs: after LayerNorm (k = hidden), Gaussian with two outlier
// features eight times larger, as trained BERTs have; after GELU
// (k = 4*hidden, the feed-forward output layer), GELU of a Gaussian, which
// is never below -0.17.
func modelActivations(r *rand.Rand, m, k int, gelu bool) []float32 {
	a := make([]float32, m*k)
	o1, o2 := r.Intn(k), r.Intn(k)
	for i := range a {
		x := r.NormFloat64()
		if gelu {
			x = 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
		} else if p := i % k; p == o1 || p == o2 {
			x *= 8
		}
		a[i] = float32(x)
	}
	return a
}

// TestLowpAccuracy bounds the error of the bf16 and int8 products against
// the float32 Reference on the models' layer shapes, cell by cell, with the
// worst case that the rounding or quantisation steps allow:
//
//   - bf16: each of a and w is rounded to 8 significant bits (relative
//     error <= u = 2^-8), so |a'w' - aw| <= (2u + u^2)|aw|, summed over k,
//     plus the fp32 sum's own error (as in check).
//   - int8: the dequantised activation is off by at most one step sa (half
//     a step of rounding, and at most another half where the top code is
//     clamped to 255 after the zero point's rounding), the weight by half
//     a step sw/2, so |a'w' - aw| <= |a| sw/2 + |w'| sa over k; a relative
//     1e-6 of Σ|a||w| more covers the float32 roundings of the scales and
//     of the dequantisation.
//
// It logs max|C'-C|/max|C| and mean|C'-C|/mean|C| for each shape: the
// figures a caller can expect on inputs shaped like the models'.
func TestLowpAccuracy(t *testing.T) {
	r := newRand(t)
	m := 32
	if testing.Short() {
		m = 8
	}
	const u = 1.0 / 256
	const eps = 1.0 / (1 << 24)
	for _, kn := range benchKNs {
		k, n := kn[0], kn[1]
		gelu := k > n // the feed-forward output layer reads GELU's output
		a := modelActivations(r, m, k, gelu)
		w := randSlice(r, n*k)
		for i := range w {
			w[i] *= 0.02 // BERT's initialiser scale
		}
		bias := randSlice(r, n)
		for i := range bias {
			bias[i] *= 0.02
		}
		want := make([]float32, m*n)
		Reference(want, a, m, k, n, w, bias)
		gotB, gotI := make([]float32, m*n), make([]float32, m*n)
		MatMulBF16(gotB, a, m, PackWeightBF16(w, n, k), bias)
		MatMulInt8(gotI, a, m, PackWeightInt8(w, n, k), bias)

		// per-row and per-column quantisation steps, as int8.go defines them
		sw := make([]float32, n)
		for j := range sw {
			sw[j], _ = weightQuant(w[j*k : (j+1)*k])
		}
		sa := make([]float64, m)
		for i := range sa {
			lo, hi := a[i*k], a[i*k]
			for _, v := range a[i*k : (i+1)*k] {
				lo, hi = min(lo, v), max(hi, v)
			}
			s, _, _ := actParams(lo, hi)
			sa[i] = float64(s)
		}
		var maxC, sumC, maxB, sumB, maxI, sumI float64
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var mag, boundI float64
				for p := 0; p < k; p++ {
					x, y := math.Abs(float64(a[i*k+p])), math.Abs(float64(w[j*k+p]))
					mag += x * y
					boundI += x*float64(sw[j])/2 + (y+float64(sw[j])/2)*sa[i]
				}
				c := float64(want[i*n+j])
				fp32 := 4*math.Sqrt(float64(k)+1)*eps*(mag+math.Abs(float64(bias[j]))) + eps*math.Abs(c)
				boundB := (2*u+u*u)*mag + fp32*(1+2*u)
				boundI += 1e-6 * (mag + math.Abs(float64(bias[j])))
				eb := math.Abs(float64(gotB[i*n+j]) - c)
				ei := math.Abs(float64(gotI[i*n+j]) - c)
				if !(eb <= boundB) {
					t.Fatalf("bf16 k=%d n=%d: C[%d,%d] = %g, fp32 %g: error %g over the bound %g", k, n, i, j, gotB[i*n+j], c, eb, boundB)
				}
				if !(ei <= boundI) {
					t.Fatalf("int8 k=%d n=%d: C[%d,%d] = %g, fp32 %g: error %g over the bound %g", k, n, i, j, gotI[i*n+j], c, ei, boundI)
				}
				maxC, sumC = max(maxC, math.Abs(c)), sumC+math.Abs(c)
				maxB, sumB = max(maxB, eb), sumB+eb
				maxI, sumI = max(maxI, ei), sumI+ei
			}
		}
		t.Logf("m=%d k=%d n=%d (%s input): bf16 max %.2e mean %.2e, int8 max %.2e mean %.2e (relative to max|C|, mean|C|)",
			m, k, n, map[bool]string{false: "LayerNorm-like", true: "GELU"}[gelu], maxB/maxC, sumB/sumC, maxI/maxC, sumI/sumC)
	}
}
