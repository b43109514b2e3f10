package cpu

import (
	"context"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/reference"
)

// TestBackendsRefuseAlike makes the same bad call of every operation on this
// backend and on package reference and wants the same error from both, but
// for the backend's name in front ("cpu: ", "reference: "): the checks are
// ml's (check.go), so a backend that words or orders one differently, or
// skips one, fails here.
func TestBackendsRefuseAlike(t *testing.T) {
	type args struct {
		x, y, z ml.Tensor // [3 4], [3 4] and [2 4] activations
		w       ml.Weight // a [2 3] matrix
		v       ml.Weight // a 3-value vector
		tab     ml.Weight // the [5 4] table "t"
		odd     ml.Tensor // a [3 3] activation
	}
	for name, op := range map[string]func(r ml.Run, a args){
		"gather id":         func(r ml.Run, a args) { r.Gather(a.tab, []int32{0, 5}) },
		"add gather rows":   func(r ml.Run, a args) { r.AddGather(a.x, a.tab, []int32{0, 1}) },
		"add gather id":     func(r ml.Run, a args) { r.AddGather(a.x, a.tab, []int32{0, 1, -2}) },
		"linear width":      func(r ml.Run, a args) { r.Linear(a.x, a.w, nil) },
		"activation":        func(r ml.Run, a args) { r.Activate(a.x, ml.Activation(7)) },
		"layer norm":        func(r ml.Run, a args) { r.AddLayerNorm(a.x, a.z, a.v, a.v, 1e-5) },
		"attention shapes":  func(r ml.Run, a args) { r.Attention(a.x, a.z, a.x, 2, []int32{0, 3}) },
		"attention heads":   func(r ml.Run, a args) { r.Attention(a.x, a.y, a.x, 3, []int32{0, 3}) },
		"attention offsets": func(r ml.Run, a args) { r.Attention(a.x, a.y, a.x, 2, []int32{0, 2, 1, 3}) },
		"rows":              func(r ml.Run, a args) { r.Rows(a.x, []int32{1, 3}) },
		"window shapes":     func(r ml.Run, a args) { r.(ml.WindowAttentionRun).WindowAttention(a.x, a.z, a.x, 2, []int32{0, 3}, 1) },
		"window negative":   func(r ml.Run, a args) { r.(ml.WindowAttentionRun).WindowAttention(a.x, a.y, a.x, 2, []int32{0, 3}, -1) },
		"window offsets":    func(r ml.Run, a args) { r.(ml.WindowAttentionRun).WindowAttention(a.x, a.y, a.x, 2, []int32{0, 2}, 1) },
		"causal heads":      func(r ml.Run, a args) { r.(ml.CausalAttentionRun).CausalAttention(a.x, a.y, a.y, 4, 3, []int32{0, 3}) },
		"causal shapes":     func(r ml.Run, a args) { r.(ml.CausalAttentionRun).CausalAttention(a.x, a.z, a.y, 2, 1, []int32{0, 3}) },
		"causal offsets":    func(r ml.Run, a args) { r.(ml.CausalAttentionRun).CausalAttention(a.x, a.y, a.y, 2, 2, []int32{1, 3}) },
		"rope heads":        func(r ml.Run, a args) { r.(ml.RoPERun).RoPE(a.x, 4, 1e4, []int32{0, 3}) },
		"rope theta":        func(r ml.Run, a args) { r.(ml.RoPERun).RoPE(a.x, 2, -1, []int32{0, 3}) },
		"rope offsets":      func(r ml.Run, a args) { r.(ml.RoPERun).RoPE(a.x, 2, 1e4, []int32{0, 2}) },
		"rms norm":          func(r ml.Run, a args) { r.(ml.RMSNormRun).RMSNorm(a.x, a.v, 1e-6) },
		"swiglu":            func(r ml.Run, a args) { r.(ml.SwiGLURun).SwiGLU(a.x, a.z) },
		"add":               func(r ml.Run, a args) { r.(ml.AddRun).Add(a.x, a.z) },
		"glu halves":        func(r ml.Run, a args) { r.(ml.GLURun).GLU(a.odd, ml.ActGELU) },
		"glu activation":    func(r ml.Run, a args) { r.(ml.GLURun).GLU(a.x, ml.Activation(-1)) },
		"mean rows empty":   func(r ml.Run, a args) { r.(ml.MeanRowsRun).MeanRows(a.x, []int32{0, 3, 3}) },
		"mean rows offsets": func(r ml.Run, a args) { r.(ml.MeanRowsRun).MeanRows(a.x, []int32{0, 4}) },
		"layer norm gamma":  func(r ml.Run, a args) { r.AddLayerNorm(a.x, nil, a.v, a.v, 1e-5) },
		"attention rows heads": func(r ml.Run, a args) {
			r.(ml.AttentionRowsRun).AttentionRows(a.z, a.y, a.y, 4, 3, []int32{0, 1, 3})
		},
		"attention rows shapes": func(r ml.Run, a args) {
			r.(ml.AttentionRowsRun).AttentionRows(a.z, a.x, a.z, 2, 2, []int32{0, 1, 3})
		},
		"attention rows offsets": func(r ml.Run, a args) {
			r.(ml.AttentionRowsRun).AttentionRows(a.z, a.x, a.y, 2, 2, []int32{0, 2})
		},
		"attention rows empty": func(r ml.Run, a args) {
			r.(ml.AttentionRowsRun).AttentionRows(a.z, a.x, a.y, 2, 2, []int32{0, 3, 3})
		},
		"attention rows queries": func(r ml.Run, a args) {
			r.(ml.AttentionRowsRun).AttentionRows(a.x, a.x, a.y, 2, 2, []int32{0, 3})
		},
		"rope at count":    func(r ml.Run, a args) { r.(ml.RoPEAtRun).RoPEAt(a.x, 2, 1e4, []int32{0, 1}) },
		"rope at negative": func(r ml.Run, a args) { r.(ml.RoPEAtRun).RoPEAt(a.x, 2, 1e4, []int32{0, -1, 2}) },
		"rope at heads":    func(r ml.Run, a args) { r.(ml.RoPEAtRun).RoPEAt(a.x, 4, 1e4, []int32{0, 1, 2}) },
	} {
		var msgs [2]string
		for i, b := range []ml.Backend{Default(), reference.New()} {
			w, _ := b.Matrix("w", make([]float32, 6), 2, 3)
			v, _ := b.Vector("v", make([]float32, 3))
			tab, _ := b.Table("t", make([]float32, 20), 5, 4)
			tab3, _ := b.Table("u", make([]float32, 9), 3, 3)
			r, err := b.NewRun(context.Background(), 3)
			if err != nil {
				t.Fatal(err)
			}
			a := args{x: r.Gather(tab, []int32{0, 1, 2}), y: r.Gather(tab, []int32{2, 3, 4}), z: r.Gather(tab, []int32{0, 1}),
				odd: r.Gather(tab3, []int32{0, 1, 2}), w: w, v: v, tab: tab}
			if err := r.Err(); err != nil {
				t.Fatalf("%s: %v", b.Name(), err)
			}
			op(r, a)
			if r.Err() == nil {
				t.Errorf("%s on %s: no error", name, b.Name())
			} else {
				msgs[i] = r.Err().Error()
			}
			r.Close()
		}
		cpuMsg, ok1 := strings.CutPrefix(msgs[0], "cpu: ")
		refMsg, ok2 := strings.CutPrefix(msgs[1], "reference: ")
		if !ok1 || !ok2 || cpuMsg != refMsg {
			t.Errorf("%s: cpu %q, reference %q", name, msgs[0], msgs[1])
		}
		t.Logf("%s: %s", name, cpuMsg)
	}
}

// TestEveryActivationHasAKernel: ml.CheckActivation decides which
// activations the backends accept, so each accepted one must have an entry
// in this backend's tables (a gap would be an index panic or a nil call,
// not an error).
func TestEveryActivationHasAKernel(t *testing.T) {
	n := 0
	for act := ml.ActNone; ml.CheckActivation(act) == nil; act++ {
		if int(act) >= len(sliceActs) || sliceActs[act] == nil || int(act) >= len(actEpilogues) || (act != ml.ActNone && actEpilogues[act] == nil) {
			t.Errorf("activation %d is accepted but has no kernel", act)
		}
		n++
	}
	if n != len(sliceActs) {
		t.Errorf("%d activations accepted, %d kernels", n, len(sliceActs))
	}
}
