package reference

import "github.com/crossrank/crossrank/ml"

// Add is ml.AddRun: x += y.
func (r *cpuRun) Add(x, y ml.Tensor) {
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
	a, b := xt.data(), yt.data()
	for i := range a {
		a[i] += b[i]
	}
}

// GLU is ml.GLURun: act(x[:, :n]) * x[:, n:].
func (r *cpuRun) GLU(x ml.Tensor, act ml.Activation) ml.Tensor {
	if !r.ok() {
		return dead
	}
	xt := r.tensor(x)
	if xt == nil {
		return dead
	}
	if err := ml.CheckGLU(xt, act); err != nil {
		return r.fail("%v", err)
	}
	f := activationFunc(act)
	n := xt.cols / 2
	out := newCPUTensor(xt.rows, n)
	in, y := xt.data(), out.data()
	for i := 0; i < xt.rows; i++ {
		input, gate := in[i*2*n:i*2*n+n], in[i*2*n+n:(i+1)*2*n]
		for j := range n {
			y[i*n+j] = f(input[j]) * gate[j]
		}
	}
	return out
}

// MeanRows is ml.MeanRowsRun: each sequence's rows summed in order, then
// divided by their count, as (x * mask).sum(1) / mask.sum(1) does.
func (r *cpuRun) MeanRows(x ml.Tensor, offsets []int32) ml.Tensor {
	if !r.ok() {
		return dead
	}
	xt := r.tensor(x)
	if xt == nil {
		return dead
	}
	if err := ml.CheckMeanRows(xt, offsets); err != nil {
		return r.fail("%v", err)
	}
	n := xt.cols
	out := newCPUTensor(len(offsets)-1, n)
	in, y := xt.data(), out.data()
	for s := 0; s+1 < len(offsets); s++ {
		start, end := int(offsets[s]), int(offsets[s+1])
		row := y[s*n : (s+1)*n]
		for t := start; t < end; t++ {
			for j, v := range in[t*n : (t+1)*n] {
				row[j] += v
			}
		}
		for j := range row {
			row[j] /= float32(end - start)
		}
	}
	return out
}
