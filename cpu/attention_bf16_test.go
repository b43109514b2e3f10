package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/crossrank/crossrank/internal/gemm"
	"github.com/crossrank/crossrank/internal/testrand"
	"github.com/crossrank/crossrank/ml"
)

const (
	u32 = 1.0 / (1 << 24) // float32's unit roundoff
	u16 = 1.0 / (1 << 8)  // bf16's (round to nearest: 8 significand bits)
	// tiny32 bounds what one flushed denormal (bf16 rounding, VDPBF16PS's
	// DAZ/FTZ) can lose: below float32's smallest normal.
	tiny32 = 0x1p-126
)

// The dp4 kernel against float64 sums of the same bf16 values. Each product
// of two bf16 values is exact in float32, so the only error is the fp32
// accumulation of 2k terms: |c - ref| <= γ(2k)·Σ|a·b| (γ(n) = n·u/(1-n·u)),
// plus 2k·tiny32 for products flushed as denormals. A kernel that paired
// the wrong halves, or the wrong rows or columns, is off by about Σ|a·b|.
func TestDP4MatchesFloat64(t *testing.T) {
	rng := testrand.Fresh(t)
	kernels := map[string]func(int, []uint32, int, []uint32, int, []float32, int, int){"go": dp4Go}
	if hasDP4 {
		kernels["asm"] = dp4asm
	}
	for name, dp4 := range kernels {
		for _, c := range []struct{ k, w int }{{1, 32}, {3, 64}, {16, 96}, {64, 128}, {77, 32}, {8, 16}, {5, 112}} {
			lda, ldb, ldc := c.k+rng.IntN(3), c.w+16*rng.IntN(2), c.w+rng.IntN(5)
			a := randPairs(rng, 4*lda)
			b := randPairs(rng, c.k*ldb)
			cc := make([]float32, 3*ldc+c.w)
			dp4(c.k, a, lda, b, ldb, cc, ldc, c.w)
			n := float64(2 * c.k)
			gamma := n * u32 / (1 - n*u32)
			for r := 0; r < 4; r++ {
				for j := 0; j < c.w; j++ {
					var ref, abs float64
					for p := 0; p < c.k; p++ {
						x, y := a[r*lda+p], b[p*ldb+j]
						lo := float64(gemm.FromBF16(uint16(x))) * float64(gemm.FromBF16(uint16(y)))
						hi := float64(gemm.FromBF16(uint16(x>>16))) * float64(gemm.FromBF16(uint16(y>>16)))
						ref += lo + hi
						abs += math.Abs(lo) + math.Abs(hi)
					}
					if d := math.Abs(float64(cc[r*ldc+j]) - ref); d > gamma*abs+n*tiny32 {
						t.Fatalf("%s k=%d w=%d: c[%d][%d] = %g, want %g (bound %.3g)", name, c.k, c.w, r, j, cc[r*ldc+j], ref, gamma*abs)
					}
				}
			}
		}
	}
}

// randPairs is n pairs of random bf16 values (normal, so never denormal
// products in practice; the bounds allow for them anyway).
func randPairs(rng *rand.Rand, n int) []uint32 {
	f := testrand.Floats(rng, 2*n)
	out := make([]uint32, n)
	pairsGo(out, f)
	return out
}

// pairs32 against pairsGo, bit for bit, and against the rounding itself
// (half an ulp: at most u16 relative).
func TestPairsRoundToNearestEven(t *testing.T) {
	rng := testrand.Fresh(t)
	src := testrand.Floats(rng, 32*5+7)
	src = append(src, 0, float32(math.Copysign(0, -1)), 1+1.0/256, 1+3.0/256, float32(math.Inf(1)), 1e-40)
	want := make([]uint32, (len(src)+1)/2)
	pairsGo(want, src)
	if hasDP4 {
		got := make([]uint32, len(want))
		pairsAsm(got, src)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("pair %d: asm %08x, go %08x", i, got[i], want[i])
			}
		}
	} else {
		t.Log("no AVX512_BF16 on this CPU (or purego): pairs32 does not run; pairsGo's rounding is checked alone")
	}
	for i, x := range src {
		h := uint16(want[i/2] >> (16 * (i % 2)))
		r := gemm.FromBF16(h)
		if d := math.Abs(float64(r) - float64(x)); d > u16*math.Abs(float64(x)) && !math.IsInf(float64(x), 0) && math.Abs(float64(x)) > 1e-38 {
			t.Fatalf("%g rounded to %g", x, r)
		}
	}
	// Ties go to even: 1+2^-8 is halfway between 1 and 1+2^-7.
	if h := uint16(bf16Bits(1 + 1.0/256)); h != 0x3f80 {
		t.Errorf("1+2^-8 rounded to %04x, want 3f80", h)
	}
	if h := uint16(bf16Bits(1 + 3.0/256)); h != 0x3f82 {
		t.Errorf("1+3·2^-8 rounded to %04x, want 3f82", h)
	}
}

