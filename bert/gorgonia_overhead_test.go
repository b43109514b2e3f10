package bert

import (
	"github.com/crossrank/crossrank/ml"

	"context"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// These benchmarks keep visible what a Gorgonia graph would cost per batch
// (see the package comment for why the CPU backend calls tensor directly):
//
//	go test ./bert -run - -bench 'Gorgonia|Direct|MiniLM' -benchmem
//
// Compare GorgoniaGraphRun/tiny (pure machine overhead) and
// GorgoniaGraphRun/dense with DirectTensorDense (the same work as plain
// tensor calls), then with ForwardMiniLMShape: an all-MiniLM-L6-v2-sized
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
			gorgonia.WithValue(tensor.New(tensor.WithShape(rows, dim), tensor.WithBacking(randSlice(rng, rows*dim)))))
		w := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(dim, dim), gorgonia.WithName("w"),
			gorgonia.WithValue(tensor.New(tensor.WithShape(dim, dim), tensor.WithBacking(randSlice(rng, dim*dim)))))
		bias := gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(dim), gorgonia.WithName("b"),
			gorgonia.WithValue(tensor.New(tensor.WithShape(dim), tensor.WithBacking(randSlice(rng, dim)))))
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
	be := NewReferenceCPU()
	w, _ := be.Matrix("w", randSlice(rng, dim*dim), dim, dim)
	bias, _ := be.Vector("b", randSlice(rng, dim))
	x := newCPUTensor(rows, dim)
	copy(x.data(), randSlice(rng, rows*dim))
	b.ReportAllocs()
	for b.Loop() {
		r, _ := be.NewRun(context.Background(), rows)
		r.Activate(r.Linear(x, w, bias), ml.ActTanh)
		if err := r.Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkForwardMiniLMShape runs the whole forward pass on a random
// checkpoint shaped like all-MiniLM-L6-v2 / ms-marco-MiniLM-L-6-v2 (6
// layers, hidden 384, 12 heads, intermediate 1536; a small vocabulary,
// which does not change the cost).
func BenchmarkForwardMiniLMShape(b *testing.B) {
	cfg := testConfig(b, `{"architectures":["BertForSequenceClassification"],"vocab_size":1000,"hidden_size":384,
		"num_hidden_layers":6,"num_attention_heads":12,"intermediate_size":1536,"num_labels":1}`)
	m, err := newModel(context.Background(), cfg, randomCheckpoint(cfg, 3), NewCPU())
	if err != nil {
		b.Fatal(err)
	}
	for _, shape := range []struct {
		name       string
		seqs, toks int
	}{{"1x32", 1, 32}, {"4x64", 4, 64}} {
		b.Run(shape.name, func(b *testing.B) {
			lens := make([]int, shape.seqs)
			for i := range lens {
				lens[i] = shape.toks
			}
			seqs := randomSequences(rand.New(rand.NewPCG(4, 4)), cfg, lens...)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Forward(context.Background(), seqs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(shape.seqs*shape.toks), "us/token")
		})
	}
}
