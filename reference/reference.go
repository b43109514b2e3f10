// Package reference is the reference backend: the ml seam as plain loops
// over gorgonia.org/tensor, with Linear on tensor's MatMul (gonum's pure-Go
// sgemm, about 4% of this kind of machine's FP32 peak). It is slow on
// purpose: each operation is written for clarity, as the definition of what
// the Hugging Face module computes, and it is the oracle the fast backends
// (packages cpu and cuda) are tested against. Users choose it with
// `--backend reference` (crossrank score, rerank, bench) or
// rerank.Options.Backend = reference.New(), to check a surprising score
// against the plain definition of the forward pass.
//
// It uses tensor as its tensor engine but not Gorgonia's expression graphs:
// a graph per batch would cost about 40 us plus 0.75 us per op and allocate
// every intermediate, the batch shape changes with every request, and
// variable-length attention over packed sequences has no Gorgonia op.
// Calling tensor directly behind the seam keeps each operation one function
// call; BenchmarkGorgoniaGraphRun keeps the graph overhead visible for the
// comparison.
package reference

import (
	"context"
	"fmt"
	"math"

	"github.com/crossrank/crossrank/ml"
	"gorgonia.org/tensor"
)

// New returns the reference backend: gonum's sgemm and plain
// loops. See the package comment for what it is for.
func New() ml.Backend { return cpuBackend{} }

type cpuBackend struct{}

func (cpuBackend) Name() string { return "reference" }
func (cpuBackend) Close() error { return nil }

// cpuMatrix is a torch.nn.Linear weight, kept as Wᵀ ([in, out]) so that
// Linear is a plain x·Wᵀ MatMul with no transposition per run.
type cpuMatrix struct {
	name    string
	wT      *tensor.Dense
	out, in int
}

type cpuTable struct {
	name       string
	data       []float32
	rows, cols int
}

func (cpuBackend) Matrix(name string, data []float32, out, in int) (ml.Weight, error) {
	if out <= 0 || in <= 0 || len(data) != out*in {
		return nil, fmt.Errorf("reference: matrix %q: %d values for [%d %d]", name, len(data), out, in)
	}
	wT := make([]float32, len(data))
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			wT[i*out+o] = data[o*in+i]
		}
	}
	return &cpuMatrix{name: name, wT: tensor.New(tensor.WithShape(in, out), tensor.WithBacking(wT)), out: out, in: in}, nil
}

func (cpuBackend) Vector(name string, data []float32) (ml.Weight, error) {
	v, err := ml.NewHostVector(name, data)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	return v, nil
}

func (cpuBackend) Table(name string, data []float32, rows, cols int) (ml.Weight, error) {
	if rows <= 0 || cols <= 0 || len(data) != rows*cols {
		return nil, fmt.Errorf("reference: table %q: %d values for [%d %d]", name, len(data), rows, cols)
	}
	return &cpuTable{name: name, data: append([]float32(nil), data...), rows: rows, cols: cols}, nil
}

func (cpuBackend) NewRun(ctx context.Context, tokens int) (ml.Run, error) {
	if tokens <= 0 {
		return nil, fmt.Errorf("reference: run of %d tokens", tokens)
	}
	return &cpuRun{ctx: ctx}, nil
}

// cpuTensor is a row-major rows x cols activation matrix.
type cpuTensor struct {
	d          *tensor.Dense
	rows, cols int
}

func (t *cpuTensor) Rows() int { return t.rows }
func (t *cpuTensor) Cols() int { return t.cols }

// data is the tensor's backing slice (nil for the empty tensor that
// operations return after an error).
func (t *cpuTensor) data() []float32 {
	if t.d == nil {
		return nil
	}
	return t.d.Data().([]float32)
}

func newCPUTensor(rows, cols int) *cpuTensor {
	return &cpuTensor{d: tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(make([]float32, rows*cols))), rows: rows, cols: cols}
}

// cpuRun allocates fresh buffers per operation; the Go garbage collector
// frees them after Close drops the run.
type cpuRun struct {
	ctx context.Context
	err error
}

// dead is what an operation returns after an error: a 0 x 0 tensor, so
// that the model code can go on calling operations (no-ops now) and check
// Err once.
var dead = &cpuTensor{}

// ok reports whether the run may go on: no earlier error and the context
// not cancelled. Every operation starts with it, so a cancelled request
// stops within one operation.
func (r *cpuRun) ok() bool {
	if r.err != nil {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return false
	}
	return true
}

func (r *cpuRun) fail(format string, args ...any) *cpuTensor {
	if r.err == nil {
		r.err = fmt.Errorf("reference: "+format, args...)
	}
	return dead
}

func (r *cpuRun) Err() error { return r.err }
func (r *cpuRun) Close()     {}

// tensor, matrix, vector and table unwrap the interface values, recording
// an error for a value that belongs to another backend.
func (r *cpuRun) tensor(x ml.Tensor) *cpuTensor {
	t, ok := x.(*cpuTensor)
	if !ok || t == nil || t.d == nil {
		r.fail("got a %T activation, want one made by this run", x)
		return nil
	}
	return t
}