// causalBF16Check compares out (causal grouped-query attention of q, k, v
// computed with bf16 products) with the float64 attention of the fp32
// inputs, within the bound of bf16 rounding: q and k rounded (relative u16
// each) move each scaled score z_j by at most
//
//	e_j = scale·Σ_d|q_d·k_jd|·((1+u16)²-1 + hd·u32·(1+u16)²)
//
// (the last term the fp32 sum of hd exact products), so each probability
// by a factor within exp(±2E), E = max e_j over the keys the query sees;
// the fp32 softmax adds a relative ρ = (2·max|z| + n + 8)·u32 (the
// arguments' rounding, exp32 under one ulp, the sum of n terms, the
// division); P and V rounded to bf16 add u16 each, the fp32 sum of 2n exact
// products γ(2n). So
//
//	|o - ref| <= Σ_j p_j·|v_jd| · (exp(2E)·(1+ρ)·(1+u16)²·(1+γ(2n)) - 1) + 4n·tiny32·max|v|
func causalBF16Check(t *testing.T, what string, out, q, k, v []float32, heads, kvHeads, hd int, offsets []int32) {
	t.Helper()
	qd, kd, group := heads*hd, kvHeads*hd, heads/kvHeads
	scale := 1 / math.Sqrt(float64(hd))
	worst := 0.0
	for s := 0; s+1 < len(offsets); s++ {
		start, end := int(offsets[s]), int(offsets[s+1])
		for h := 0; h < heads; h++ {
			kc := (h / group) * hd
			for i := start; i < end; i++ {
				n := i - start + 1
				z := make([]float64, n)
				e, zmax, m := 0.0, 0.0, math.Inf(-1)
				for j := range n {
					var dot, abs float64
					for d := range hd {
						x := float64(q[i*qd+h*hd+d]) * float64(k[(start+j)*kd+kc+d])
						dot += x
						abs += math.Abs(x)
					}
					z[j] = dot * scale
					e = max(e, scale*abs*((1+u16)*(1+u16)-1+float64(hd)*u32*(1+u16)*(1+u16)))
					zmax = max(zmax, math.Abs(z[j]))
					m = max(m, z[j])
				}
				var sum float64
				for j := range z {
					z[j] = math.Exp(z[j] - m)
					sum += z[j]
				}
				rho := (2*zmax + float64(n) + 8) * u32
				g2n := 2 * float64(n) * u32 / (1 - 2*float64(n)*u32)
				factor := math.Exp(2*e)*(1+rho)*(1+u16)*(1+u16)*(1+g2n) - 1
				for d := range hd {
					var ref, abs, vmax float64
					for j := range n {
						x := float64(v[(start+j)*kd+kc+d])
						ref += z[j] / sum * x
						abs += z[j] / sum * math.Abs(x)
						vmax = max(vmax, math.Abs(x))
					}
					got := float64(out[i*qd+h*hd+d])
					bound := abs*factor + 4*float64(n)*tiny32*vmax
					if diff := math.Abs(got - ref); !(diff <= bound) {
						t.Fatalf("%s: sequence %d head %d token %d column %d: %g, want %g ± %.3g", what, s, h, i-start, d, got, ref, bound)
					}
					worst = max(worst, math.Abs(got-ref)/max(bound, 1e-30))
				}
			}
		}
	}
	t.Logf("%s: largest error %.2f of its bound", what, worst)
}

