package cpu

import "github.com/crossrank/crossrank/ml"

// Row-wise operations of the encoders after BERT: the residual add, gated
// linear units and mean pooling (ml.AddRun, ml.GLURun, ml.MeanRowsRun).

// rowsFuncTask runs f over parts of rows rows, per rows a part.
type rowsFuncTask struct {
	rows, per int
	f         func(r0, r1 int)
}

func (t *rowsFuncTask) runPart(_, part int) {
	r0 := part * t.per
	t.f(r0, min(r0+t.per, t.rows))
}

// parallelFunc runs f over the rows of a rows x cols pass in parts of at
// least rowsPerPart floats, on the run's helpers.
func (r *fastRun) parallelFunc(rows, cols int, f func(r0, r1 int)) {
	per := max(1, rowsPerPart/max(cols, 1))
	t := &rowsFuncTask{rows: rows, per: per, f: f}
	r.parallel(t, (rows+per-1)/per)
}

// Add is ml.AddRun: x += y.
func (r *fastRun) Add(x, y ml.Tensor) {
	if !r.ok() {
		return
	}
	xt, yt := r.tensor(x), r.tensor(y)
	if xt == nil || yt == nil {
		return
	}
	if err := ml.CheckAdd(xt, yt); err != nil {
		r.fail("%v", err)
		return
	}
	n := xt.cols
	r.parallelFunc(xt.rows, n, func(r0, r1 int) {
		addSlice(xt.data[r0*n:r1*n], yt.data[r0*n:r1*n])
	})
}

// addSlice is a[i] += b[i], on AVX-512 (add16) where it runs.
func addSlice(a, b []float32) {
	if hasMM4 {
		addAsm(a, b)
		return
	}
	addSliceGo(a, b)
}

// addSliceGo is addSlice in Go: the fallback, and the oracle of add16.
func addSliceGo(a, b []float32) {
	b = b[:len(a)]
	for i := range a {
		a[i] += b[i]
	}
}

// GLU is ml.GLURun: act(x[:, :n]) * x[:, n:], the activation by the same
// slice kernels as Activate; GELU and the product in one pass (geglu16)
// where it runs.
func (r *fastRun) GLU(x ml.Tensor, act ml.Activation) ml.Tensor {
	if !r.ok() {
		return fastDead
	}
	xt := r.tensor(x)
	if xt == nil {
		return fastDead
	}
	if err := ml.CheckGLU(xt, act); err != nil {
		return r.fail("%v", err)
	}
	n := xt.cols / 2
	out := r.newTensor(xt.rows, n)
	if act == ml.ActGELU && hasMM4 {
		r.parallelFunc(xt.rows, xt.cols, func(r0, r1 int) {
			for i := r0; i < r1; i++ {
				row := xt.data[i*2*n : (i+1)*2*n]
				gegluAsm(out.data[i*n:(i+1)*n], row[:n], row[n:])
			}
		})
		return out
	}
	f := sliceActs[act]
	r.parallelFunc(xt.rows, xt.cols, func(r0, r1 int) {
		for i := r0; i < r1; i++ {
			y := out.data[i*n : (i+1)*n]
			copy(y, xt.data[i*2*n:i*2*n+n])
			f(y)
			for j, g := range xt.data[i*2*n+n : (i+1)*2*n] {
				y[j] *= g
			}
		}
	})
	return out
}

// MeanRows is ml.MeanRowsRun: each sequence's rows summed in order, then
// divided by their count (the reference's order, so the two agree to the
// bit).
func (r *fastRun) MeanRows(x ml.Tensor, offsets []int32) ml.Tensor {
	if !r.ok() {
		return fastDead
	}
	xt := r.tensor(x)
	if xt == nil {
		return fastDead
	}
	if err := ml.CheckMeanRows(xt, offsets); err != nil {
		return r.fail("%v", err)
	}
	n := xt.cols
	out := r.newTensor(len(offsets)-1, n)
	for s := 0; s+1 < len(offsets); s++ {
		start, end := int(offsets[s]), int(offsets[s+1])
		row := out.data[s*n : (s+1)*n]
		copy(row, xt.data[start*n:(start+1)*n])
		for t := start + 1; t < end; t++ {
			for j, v := range xt.data[t*n : (t+1)*n] {
				row[j] += v
			}
		}
		c := float32(end - start)
		for j := range row {
			row[j] /= c
		}
	}
	return out
}
