package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/crossrank/crossrank/internal/testrand"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/reference"
)

// The decoder operations against package reference's definitions, on
// fresh random inputs.

func TestFastDecoderOpsMatchReference(t *testing.T) {
	rng := testrand.Fresh(t)
	for _, c := range []struct{ heads, kvHeads, headDim, longest int }{
		{4, 2, 16, 200}, {16, 8, 128, 300}, {8, 1, 64, 100}, {2, 2, 32, 50}, {14, 2, 64, 300},
	} {
		lens := testrand.Lengths(rng, 1+rng.IntN(6), 1+rng.IntN(c.longest))
		offsets, total := offsetsOf(lens)
		qd, kd := c.heads*c.headDim, c.kvHeads*c.headDim
		name := fmt.Sprintf("%d/%d heads x %d, lengths %v", c.heads, c.kvHeads, c.headDim, lens)
		q := newOpPair(t, total)

		// RMSNorm over the hidden size and per head.
		x := q.input(testrand.Floats(rng, total*qd), total, qd)
		wh := q.vector(testrand.Floats(rng, qd))
		q.check("rms norm "+name, t2{q.fr.(ml.RMSNormRun).RMSNorm(x.f, wh.f, 1e-6), q.rr.(ml.RMSNormRun).RMSNorm(x.r, wh.r, 1e-6)}, 1e-6)
		w := q.vector(testrand.Floats(rng, c.headDim))
		qn := t2{q.fr.(ml.RMSNormRun).RMSNorm(x.f, w.f, 1e-6), q.rr.(ml.RMSNormRun).RMSNorm(x.r, w.r, 1e-6)}
		q.check("rms norm per head "+name, qn, 1e-6)

		// Causal grouped-query attention.
		kk := q.input(randScaled(rng, total*kd, 1/math.Sqrt(math.Sqrt(float64(c.headDim)))), total, kd)
		vv := q.input(testrand.Floats(rng, total*kd), total, kd)
		qq := q.input(randScaled(rng, total*qd, 2/math.Sqrt(math.Sqrt(float64(c.headDim)))), total, qd)
		q.check("causal attention "+name, t2{
			q.fr.(ml.CausalAttentionRun).CausalAttention(qq.f, kk.f, vv.f, c.heads, c.kvHeads, offsets),
			q.rr.(ml.CausalAttentionRun).CausalAttention(qq.r, kk.r, vv.r, c.heads, c.kvHeads, offsets)}, 1e-5)

		// SwiGLU.
		g := q.input(testrand.Floats(rng, total*qd), total, qd)
		u := q.input(testrand.Floats(rng, total*qd), total, qd)
		s := t2{q.fr.(ml.SwiGLURun).SwiGLU(g.f, u.f), q.rr.(ml.SwiGLURun).SwiGLU(g.r, u.r)}
		q.check("swiglu "+name, s, 1e-6)
	}
}

// Bad shapes are errors of the run, not panics.
func TestFastDecoderOpsRefuseBadShapes(t *testing.T) {
	for _, c := range []struct {
		what string
		op   func(r ml.Run, x, y ml.Tensor, w ml.Weight)
	}{
		{"rms norm", func(r ml.Run, x, _ ml.Tensor, w ml.Weight) { r.(ml.RMSNormRun).RMSNorm(x, w, 1e-6) }},
		{"attention", func(r ml.Run, x, y ml.Tensor, _ ml.Weight) {
			r.(ml.CausalAttentionRun).CausalAttention(x, y, y, 4, 2, []int32{0, int32(x.Rows())})
		}},
		{"swiglu", func(r ml.Run, x, y ml.Tensor, _ ml.Weight) { r.(ml.SwiGLURun).SwiGLU(x, y) }},
	} {
		for _, b := range []ml.Backend{Default(), reference.New()} {
			r, _ := b.NewRun(t.Context(), 3)
			tab, _ := b.Table("t", make([]float32, 3*6), 3, 6)
			tab2, _ := b.Table("u", make([]float32, 3*5), 3, 5)
			w, _ := b.Vector("w", make([]float32, 4))
			x := r.Gather(tab, []int32{0, 1, 2})
			y := r.Gather(tab2, []int32{0, 1, 2})
			c.op(r, x, y, w)
			if r.Err() == nil {
				t.Errorf("%s on %s: bad shapes accepted", c.what, b.Name())
			}
			r.Close()
		}
	}
}

