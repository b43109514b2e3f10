package reference

import (
	"context"
	"math"
	"testing"

	"github.com/crossrank/crossrank/internal/testrand"
	"github.com/crossrank/crossrank/ml"
)

// AttentionRows runs Attention's and CausalAttention's loops in their order,
// so its row of a sequence equals theirs to the bit: Attention's at any row
// (heads == kvHeads), CausalAttention's at the sequence's last row.
func TestAttentionRowsIsAttentionAtOneRow(t *testing.T) {
	rng := testrand.Fresh(t)
	for _, c := range []struct{ heads, kvHeads, headDim int }{{4, 4, 8}, {6, 6, 16}, {8, 2, 16}, {4, 1, 32}} {
		lens := testrand.Lengths(rng, 1+rng.IntN(7), 1+rng.IntN(90))
		offsets := []int32{0}
		for _, n := range lens {
			offsets = append(offsets, offsets[len(offsets)-1]+int32(n))
		}
		total := int(offsets[len(offsets)-1])
		qd, kd := c.heads*c.headDim, c.kvHeads*c.headDim
		b := New()
		r, err := b.NewRun(context.Background(), total)
		if err != nil {
			t.Fatal(err)
		}
		input := func(rows, cols int) ml.Tensor {
			tab, _ := b.Table("t", testrand.Floats(rng, rows*cols), rows, cols)
			ids := make([]int32, rows)
			for i := range ids {
				ids[i] = int32(i)
			}
			return r.Gather(tab, ids)
		}
		q, k, v := input(total, qd), input(total, kd), input(total, kd)
		some, last := make([]int32, len(lens)), make([]int32, len(lens))
		for s, n := range lens {
			some[s], last[s] = offsets[s]+int32(rng.IntN(n)), offsets[s+1]-1
		}
		ar := r.(ml.AttentionRowsRun)
		pairs := [][2]ml.Tensor{{
			r.Rows(r.(ml.CausalAttentionRun).CausalAttention(q, k, v, c.heads, c.kvHeads, offsets), last),
			ar.AttentionRows(r.Rows(q, last), k, v, c.heads, c.kvHeads, offsets),
		}}
		if c.heads == c.kvHeads {
			pairs = append(pairs, [2]ml.Tensor{
				r.Rows(r.Attention(q, k, v, c.heads, offsets), some),
				ar.AttentionRows(r.Rows(q, some), k, v, c.heads, c.kvHeads, offsets),
			})
		}
		for i, p := range pairs {
			want, got := r.Read(p[0]), r.Read(p[1])
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			for j := range want {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Fatalf("%d/%d heads x %d, lengths %v, case %d: value %d = %v, want %v", c.heads, c.kvHeads, c.headDim, lens, i, j, got[j], want[j])
				}
			}
		}
		r.Close()
	}
}
