package reference

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/crossrank/crossrank/internal/testrand"
	"github.com/crossrank/crossrank/ml"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// These benchmarks keep visible what a Gorgonia graph would cost per batch
// (see the package comment for why the CPU backend calls tensor directly):
//
//	go test ./reference -run - -bench 'Gorgonia|Direct' -benchmem
//
// Compare GorgoniaGraphRun/tiny (pure machine overhead) and
// GorgoniaGraphRun/dense with DirectTensorDense (the same work as plain
// tensor calls), then with package bert's ForwardMiniLMShape: an all-MiniLM-L6-v2-sized
// forward pass would run about 6*16 such ops.

func BenchmarkGorgoniaGraphRun(b *testing.B) {
	b.Run("tiny", func(b *testing.B) {
		g := gorgonia.NewGraph()
		x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 2), gorgonia.WithName("x"),
			gorgonia.WithValue(tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, 2, 3, 4}))))
		y := gorgonia.Must(gorgonia.Add(x, x))
		gorgonia.Must(gorgonia.Tanh(y))
		runTape(b, g)
	})
	b.Run("dense", func(b *testing.B) {
		rows, dim := 32, 384
		rng := rand.New(rand.NewPCG(1, 1))
		g := gorgonia.NewGraph()
		x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(rows, dim), gorgonia.WithName("x"),
			gorgonia.WithValue(tensor.New(tensor.WithShape(rows, dim), tensor.WithBacking(testrand.Floats(rng, rows*dim)))))
		w := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(dim, dim), gorgonia.WithName("w"),
			gorgonia.WithValue(tensor.New(tensor.WithShape(dim, dim), tensor.WithBacking(testrand.Floats(rng, dim*dim)))))
		bias := gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(dim), gorgonia.WithName("b"),
			gorgonia.WithValue(tensor.New(tensor.WithShape(dim), tensor.WithBacking(testrand.Floats(rng, dim)))))
		xw := gorgonia.Must(gorgonia.Mul(x, w))
		xwb := gorgonia.Must(gorgonia.BroadcastAdd(xw, bias, nil, []byte{0}))
		gorgonia.Must(gorgonia.Tanh(xwb))
		runTape(b, g)
	})
}

func runTape(b *testing.B, g *gorgonia.ExprGraph) {
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := m.RunAll(); err != nil {
			b.Fatal(err)
		}
		m.Reset()
	}
}

// BenchmarkDirectTensorDense is GorgoniaGraphRun/dense through the CPU
// backend's Run (tensor.MatMul, bias and tanh loops), with no graph.
func BenchmarkDirectTensorDense(b *testing.B) {
	rows, dim := 32, 384
	rng := rand.New(rand.NewPCG(1, 1))
	be := New()
	w, _ := be.Matrix("w", testrand.Floats(rng, dim*dim), dim, dim)
	bias, _ := be.Vector("b", testrand.Floats(rng, dim))
	x := newCPUTensor(rows, dim)
	copy(x.data(), testrand.Floats(rng, rows*dim))
	b.ReportAllocs()
	for b.Loop() {
		r, _ := be.NewRun(context.Background(), rows)
		r.Activate(r.Linear(x, w, bias), ml.ActTanh)
		if err := r.Err(); err != nil {
			b.Fatal(err)
		}
	}
}
