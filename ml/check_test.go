package ml

import "testing"

type shape struct{ r, c int }

func (s shape) Rows() int { return s.r }
func (s shape) Cols() int { return s.c }

// TestChecks holds each argument check to the words the backends used
// before the checks were shared (cpu and reference wrote them alike), and
// to nil on good arguments.
func TestChecks(t *testing.T) {
	x34, x24, x38 := shape{3, 4}, shape{2, 4}, shape{3, 8}
	off := []int32{0, 1, 3}
	for _, c := range []struct {
		got  error
		want string // "" for nil
	}{
		{CheckActivation(ActTanh), ""},
		{CheckActivation(ActNone), ""},
		{CheckActivation(-1), "unknown activation -1"},
		{CheckActivation(99), "unknown activation 99"},
		{CheckIDs("emb", 5, []int32{0, 4}), ""},
		{CheckIDs("emb", 5, []int32{0, 5}), `row 1 of "emb": id 5 outside [0, 5)`},
		{CheckIDs("emb", 5, []int32{-1}), `row 0 of "emb": id -1 outside [0, 5)`},
		{CheckAddGather(x34, "emb", 5, 4, []int32{0, 1, 2}), ""},
		{CheckAddGather(x34, "emb", 5, 6, []int32{0, 1, 2}), `add gather of 3 rows of "emb" (6 cols) into [3 4]`},
		{CheckAddGather(x34, "emb", 5, 4, []int32{0, 1}), `add gather of 2 rows of "emb" (4 cols) into [3 4]`},
		{CheckAddGather(x34, "emb", 5, 4, []int32{0, 1, 7}), `row 2 of "emb": id 7 outside [0, 5)`},
		{CheckLinear("dense", x34, 4), ""},
		{CheckLinear("dense", x34, 8), `linear "dense": input [3 4], weight wants 8 columns`},
		{CheckLayerNorm(x34, x34), ""},
		{CheckLayerNorm(x34, x24), "layer norm: residual [2 4], input [3 4]"},
		{CheckAttention(x34, x34, x34, 2, off), ""},
		{CheckAttention(x34, x24, x34, 2, off), "attention: q [3 4], k [2 4], v [3 4]"},
		{CheckAttention(x34, x34, x38, 2, off), "attention: q [3 4], k [3 4], v [3 8]"},
		{CheckAttention(x34, x34, x34, 3, off), "attention: 4 columns do not split into 3 heads"},
		{CheckAttention(x34, x34, x34, 0, off), "attention: 4 columns do not split into 0 heads"},
		{CheckAttention(x34, x34, x34, 2, []int32{0, 2}), "attention: offsets [0 2] do not span 3 tokens"},
		{CheckWindowAttention(x34, x34, x34, 2, off, 0), ""},
		{CheckWindowAttention(x34, x24, x34, 2, off, 1), "window attention: q [3 4], k [2 4], v [3 4]"},
		{CheckWindowAttention(x34, x34, x34, 3, off, 1), "window attention: 4 columns do not split into 3 heads"},
		{CheckWindowAttention(x34, x34, x34, 2, off, -1), "window attention: window -1"},
		{CheckWindowAttention(x34, x34, x34, 2, []int32{0, 3, 2}, 1), "window attention: offsets [0 3 2] do not span 3 tokens"},
		{CheckWindowAttention(x34, x34, x34, 2, []int32{0, 2, 1, 3}, 1), "window attention: offsets [0 2 1 3] go back at 2"},
		{CheckCausalAttention(x38, x34, x34, 4, 2, off), ""},
		{CheckCausalAttention(x38, x34, x34, 4, 3, off), "causal attention: 8 columns, 4 heads over 3 key-value heads"},
		{CheckCausalAttention(x38, x34, x34, 4, 0, off), "causal attention: 8 columns, 4 heads over 0 key-value heads"},
		{CheckCausalAttention(x38, x34, x34, 3, 3, off), "causal attention: 8 columns, 3 heads over 3 key-value heads"},
		{CheckCausalAttention(x38, x38, x34, 4, 2, off), "causal attention: q [3 8], k [3 8], v [3 4] for 2 key-value heads"},
		{CheckCausalAttention(x38, x34, x24, 4, 2, off), "causal attention: q [3 8], k [3 4], v [2 4] for 2 key-value heads"},
		{CheckCausalAttention(x38, x34, x34, 4, 2, []int32{1, 3}), "causal attention: offsets [1 3] do not span 3 tokens"},
		{CheckRoPE(x34, 2, 1e4, off), ""},
		{CheckRoPE(x34, 4, 1e4, off), "rope: 4 columns do not split into 4 heads of an even size"},
		{CheckRoPE(x34, 3, 1e4, off), "rope: 4 columns do not split into 3 heads of an even size"},
		{CheckRoPE(x34, 2, 0, off), "rope: theta 0"},
		{CheckRoPE(x34, 2, -1, off), "rope: theta -1"},
		{CheckRoPE(x34, 2, 1e4, []int32{0}), "rope: offsets [0] do not span 3 tokens"},
		{CheckRMSNorm(x38, 4), ""},
		{CheckRMSNorm(x38, 3), "rms norm: 8 columns are not groups of the weight's 3"},
		{CheckRMSNorm(x38, 0), "rms norm: 8 columns are not groups of the weight's 0"},
		{CheckSwiGLU(x34, x34), ""},
		{CheckSwiGLU(x34, x38), "swiglu: gate [3 4], up [3 8]"},
		{CheckAdd(x34, x34), ""},
		{CheckAdd(x34, x24), "add: [3 4] + [2 4]"},
		{CheckGLU(x34, ActGELU), ""},
		{CheckGLU(shape{3, 5}, ActGELU), "glu: 5 columns do not split in halves"},
		{CheckGLU(x34, 99), "glu: unknown activation 99"},
		{CheckMeanRows(x34, off), ""},
		{CheckMeanRows(x34, []int32{0, 0, 3}), "mean rows: sequence 0 is empty"},
		{CheckMeanRows(x34, []int32{0, 4}), "mean rows: offsets [0 4] do not span 3 tokens"},
		{CheckRows(x34, []int32{2, 0}), ""},
		{CheckRows(x34, []int32{0, 3}), "rows: index 3 outside [0, 3)"},
		{CheckRows(x34, []int32{-1}), "rows: index -1 outside [0, 3)"},
	} {
		switch {
		case c.want == "" && c.got != nil:
			t.Errorf("good arguments refused: %v", c.got)
		case c.want != "" && c.got == nil:
			t.Errorf("accepted, want %q", c.want)
		case c.want != "" && c.got.Error() != c.want:
			t.Errorf("error %q, want %q", c.got, c.want)
		}
	}
}