// silu on exp32 against the float64 definition, over the whole range
// (exp32 takes no positive argument, so both signs go through it).
func TestSiLU(t *testing.T) {
	for _, x := range []float32{-200, -88, -30, -5, -1, -1e-3, 0, 1e-3, 0.5, 1, 7, 30, 88, 200} {
		want := float64(x) / (1 + math.Exp(-float64(x)))
		if d := math.Abs(float64(silu(x))-want) / max(1, math.Abs(want)); d > 1e-6 {
			t.Errorf("silu(%v) = %v, want %v", x, silu(x), want)
		}
	}
}

// TestAsmSwiGLU holds swiglu16 and swigluGo to the float64 definition
// silu(g)·u = g/(1+e^-g)·u on every length 1..67 (all tail masks), with
// gates from typical values to ±100, ±0, tiny and subnormal gates, gates
// where e^-|g| leaves float32's normal range (87..105) and huge finite ones.
//
// The bound, by analysis: both kernels compute e = e^-|g| with relative
// error at most E = 2.5e-7 (TestExp32's bound; the assembly exp is the same
// range reduction and polynomial with FMA), then s = 1 (g >= 0) or e
// (g < 0) and g·s·u/(1+e) with four float32 roundings of at most u = 2^-24
// each. 1+e carries E·e/(1+e) <= E/2 and e/(1+e) carries E/(1+e) <= E, so
// the relative error is at most E + 4u = 4.9e-7 (first order): 1e-6 holds.
// Where values leave the normal range the error is absolute instead: each
// rounding into the subnormals adds at most 2^-150 (4·2^-149 in all), and
// e itself is off by at most 2^-149 once subnormal (|g| in 87.3..104, so
// |g·u| times that is below 128·2^-149·|u|), or, past the clamp at -104
// (e = 0), the true value is below 104·e^-104·|u| < 50·2^-149·|u|. exp32
// returns 0 below -87.3 instead: the true value is then below
// 87.3·e^-87.3·|u| < 1.1e-36·|u|.
func TestAsmSwiGLU(t *testing.T) {
	rng := testrand.Fresh(t)
	const (
		rel  = 1e-6
		tiny = 1.401298464324817e-45 // 2^-149
	)
	slack := map[string]float64{"asm": 128 * tiny, "Go": 1.1e-36}
	gate := func() float32 {
		sign := float32(1 - 2*rng.IntN(2))
		switch rng.IntN(8) {
		case 0:
			return sign * float32(rng.Float64()*100) // to ±100
		case 1:
			return sign * 0
		case 2:
			return sign * float32(math.Pow(10, -30-15*rng.Float64())) // tiny, some subnormal
		case 3:
			return sign * float32(87+18*rng.Float64()) // e^-|g| subnormal or 0
		case 4:
			return sign * float32(math.Pow(10, 2+28*rng.Float64())) // huge, finite
		case 5:
			return sign * 100
		default:
			return float32(rng.NormFloat64() * 4)
		}
	}
	up := func() float32 {
		switch rng.IntN(6) {
		case 0:
			return float32(rng.NormFloat64() * 1e-38) // products in the subnormals
		case 1:
			return 0
		default:
			return float32(rng.NormFloat64() * 3)
		}
	}
	kernels := []struct {
		name string
		f    func(g, u []float32)
	}{{"Go", swigluGo}}
	if hasMM4 {
		kernels = append(kernels, struct {
			name string
			f    func(g, u []float32)
		}{"asm", swigluAsm})
	} else {
		t.Log("no AVX-512 here: swiglu16 not tested")
	}
	for n := 1; n <= 67; n++ {
		g, u := make([]float32, n+16), make([]float32, n)
		for i := range g {
			g[i] = gate()
		}
		for i := range u {
			u[i] = up()
		}
		u0 := append([]float32(nil), u...)
		for _, k := range kernels {
			x := append([]float32(nil), g...)
			k.f(x[:n], u)
			for i := n; i < len(x); i++ {
				if math.Float32bits(x[i]) != math.Float32bits(g[i]) {
					t.Fatalf("%s of %d floats wrote past them at %d", k.name, n, i)
				}
			}
			for i := range u {
				if math.Float32bits(u[i]) != math.Float32bits(u0[i]) {
					t.Fatalf("%s of %d floats changed up[%d]", k.name, n, i)
				}
			}
			for i := range n {
				gv, uv := float64(g[i]), float64(u[i])
				want := gv / (1 + math.Exp(-gv)) * uv
				got := float64(x[i])
				if d := math.Abs(got - want); !(d <= rel*math.Abs(want)+slack[k.name]*math.Abs(uv)+4*tiny) {
					t.Fatalf("%s of %d: [%d] silu(%v)·%v = %v, float64 %v", k.name, n, i, g[i], u[i], got, want)
				}
			}
		}
	}
}

