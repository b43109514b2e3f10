package cpu

import "math"

// Scalar float32 kernels of the fast CPU backend: exp for the softmax, erf
// for GELU, and residual + LayerNorm per row. Each has a test against the
// float64 library function or the reference kernel (backend_test.go).

// exp32 is e^x in float32 for the softmax, where x <= 0: x = n·ln2 + r with
// |r| <= ln2/2, e^r by its Taylor series to r^7 (truncation error below
// 6e-9 relative, under one float32 ulp), times 2^n built in the exponent
// bits. Below -87.3 the result would be subnormal: it returns 0, as the
// softmax weight of such a key is below float32's resolution anyway (the
// assembly softmax16 returns the subnormal or 0).
func exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375 // ln 2 split so that n·ln2hi is exact
		ln2lo = -2.12194440e-4
	)
	if x < -87.3 {
		return 0
	}
	if x > 88 {
		return float32(math.Inf(1))
	}
	t := x * log2e
	var n float32
	if t < 0 {
		n = float32(int32(t - 0.5))
	} else {
		n = float32(int32(t + 0.5))
	}
	r := x - n*ln2hi - n*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// erf32 is erf(x) in float32: x·P(x²)/Q(x²) on |x| < 3.92, ±1 beyond. The rational function was fitted here to minimise the
// relative error against mpmath's erf on [0, 4] (Loeb's iteration, degree
// 6 over 4 in x²); evaluated in float32 its error is below 4e-7 relative,
// about 3 ulp. TestErf32 checks it against math.Erf.
func erf32(x float32) float32 {
	// Past 3.92 erfc is below half an ulp of 1: erf is ±1 in float32 (and
	// the rational function, off there by 2 ulp, would leave gelu(-10)
	// positive).
	if x >= 3.92 {
		return 1
	}
	if x <= -3.92 {
		return -1
	}
	t := x * x
	p := float32(1.9098870041034388e-08)
	p = p*t - 1.9219710338802543e-06
	p = p*t + 0.00014337495667859912
	p = p*t + 0.0038402536883950233
	p = p*t + 0.05105819180607796
	p = p*t + 0.20370277762413025
	p = p*t + 1.1283791065216064
	q := float32(0.0009836675599217415)
	q = q*t + 0.01465712208300829
	q = q*t + 0.11654333770275116
	q = q*t + 0.5138589143753052
	q = q*t + 1
	return x * p / q
}

// geluSlice applies the exact (erf) GELU in place: 0.5·x·(1 + erf(x/√2)),
// on AVX-512 (gelu16) where it runs.
func geluSlice(x []float32) {
	if hasMM4 {
		geluAsm(x)
		return
	}
	geluSliceGo(x)
}

// geluSliceGo is geluSlice in Go: the fallback, and the oracle of gelu16.
func geluSliceGo(x []float32) {
	const invSqrt2 = 0.70710678118654752
	for i, v := range x {
		x[i] = 0.5 * v * (1 + erf32(v*invSqrt2))
	}
}

func geluTanhSlice(x []float32) {
	for i, v := range x {
		x[i] = geluTanh(v)
	}
}

func reluSlice(x []float32) {
	for i, v := range x {
		x[i] = max(v, 0)
	}
}

func tanhSlice(x []float32) {
	for i, v := range x {
		x[i] = float32(math.Tanh(float64(v)))
	}
}

// addLayerNormRow writes LayerNorm(x + res) to dst (res may be nil): the sum
// goes into dst while the mean accumulates, then the variance and the
// output read dst again while it is in L1. Sums are in float64, as in the
// reference.
func addLayerNormRow(dst, x, res, gamma, beta []float32, eps float32) {
	n := len(dst)
	x = x[:n]
	var sum float64
	if res != nil {
		res = res[:n]
		for j := range dst {
			v := x[j] + res[j]
			dst[j] = v
			sum += float64(v)
		}
	} else {
		for j, v := range x {
			dst[j] = v
			sum += float64(v)
		}
	}
	mean := sum / float64(n)
	var sq float64
	for _, v := range dst {
		d := float64(v) - mean
		sq += d * d
	}
	inv := 1 / math.Sqrt(sq/float64(n)+float64(eps))
	gamma, beta = gamma[:n], beta[:n]
	for j, v := range dst {
		dst[j] = float32((float64(v)-mean)*inv)*gamma[j] + beta[j]
	}
}

// geluTanh is the tanh approximation of GELU (gelu_new, gelu_pytorch_tanh):
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), in float64 as the reference
// computes it.
func geluTanh(x float32) float32 {
	v := float64(x)
	return float32(0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))))
}