func TestCausalHeadBF16MatchesFloat64(t *testing.T) {
	rng := testrand.Fresh(t)
	paths := []bool{false}
	if hasDP4 {
		paths = append(paths, true)
	}
	for _, useAsm := range paths {
		for _, c := range []struct{ heads, kvHeads, hd, longest int }{
			{16, 8, 128, 300}, {4, 2, 32, 70}, {8, 1, 64, 100}, {2, 2, 32, 40}, {4, 2, 16, 60}, {3, 1, 48, 40},
		} {
			lens := testrand.Lengths(rng, 1+rng.IntN(4), 1+rng.IntN(c.longest))
			offsets, total := offsetsOf(lens)
			qd, kd := c.heads*c.hd, c.kvHeads*c.hd
			q := randScaled(rng, total*qd, 2/math.Sqrt(math.Sqrt(float64(c.hd))))
			k := randScaled(rng, total*kd, 1/math.Sqrt(math.Sqrt(float64(c.hd))))
			v := testrand.Floats(rng, total*kd)
			out := make([]float32, total*qd)
			var sc attnScratch
			group := c.heads / c.kvHeads
			for s := range lens {
				start, L := int(offsets[s]), lens[s]
				for kvh := range c.kvHeads {
					causalHeadBF16(&sc, out, q, k, v, qd, kvh*group*c.hd, group, kd, kvh*c.hd, c.hd, start, L, useAsm)
				}
			}
			causalBF16Check(t, fmt.Sprintf("asm %v, %d/%d heads x %d, lengths %v", useAsm, c.heads, c.kvHeads, c.hd, lens), out, q, k, v, c.heads, c.kvHeads, c.hd, offsets)
		}
	}
}

// A bf16 backend on a CPU with AVX512_BF16 runs causal attention in bf16
// (its result is not the fp32 backend's) within the bf16 bound; the fp32
// backend keeps the fp32 kernels (TestFastDecoderOpsMatchReference).
func TestBF16BackendCausalAttention(t *testing.T) {
	if !hasDP4 {
		t.Skip("no AVX512_BF16 on this CPU: a bf16 backend keeps fp32 attention")
	}
	rng := testrand.Fresh(t)
	const heads, kvHeads, hd = 16, 8, 128
	lens := []int{1 + rng.IntN(200), 33, 7}
	offsets, total := offsetsOf(lens)
	qd, kd := heads*hd, kvHeads*hd
	q := randScaled(rng, total*qd, 2/math.Sqrt(math.Sqrt(hd)))
	k := randScaled(rng, total*kd, 1/math.Sqrt(math.Sqrt(hd)))
	v := testrand.Floats(rng, total*kd)
	run := func(b ml.Backend) []float32 {
		r, err := b.NewRun(t.Context(), total)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		ids := make([]int32, total)
		for i := range ids {
			ids[i] = int32(i)
		}
		in := func(x []float32, cols int) ml.Tensor {
			tab, err := b.Table("t", x, total, cols)
			if err != nil {
				t.Fatal(err)
			}
			return r.Gather(tab, ids)
		}
		o := r.(ml.CausalAttentionRun).CausalAttention(in(q, qd), in(k, kd), in(v, kd), heads, kvHeads, offsets)
		got := r.Read(o)
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	bf, err := New(Options{Precision: "bf16"})
	if err != nil {
		t.Fatal(err)
	}
	got, fp := run(bf), run(Default())
	same := true
	for i := range got {
		same = same && got[i] == fp[i]
	}
	if same {
		t.Fatal("the bf16 backend's causal attention is the fp32 one's, bit for bit")
	}
	causalBF16Check(t, fmt.Sprintf("bf16 backend, lengths %v", lens), got, q, k, v, heads, kvHeads, hd, offsets)
}

// vpairs16 against vpairsGo, bit for bit: a permutation that paired the
// wrong words fails here.
func TestVPairsInterleave(t *testing.T) {
	if !hasDP4 {
		t.Skip("no AVX512_BF16 on this CPU (or purego): vpairs16 does not run")
	}
	rng := testrand.Fresh(t)
	for _, n := range []int{16, 32, 128} {
		r0, r1 := testrand.Floats(rng, n), testrand.Floats(rng, n)
		want, got := make([]uint32, n), make([]uint32, n)
		vpairsGo(want, r0, r1)
		vpairsAsm(got, r0, r1)
		for d := range want {
			if got[d] != want[d] || uint16(want[d]) != uint16(bf16Bits(r0[d])) {
				t.Fatalf("n=%d: pair %d: asm %08x, go %08x", n, d, got[d], want[d])
			}
		}
	}
}
