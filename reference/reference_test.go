package reference

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/crossrank/crossrank/internal/testrand"
	"github.com/crossrank/crossrank/ml"
)

// Values below were computed with torch 2.15.0 (float32):
// torch.nn.functional.gelu(x), gelu(x, approximate="tanh"), and a
// torch.nn.LayerNorm(4, eps=1e-12) with the weights shown.
var activationCases = []struct {
	x, gelu, geluTanh float32
}{
	{-3, -0.00405022502, -0.00363743305},
	{-1.5, -0.10021086, -0.100428432},
	{-0.5, -0.154268771, -0.154285997},
	{0, 0, 0},
	{0.25, 0.149676576, 0.149675354},
	{1, 0.841344714, 0.841192007},
	{2.5, 2.48447585, 2.48491573},
}

func TestActivationsMatchTorch(t *testing.T) {
	for _, c := range activationCases {
		if got := gelu(c.x); !close32(got, c.gelu, 1e-6) {
			t.Errorf("gelu(%v) = %v, torch %v", c.x, got, c.gelu)
		}
		if got := geluTanh(c.x); !close32(got, c.geluTanh, 1e-6) {
			t.Errorf("geluTanh(%v) = %v, torch %v", c.x, got, c.geluTanh)
		}
	}
	if f := activationFunc(ml.ActReLU); f(-2) != 0 || f(3) != 3 {
		t.Errorf("relu(-2), relu(3) = %v, %v", f(-2), f(3))
	}
	if activationFunc(ml.Activation(99)) != nil {
		t.Error("activationFunc(99) is not nil")
	}
}

func TestLayerNormMatchesTorch(t *testing.T) {
	got := make([]float32, 4)
	layerNorm(got, []float32{1, 2, 4, -1}, []float32{1, 0.5, -2, 1.5}, []float32{0.1, 0, 0.2, -0.3}, 1e-12)
	want := []float32{-0.177350104, 0.138675049, -2.57350087, -2.38012576}
	for i := range want {
		if !close32(got[i], want[i], 1e-6) {
			t.Fatalf("layerNorm = %v, torch %v", got, want)
		}
	}
}

// TestLinearMatchesPlainLoop checks the gonum MatMul path (with the weight
// transposed at load) against the definition x·Wᵀ + b, on fresh random data.
func TestLinearMatchesPlainLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][3]int{{1, 5, 3}, {7, 16, 9}, {33, 64, 48}} {
		rows, in, out := sz[0], sz[1], sz[2]
		x, w, b := testrand.Floats(rng, rows*in), testrand.Floats(rng, out*in), testrand.Floats(rng, out)
		be := New()
		mw, err := be.Matrix("w", w, out, in)
		if err != nil {
			t.Fatal(err)
		}
		vb, _ := be.Vector("b", b)
		r, _ := be.NewRun(context.Background(), rows)
		xt := newCPUTensor(rows, in)
		copy(xt.data(), x)
		got := r.Read(r.Linear(xt, mw, vb))
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < rows; i++ {
			for o := 0; o < out; o++ {
				var want float64
				for k := 0; k < in; k++ {
					want += float64(x[i*in+k]) * float64(w[o*in+k])
				}
				want += float64(b[o])
				if d := math.Abs(float64(got[i*out+o]) - want); d > 1e-4 {
					t.Fatalf("%v: y[%d][%d] = %v, want %v", sz, i, o, got[i*out+o], want)
				}
			}
		}
	}
}