func (r *cpuRun) matrix(w ml.Weight) *cpuMatrix { return own[*cpuMatrix](r, w, "matrix") }
func (r *cpuRun) table(w ml.Weight) *cpuTable   { return own[*cpuTable](r, w, "table") }

// own is ml.Own, the error recorded in the run.
func own[P comparable](r *cpuRun, w ml.Weight, what string) P {
	p, err := ml.Own[P](w, what)
	if err != nil {
		r.fail("%v", err)
	}
	return p
}

func (r *cpuRun) vector(w ml.Weight, n int) []float32 {
	v, err := ml.HostValues(w, n)
	if err != nil {
		r.fail("%v", err)
	}
	return v
}

func (r *cpuRun) Gather(table ml.Weight, ids []int32) ml.Tensor {
	if !r.ok() {
		return dead
	}
	t := r.table(table)
	if t == nil {
		return dead
	}
	if err := ml.CheckIDs(t.name, t.rows, ids); err != nil {
		return r.fail("%v", err)
	}
	out := newCPUTensor(len(ids), t.cols)
	addRows(out.data(), t, ids)
	return out
}

func (r *cpuRun) AddGather(x ml.Tensor, table ml.Weight, ids []int32) {
	if !r.ok() {
		return
	}
	xt, t := r.tensor(x), r.table(table)
	if xt == nil || t == nil {
		return
	}
	if err := ml.CheckAddGather(xt, t.name, t.rows, t.cols, ids); err != nil {
		r.fail("%v", err)
		return
	}
	addRows(xt.data(), t, ids)
}

// addRows adds row ids[i] of t to row i of dst; the ids are checked.
func addRows(dst []float32, t *cpuTable, ids []int32) {
	for i, id := range ids {
		src := t.data[int(id)*t.cols : (int(id)+1)*t.cols]
		row := dst[i*t.cols : (i+1)*t.cols]
		for j, v := range src {
			row[j] += v
		}
	}
}

func (r *cpuRun) Linear(x ml.Tensor, w, b ml.Weight) ml.Tensor {
	if !r.ok() {
		return dead
	}
	xt, m := r.tensor(x), r.matrix(w)
	if xt == nil || m == nil {
		return dead
	}
	if err := ml.CheckLinear(m.name, xt, m.in); err != nil {
		return r.fail("%v", err)
	}
	var bias []float32
	if b != nil {
		if bias = r.vector(b, m.out); bias == nil {
			return dead
		}
	}
	prod, err := tensor.MatMul(xt.d, m.wT)
	if err != nil {
		return r.fail("linear %q: %v", m.name, err)
	}
	out := &cpuTensor{d: prod.(*tensor.Dense), rows: xt.rows, cols: m.out}
	if bias != nil {
		y := out.data()
		for i := 0; i < out.rows; i++ {
			row := y[i*m.out : (i+1)*m.out]
			for j := range row {
				row[j] += bias[j]
			}
		}
	}
	return out
}

func (r *cpuRun) Activate(x ml.Tensor, act ml.Activation) {
	if !r.ok() {
		return
	}
	xt := r.tensor(x)
	if xt == nil {
		return
	}
	if err := ml.CheckActivation(act); err != nil {
		r.fail("%v", err)
		return
	}
	f := activationFunc(act)
	y := xt.data()
	for i, v := range y {
		y[i] = f(v)
	}
}

// activationFunc returns the scalar function of act, nil for an unknown
// one. The formulas are torch's: nn.functional.gelu (erf), gelu with
// approximate="tanh" (transformers' NewGELUActivation is the same formula),
// relu, tanh.
func activationFunc(act ml.Activation) func(float32) float32 {
	switch act {
	case ml.ActNone:
		return func(x float32) float32 { return x }
	case ml.ActGELU:
		return gelu
	case ml.ActGELUNew:
		return geluTanh
	case ml.ActReLU:
		return func(x float32) float32 { return max(x, 0) }
	case ml.ActTanh:
		return func(x float32) float32 { return float32(math.Tanh(float64(x))) }
	}
	return nil
}

// gelu is the exact GELU, x·Φ(x) = 0.5·x·(1 + erf(x/√2)).
func gelu(x float32) float32 {
	v := float64(x)
	return float32(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
}

// geluTanh is the tanh approximation of GELU (gelu_new, gelu_pytorch_tanh):
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func geluTanh(x float32) float32 {
	v := float64(x)
	return float32(0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))))
}

