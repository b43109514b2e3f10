package ml

import "fmt"

// The modules every architecture shares: torch.nn's, over the seam. Each
// is a Param, bound by its checkpoint name (Binder).

// Linear is torch.nn.Linear: y = x·Wᵀ + b, W stored [out, in]. Its dims tag
// is "out,in".
type Linear struct {
	Weight Weight // "weight", [out, in]
	Bias   Weight // "bias", [out]
}

// Forward applies the layer to every row of x.
func (l *Linear) Forward(r Run, x Tensor) Tensor { return r.Linear(x, l.Weight, l.Bias) }

// BindParam reads name.weight and name.bias.
func (l *Linear) BindParam(bd *Binder, name string, dims []int) error {
	if len(dims) != 2 {
		return fmt.Errorf("%s: a Linear needs dims \"out,in\"", name)
	}
	out, in := dims[0], dims[1]
	w, err := bd.Tensor(name+".weight", out, in)
	if err != nil {
		return err
	}
	b, err := bd.Tensor(name+".bias", out)
	if err != nil {
		return err
	}
	if l.Weight, err = bd.Backend.Matrix(name+".weight", w, out, in); err != nil {
		return err
	}
	if l.Bias, err = bd.Backend.Vector(name+".bias", b); err != nil {
		return err
	}
	bd.Release(name+".weight", name+".bias")
	return nil
}

// LayerNorm is torch.nn.LayerNorm over the last dimension. Its dims tag is
// the normalised size; Eps is the config's (Binder.Eps).
type LayerNorm struct {
	Weight Weight // "weight", [n]
	Bias   Weight // "bias", [n]
	Eps    float32
}

// Forward returns LayerNorm(x + residual); residual may be nil.
func (ln *LayerNorm) Forward(r Run, x, residual Tensor) Tensor {
	return r.AddLayerNorm(x, residual, ln.Weight, ln.Bias, ln.Eps)
}

// BindParam reads name.weight and name.bias.
func (ln *LayerNorm) BindParam(bd *Binder, name string, dims []int) error {
	if len(dims) != 1 {
		return fmt.Errorf("%s: a LayerNorm needs dims \"n\"", name)
	}
	g, err := bd.Tensor(name+".weight", dims[0])
	if err != nil {
		return err
	}
	b, err := bd.Tensor(name+".bias", dims[0])
	if err != nil {
		return err
	}
	if ln.Weight, err = bd.Backend.Vector(name+".weight", g); err != nil {
		return err
	}
	if ln.Bias, err = bd.Backend.Vector(name+".bias", b); err != nil {
		return err
	}
	bd.Release(name+".weight", name+".bias")
	ln.Eps = bd.Eps
	return nil
}

// Embedding is torch.nn.Embedding: a lookup table of [rows, cols].
type Embedding struct {
	Weight Weight // "weight", [rows, cols]
}

// BindParam reads name.weight, streamed block by block when the backend and
// the source allow it (TableBuilder).
func (e *Embedding) BindParam(bd *Binder, name string, dims []int) error {
	if len(dims) != 2 {
		return fmt.Errorf("%s: an Embedding needs dims \"rows,cols\"", name)
	}
	w, err := bd.table(name+".weight", dims)
	if err != nil {
		return err
	}
	e.Weight = w
	return nil
}