// TestAsmRMSNorm holds rmsNorm16 and rmsNormRow to the float64 definition
// w·x/sqrt(mean(x²) + eps) on every length 1..67 (all tail masks) and the
// decoders' widths, rows scaled from 1e-30 to 1e18 (float32 squares would
// underflow or overflow at the ends) and a row of zeros.
//
// The bound, by analysis: the float64 sum of n <= 2048 squares is within
// (n+1)·2^-53 < 1e-12 relative of the exact one, the float64 mean, sqrt
// and reciprocal add a few 2^-53, then inv is rounded to float32 (2^-24)
// and x·inv and w·(x·inv) are two float32 roundings (2^-24 each): the
// relative error is at most 3·2^-24 + 1e-12 < 1.8e-7 (no cancellation
// anywhere). A product that falls into the subnormals is off by 2^-150
// instead, which the absolute slack covers.
func TestAsmRMSNorm(t *testing.T) {
	rng := testrand.Fresh(t)
	const (
		rel  = 1.8e-7
		tiny = 1.401298464324817e-45 // 2^-149
	)
	kernels := []struct {
		name string
		f    func(dst, x, w []float32, eps float32)
	}{{"Go", rmsNormRow}}
	if hasMM4 {
		kernels = append(kernels, struct {
			name string
			f    func(dst, x, w []float32, eps float32)
		}{"asm", rmsNormAsm})
	} else {
		t.Log("no AVX-512 here: rmsNorm16 not tested")
	}
	sizes := []int{128, 1024, 2048}
	for n := 1; n <= 67; n++ {
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		for row := range 4 {
			scale := math.Pow(10, -30+48*rng.Float64())
			if row == 0 {
				scale = 0
			}
			x := randScaled(rng, n, scale)
			w := testrand.Floats(rng, n)
			eps := []float32{1e-6, 1e-5}[rng.IntN(2)]
			var ss float64
			for _, v := range x {
				ss += float64(v) * float64(v)
			}
			inv := 1 / math.Sqrt(ss/float64(n)+float64(eps))
			for _, k := range kernels {
				got := make([]float32, n+16)
				guard := float32(rng.NormFloat64())
				for i := n; i < len(got); i++ {
					got[i] = guard
				}
				k.f(got[:n], x, w, eps)
				for i := n; i < len(got); i++ {
					if got[i] != guard {
						t.Fatalf("%s of %d floats wrote past them at %d", k.name, n, i)
					}
				}
				for i := range n {
					want := float64(w[i]) * float64(x[i]) * inv
					if d := math.Abs(float64(got[i]) - want); !(d <= rel*math.Abs(want)+2*tiny*max(1, math.Abs(float64(w[i])))) {
						t.Fatalf("%s of %d (scale %.3g): [%d] %v, float64 %v (error %.3g relative)", k.name, n, scale, i, got[i], want, d/math.Abs(want))
					}
				}
			}
		}
	}
}

// BenchmarkCausalHead times one (sequence, key-value head) pair of causal
// attention (its two query heads) on one thread at Qwen3-Reranker-0.6B's shape (16 query / 8 key-value
// heads of 128; a query and a short document make ~130 tokens) and reports
// the useful GFLOP/s: QKᵀ and PV over the keys each query sees,
// 2·hd·L(L+1) flops in all; fp32 (causalHead) against bf16 (causalHeadBF16,
// where the CPU has AVX512_BF16) in one process.
func BenchmarkCausalHead(b *testing.B) {
	const heads, kvHeads, hd = 16, 8, 128
	for _, L := range []int{32, 131, 512} {
		b.Run(fmt.Sprintf("L=%d", L), func(b *testing.B) {
			rng := testrand.Fresh(b)
			qd, kd := heads*hd, kvHeads*hd
			q, k, v := testrand.Floats(rng, L*qd), testrand.Floats(rng, L*kd), testrand.Floats(rng, L*kd)
			out := make([]float32, L*qd)
			const group = heads / kvHeads
			for _, bf := range []bool{false, true} {
				if bf && !hasDP4 {
					continue
				}
				b.Run(map[bool]string{false: "fp32", true: "bf16"}[bf], func(b *testing.B) {
					var sc attnScratch
					for i := range b.N {
						kvh := i % kvHeads
						if bf {
							causalHeadBF16(&sc, out, q, k, v, qd, kvh*group*hd, group, kd, kvh*hd, hd, 0, L, true)
						} else {
							causalHead(&sc, out, q, k, v, qd, kvh*group*hd, group, kd, kvh*hd, hd, 0, L, hasMM4)
						}
					}
					b.ReportMetric(float64(b.N)*group*2*hd*float64(L*(L+1))/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		})
	}
}
