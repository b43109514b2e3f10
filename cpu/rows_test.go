package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/crossrank/crossrank/internal/testrand"
	"github.com/crossrank/crossrank/ml"
)

// AttentionRows and RoPEAt against package reference's definitions on fresh
// random inputs: ragged lengths with 1-token sequences, BERT's heads
// (heads == kvHeads) and grouped-query ones.

func TestFastAttentionRowsMatchesReference(t *testing.T) {
	rng := testrand.Fresh(t)
	const u = 0x1p-24 // float32's unit roundoff
	for _, c := range []struct{ heads, kvHeads, headDim, longest int }{
		{12, 12, 32, 300}, {12, 12, 64, 300}, {4, 4, 8, 130}, {1, 1, 96, 300}, {3, 3, 16, 40},
		{16, 8, 128, 300}, {8, 1, 64, 200}, {14, 2, 64, 300}, {4, 2, 16, 1},
	} {
		lens := testrand.Lengths(rng, 1+rng.IntN(9), c.longest)
		offsets, total := offsetsOf(lens)
		seqs := len(lens)
		qd, kd := c.heads*c.headDim, c.kvHeads*c.headDim
		q := newOpPair(t, total)
		// Scores of a realistic size, as in TestFastAttentionMatchesReference.
		qv := randScaled(rng, seqs*qd, 2/math.Sqrt(math.Sqrt(float64(c.headDim))))
		kv := randScaled(rng, total*kd, 1/math.Sqrt(math.Sqrt(float64(c.headDim))))
		vv := testrand.Floats(rng, total*kd)
		qq, kk, v := q.input(qv, seqs, qd), q.input(kv, total, kd), q.input(vv, total, kd)

		// The bound, from the two computations' float32 rounding: a score
		// q·k/√d differs by at most 2·d·u·Σ|q_e k_e|/√d (both sum the
		// products in float32), which moves each weight p_j by a relative
		// 2 such differences (the shift by the row maximum is exact); exp
		// (a few ulp either side), the sum of L weights (γ_L each) and the
		// division add (L + 8)·u; and Σ p_j·v_j rounds within γ_L·max|v|
		// on each side. So |fast - reference| <= ((3L + 8)·u +
		// 4·S)·max|v| with S the largest score difference bound. A wrong
		// key, head or sequence moves the result by O(max|v|).
		scale := 1 / math.Sqrt(float64(c.headDim))
		sMax := 0.0
		for s := range seqs {
			for h := range c.heads {
				qi := qv[s*qd+h*c.headDim:][:c.headDim]
				kh := h / (c.heads / c.kvHeads)
				for j := offsets[s]; j < offsets[s+1]; j++ {
					kj := kv[int(j)*kd+kh*c.headDim:][:c.headDim]
					a := 0.0
					for e := range qi {
						a += math.Abs(float64(qi[e]) * float64(kj[e]))
					}
					sMax = max(sMax, 2*float64(c.headDim)*u*a*scale)
				}
			}
		}
		vMax := 0.0
		for _, x := range vv {
			vMax = max(vMax, math.Abs(float64(x)))
		}
		tol := (float64(3*c.longest+8)*u + 4*sMax) * vMax

		fa, ra := q.fr.(ml.AttentionRowsRun), q.rr.(ml.AttentionRowsRun)
		q.check(fmt.Sprintf("attention rows %d/%d heads x %d, lengths %v (bound %.2g)", c.heads, c.kvHeads, c.headDim, lens, tol),
			t2{fa.AttentionRows(qq.f, kk.f, v.f, c.heads, c.kvHeads, offsets), ra.AttentionRows(qq.r, kk.r, v.r, c.heads, c.kvHeads, offsets)}, tol)
	}
}

func TestFastRoPEAtMatchesReference(t *testing.T) {
	rng := testrand.Fresh(t)
	for _, c := range []struct {
		heads, headDim int
		theta          float64
	}{{12, 64, 160000}, {16, 128, 1e6}, {4, 8, 10000}, {2, 2, 1e6}} {
		lens := testrand.Lengths(rng, 1+rng.IntN(6), 1+rng.IntN(1200))
		offsets, total := offsetsOf(lens)
		dim := c.heads * c.headDim
		q := newOpPair(t, total)
		data := testrand.Floats(rng, total*dim)
		x := q.input(data, total, dim)
		// Each sequence's last row, rotated alone at its position, is
		// that row of RoPE over the whole batch, to the bit, on each
		// backend; and the two backends agree to the bit.
		last, pos := make([]int32, len(lens)), make([]int32, len(lens))
		for s := range lens {
			last[s], pos[s] = offsets[s+1]-1, int32(lens[s]-1)
		}
		y := t2{q.fr.Rows(x.f, last), q.rr.Rows(x.r, last)}
		q.fr.(ml.RoPEAtRun).RoPEAt(y.f, c.heads, c.theta, pos)
		q.rr.(ml.RoPEAtRun).RoPEAt(y.r, c.heads, c.theta, pos)
		name := fmt.Sprintf("rope at %d heads x %d, theta %v, lengths %v", c.heads, c.headDim, c.theta, lens)
		q.check(name, y, 0)
		q.fr.(ml.RoPERun).RoPE(x.f, c.heads, c.theta, offsets)
		want := q.fr.Read(q.fr.Rows(x.f, last))
		got := q.fr.Read(y.f)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: value %d: RoPEAt %v, RoPE %v", name, i, got[i], want[i])
			}
		}
	}
}