// TestAttentionPackedEqualsAlone checks the packing contract of
// Run.Attention: a sequence's output rows are the same whether it is alone
// or packed with others, and tokens never see another sequence.
func TestAttentionPackedEqualsAlone(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const dim, heads = 12, 3
	lens := []int{5, 1, 9, 3}
	var offsets []int32
	total := 0
	for _, n := range lens {
		offsets = append(offsets, int32(total))
		total += n
	}
	offsets = append(offsets, int32(total))
	q, k, v := testrand.Floats(rng, total*dim), testrand.Floats(rng, total*dim), testrand.Floats(rng, total*dim)
	packed := make([]float32, total*dim)
	attention(packed, q, k, v, dim, heads, offsets)
	for s, n := range lens {
		lo, hi := int(offsets[s])*dim, int(offsets[s+1])*dim
		alone := make([]float32, n*dim)
		attention(alone, q[lo:hi], k[lo:hi], v[lo:hi], dim, heads, []int32{0, int32(n)})
		for i := range alone {
			if alone[i] != packed[lo+i] {
				t.Fatalf("sequence %d: element %d packed %v, alone %v", s, i, packed[lo+i], alone[i])
			}
		}
	}
	// A one-token sequence attends only to itself: its output is its value.
	one := offsets[1] * dim
	for d := int32(0); d < dim; d++ {
		if !close32(packed[one+d], v[one+d], 1e-6) {
			t.Fatalf("one-token sequence: out %v, value %v", packed[one:one+dim], v[one:one+dim])
		}
	}
}

// TestAttentionMatchesDefinition compares the kernel with softmax(QKᵀ/√d)V
// written out in float64 for one sequence and one head at a time.
func TestAttentionMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n, dim, heads = 6, 8, 2
	hd := dim / heads
	q, k, v := testrand.Floats(rng, n*dim), testrand.Floats(rng, n*dim), testrand.Floats(rng, n*dim)
	got := make([]float32, n*dim)
	attention(got, q, k, v, dim, heads, []int32{0, n})
	for h := 0; h < heads; h++ {
		for i := 0; i < n; i++ {
			w := make([]float64, n)
			var sum float64
			for j := 0; j < n; j++ {
				var dot float64
				for d := 0; d < hd; d++ {
					dot += float64(q[i*dim+h*hd+d]) * float64(k[j*dim+h*hd+d])
				}
				w[j] = math.Exp(dot / math.Sqrt(float64(hd)))
				sum += w[j]
			}
			for d := 0; d < hd; d++ {
				var want float64
				for j := 0; j < n; j++ {
					want += w[j] / sum * float64(v[j*dim+h*hd+d])
				}
				if g := got[i*dim+h*hd+d]; math.Abs(float64(g)-want) > 1e-5 {
					t.Fatalf("head %d token %d dim %d: %v, want %v", h, i, d, g, want)
				}
			}
		}
	}
}

func TestRunErrorsAreSticky(t *testing.T) {
	be := New()
	w, _ := be.Matrix("w", make([]float32, 6), 2, 3)
	r, _ := be.NewRun(context.Background(), 2)
	x := newCPUTensor(2, 4) // 4 columns, the weight wants 3
	y := r.Linear(x, w, nil)
	if r.Err() == nil {
		t.Fatal("Linear with the wrong width: no error")
	}
	first := r.Err()
	r.Activate(y, ml.ActGELU)
	r.Rows(y, []int32{5})
	if r.Err() != first {
		t.Errorf("error changed from %v to %v", first, r.Err())
	}
	if got := r.Read(y); got != nil {
		t.Errorf("Read after an error = %v, want nil", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	r2, _ := be.NewRun(ctx, 2)
	cancel()
	r2.Linear(newCPUTensor(2, 3), w, nil)
	if r2.Err() != context.Canceled {
		t.Errorf("cancelled run: Err() = %v, want context.Canceled", r2.Err())
	}

	tab, _ := be.Table("t", make([]float32, 6), 3, 2)
	r3, _ := be.NewRun(context.Background(), 1)
	r3.Gather(tab, []int32{3})
	if r3.Err() == nil {
		t.Error("Gather of row 3 of a 3-row table: no error")
	}
}

func close32(a, b float32, tol float64) bool {
	return math.Abs(float64(a)-float64(b)) <= tol
}
