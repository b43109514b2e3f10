package ml

import "fmt"

// Modules whose bias is optional: torch.nn.Linear(bias=False) and
// torch.nn.LayerNorm(bias=False), as ModernBERT (norm_bias, attention_bias,
// mlp_bias) and Qwen3 (attention_bias) configure them. The constructor sets
// HasBias from config.json before binding; the checkpoint then has the bias
// tensor exactly when HasBias is true.

// OptLinear is torch.nn.Linear with or without a bias. Its dims tag is
// "out,in".
type OptLinear struct {
	Weight  Weight // "weight", [out, in]
	Bias    Weight // "bias", [out]; nil without HasBias
	HasBias bool
}

// Forward applies the layer to every row of x.
func (l *OptLinear) Forward(r Run, x Tensor) Tensor { return r.Linear(x, l.Weight, l.Bias) }

// BindParam reads name.weight, and name.bias when HasBias.
func (l *OptLinear) BindParam(bd *Binder, name string, dims []int) error {
	if len(dims) != 2 {
		return fmt.Errorf("%s: a Linear needs dims \"out,in\"", name)
	}
	out, in := dims[0], dims[1]
	w, err := bd.Tensor(name+".weight", out, in)
	if err != nil {
		return err
	}
	if l.Weight, err = bd.Backend.Matrix(name+".weight", w, out, in); err != nil {
		return err
	}
	bd.Release(name + ".weight")
	if !l.HasBias {
		l.Bias = nil
		return nil
	}
	b, err := bd.Tensor(name+".bias", out)
	if err != nil {
		return err
	}
	if l.Bias, err = bd.Backend.Vector(name+".bias", b); err != nil {
		return err
	}
	bd.Release(name + ".bias")
	return nil
}

// OptLayerNorm is torch.nn.LayerNorm with or without a bias. Without one,
// the bias is a vector of zeros, so that Run.AddLayerNorm computes
// (x - mean)/sqrt(var + eps)·gamma + 0: the same float32 values as no bias.
// Its dims tag is the normalised size; Eps is the config's (Binder.Eps).
type OptLayerNorm struct {
	Weight  Weight // "weight", [n]
	Bias    Weight // "bias", [n], or zeros without HasBias
	Eps     float32
	HasBias bool
}

// Forward returns LayerNorm(x + residual); residual may be nil.
func (ln *OptLayerNorm) Forward(r Run, x, residual Tensor) Tensor {
	return r.AddLayerNorm(x, residual, ln.Weight, ln.Bias, ln.Eps)
}

// BindParam reads name.weight, and name.bias when HasBias.
func (ln *OptLayerNorm) BindParam(bd *Binder, name string, dims []int) error {
	if len(dims) != 1 {
		return fmt.Errorf("%s: a LayerNorm needs dims \"n\"", name)
	}
	g, err := bd.Tensor(name+".weight", dims[0])
	if err != nil {
		return err
	}
	if ln.Weight, err = bd.Backend.Vector(name+".weight", g); err != nil {
		return err
	}
	bd.Release(name + ".weight")
	b := make([]float32, dims[0])
	if ln.HasBias {
		if b, err = bd.Tensor(name+".bias", dims[0]); err != nil {
			return err
		}
	}
	if ln.Bias, err = bd.Backend.Vector(name+".bias", b); err != nil {
		return err
	}
	if ln.HasBias {
		bd.Release(name + ".bias")
	}
	ln.Eps = bd.Eps
	return nil
}