func (r *cpuRun) AddLayerNorm(x, residual ml.Tensor, gamma, beta ml.Weight, eps float32) ml.Tensor {
	if !r.ok() {
		return dead
	}
	xt := r.tensor(x)
	if xt == nil {
		return dead
	}
	var res []float32
	if residual != nil {
		rt := r.tensor(residual)
		if rt == nil {
			return dead
		}
		if err := ml.CheckLayerNorm(xt, rt); err != nil {
			return r.fail("%v", err)
		}
		res = rt.data()
	}
	g, b := r.vector(gamma, xt.cols), r.vector(beta, xt.cols)
	if g == nil || b == nil {
		return dead
	}
	out := newCPUTensor(xt.rows, xt.cols)
	in, y := xt.data(), out.data()
	n := xt.cols
	row := make([]float32, n)
	for i := 0; i < xt.rows; i++ {
		copy(row, in[i*n:(i+1)*n])
		if res != nil {
			for j := range row {
				row[j] += res[i*n+j]
			}
		}
		layerNorm(y[i*n:(i+1)*n], row, g, b, eps)
	}
	return out
}

// layerNorm writes (x - mean) / sqrt(var + eps) * gamma + beta to dst, with
// the biased variance, as torch.nn.LayerNorm does. Sums are in float64 so
// that the reference is no less precise than torch's.
func layerNorm(dst, x, gamma, beta []float32, eps float32) {
	var sum float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / float64(len(x))
	var sq float64
	for _, v := range x {
		d := float64(v) - mean
		sq += d * d
	}
	inv := 1 / math.Sqrt(sq/float64(len(x))+float64(eps))
	for j, v := range x {
		dst[j] = float32((float64(v)-mean)*inv)*gamma[j] + beta[j]
	}
}

func (r *cpuRun) Attention(q, k, v ml.Tensor, heads int, offsets []int32) ml.Tensor {
	if !r.ok() {
		return dead
	}
	qt, kt, vt := r.tensor(q), r.tensor(k), r.tensor(v)
	if qt == nil || kt == nil || vt == nil {
		return dead
	}
	if err := ml.CheckAttention(qt, kt, vt, heads, offsets); err != nil {
		return r.fail("%v", err)
	}
	out := newCPUTensor(qt.rows, qt.cols)
	attention(out.data(), qt.data(), kt.data(), vt.data(), qt.cols, heads, offsets)
	return out
}

// attention is the reference kernel of Run.Attention: for each sequence,
// each head and each query token, softmax(q·kᵀ/√headDim) over the keys of
// the same sequence, then the weighted sum of their values. It is the
// padded computation of modeling_bert.py's eager_attention_forward with the
// padding keys left out instead of masked by a large negative number: their
// softmax weight there is exactly zero, so the results agree.
func attention(out, q, k, v []float32, dim, heads int, offsets []int32) {
	headDim := dim / heads
	scale := float32(1 / math.Sqrt(float64(headDim)))
	var scores []float32
	for s := 0; s+1 < len(offsets); s++ {
		start, end := int(offsets[s]), int(offsets[s+1])
		for h := 0; h < heads; h++ {
			col := h * headDim
			for i := start; i < end; i++ {
				scores = attendRow(out[i*dim+col:i*dim+col+headDim], q[i*dim+col:i*dim+col+headDim], k, v, dim, col, start, end, scale, scores)
			}
		}
	}
}

// attendRow is one query's attention, the loops every reference attention
// shares (Attention, CausalAttention, AttentionRows): oi += softmax over
// keys j in [start, end) of qi·k_j·scale, times v_j, where k_j and v_j are
// headDim floats at column col of row j (rows ld floats apart). scores is
// scratch, returned for reuse.
func attendRow(oi, qi, k, v []float32, ld, col, start, end int, scale float32, scores []float32) []float32 {
	hd := len(qi)
	scores = scores[:0]
	maxScore := float32(math.Inf(-1))
	for j := start; j < end; j++ {
		kj := k[j*ld+col : j*ld+col+hd]
		var dot float32
		for d := range qi {
			dot += qi[d] * kj[d]
		}
		scores = append(scores, dot*scale)
		maxScore = max(maxScore, dot*scale)
	}
	// Subtracting the largest score keeps exp from overflowing and does
	// not change the softmax.
	var sum float32
	for j := range scores {
		scores[j] = float32(math.Exp(float64(scores[j] - maxScore)))
		sum += scores[j]
	}
	for j := start; j < end; j++ {
		p := scores[j-start] / sum
		vj := v[j*ld+col : j*ld+col+hd]
		for d := range oi {
			oi[d] += p * vj[d]
		}
	}
	return scores
}

func (r *cpuRun) Rows(x ml.Tensor, idx []int32) ml.Tensor {
	if !r.ok() {
		return dead
	}
	xt := r.tensor(x)
	if xt == nil {
		return dead
	}
	if err := ml.CheckRows(xt, idx); err != nil {
		return r.fail("%v", err)
	}
	out := newCPUTensor(len(idx), xt.cols)
	in, y := xt.data(), out.data()
	for i, row := range idx {
		copy(y[i*xt.cols:(i+1)*xt.cols], in[int(row)*xt.cols:(int(row)+1)*xt.cols])
	}
	return out
}

func (r *cpuRun) Read(x ml.Tensor) []float32 {
	if r.err != nil {
		return nil
	}
	xt := r.tensor(x)
	if xt == nil {
		return nil
	}
	return append([]float32(nil), xt.data()...)
}
