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
