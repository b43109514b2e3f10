package modernbert

import (
	"fmt"

	"github.com/crossrank/crossrank/ml"
)

// The modules of ModernBertForSequenceClassification, one Go type per
// Hugging Face module, each with the weights it binds (package ml's
// binder, by the checkpoint's names) and a Forward that calls only the
// backend's Run operations. Links are to transformers v5.24.0, the version
// the golden files were made with:
//
//	https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/modernbert/modeling_modernbert.py
//
// Dropout is the identity at inference and does not appear.

// Embeddings is ModernBertEmbeddings (#L49): the token embeddings, then
// their norm. No position embeddings: positions enter through the rotary
// embeddings of every attention layer.
type Embeddings struct {
	TokEmbeddings ml.Embedding    `hf:"tok_embeddings" dims:"vocab,hidden"`
	Norm          ml.OptLayerNorm `hf:"norm" dims:"hidden"`
}

func (e *Embeddings) Forward(r ml.Run, ids []int32) ml.Tensor {
	x := r.Gather(e.TokEmbeddings.Weight, ids)
	y := e.Norm.Forward(r, x, nil)
	ml.Release(r, x)
	return y
}

// QKV is ModernBertAttention's Wqkv, one Linear [3·hidden, hidden] whose
// output is viewed as [tokens, 3, heads, head_dim]: rows 0..hidden-1 of the
// weight make the queries, the next hidden rows the keys, the last the
// values. It is prepared at load as three matrices, so that the forward
// pass gets q, k and v as tensors of their own. Its dims tag is "hidden".
type QKV struct {
	Q, K, V ml.OptLinear
	HasBias bool // attention_bias
}

// BindParam reads name.weight (and name.bias) and cuts them in three.
func (p *QKV) BindParam(bd *ml.Binder, name string, dims []int) error {
	if len(dims) != 1 {
		return fmt.Errorf("%s: Wqkv needs dims \"hidden\"", name)
	}
	h := dims[0]
	w, err := bd.Tensor(name+".weight", 3*h, h)
	if err != nil {
		return err
	}
	var b []float32
	if p.HasBias {
		if b, err = bd.Tensor(name+".bias", 3*h); err != nil {
			return err
		}
	}
	for i, l := range []*ml.OptLinear{&p.Q, &p.K, &p.V} {
		part := name + ".weight[" + "qkv"[i:i+1] + "]"
		if l.Weight, err = bd.Backend.Matrix(part, w[i*h*h:(i+1)*h*h], h, h); err != nil {
			return err
		}
		l.HasBias, l.Bias = p.HasBias, nil
		if p.HasBias {
			if l.Bias, err = bd.Backend.Vector(name+".bias["+"qkv"[i:i+1]+"]", b[i*h:(i+1)*h]); err != nil {
				return err
			}
		}
	}
	bd.Release(name + ".weight")
	if p.HasBias {
		bd.Release(name + ".bias")
	}
	return nil
}

// Attention is ModernBertAttention (#L200) with eager_attention_forward
// (#L150): Wqkv, rotary embeddings with the layer type's base, scaled
// dot-product attention over the token's own sequence (global layers) or
// over the tokens within Window positions of it (local layers), then Wo.
// This is the one place attention happens; the backend holds the maths.
type Attention struct {
	Wqkv QKV          `hf:"Wqkv" dims:"hidden"`
	Wo   ml.OptLinear `hf:"Wo" dims:"hidden,hidden"`

	Heads  int
	Theta  float64 // global_rope_theta or local_rope_theta
	Window int     // local layers: local_attention/2; -1 on global layers
}

func (a *Attention) Forward(r ml.Run, x ml.Tensor, offsets []int32) ml.Tensor {
	q := a.Wqkv.Q.Forward(r, x)
	k := a.Wqkv.K.Forward(r, x)
	v := a.Wqkv.V.Forward(r, x)
	rope := r.(ml.RoPERun) // checked at load (New)
	rope.RoPE(q, a.Heads, a.Theta, offsets)
	rope.RoPE(k, a.Heads, a.Theta, offsets)
	var ctx ml.Tensor
	if a.Window >= 0 {
		ctx = r.(ml.WindowAttentionRun).WindowAttention(q, k, v, a.Heads, offsets, a.Window)
	} else {
		ctx = r.Attention(q, k, v, a.Heads, offsets)
	}
	ml.Release(r, q, k, v)
	y := a.Wo.Forward(r, ctx)
	ml.Release(r, ctx)
	return y
}

// ForwardRows is Forward, on a global layer, at the rows xr of x alone
// (one per sequence, at positions in their sequences): their queries,
// rotated at those positions, against the keys and values of every token.
func (a *Attention) ForwardRows(r ml.Run, pr pruner, x, xr ml.Tensor, offsets, positions []int32) ml.Tensor {
	q := a.Wqkv.Q.Forward(r, xr)
	k := a.Wqkv.K.Forward(r, x)
	v := a.Wqkv.V.Forward(r, x)
	pr.RoPEAt(q, a.Heads, a.Theta, positions)
	r.(ml.RoPERun).RoPE(k, a.Heads, a.Theta, offsets) // checked at load (New)
	ctx := pr.AttentionRows(q, k, v, a.Heads, a.Heads, offsets)
	ml.Release(r, q, k, v)
	y := a.Wo.Forward(r, ctx)
	ml.Release(r, ctx)
	return y
}

// pruner is a run that can compute a last layer on the head's rows alone.
type pruner interface {
	ml.AttentionRowsRun
	ml.RoPEAtRun
}

// MLP is ModernBertMLP (#L71): Wi makes an input and a gate half, then
// Wo(act(input) * gate): GeGLU with hidden_activation gelu.
type MLP struct {
	Wi ml.OptLinear `hf:"Wi" dims:"intermediate2,hidden"`
	Wo ml.OptLinear `hf:"Wo" dims:"hidden,intermediate"`

	Act ml.Activation // hidden_activation
}

func (m *MLP) Forward(r ml.Run, x ml.Tensor) ml.Tensor {
	h := m.Wi.Forward(r, x)
	g := r.(ml.GLURun).GLU(h, m.Act)
	ml.Release(r, h)
	y := m.Wo.Forward(r, g)
	ml.Release(r, g)
	return y
}

// AttnNorm is ModernBertEncoderLayer's attn_norm: a LayerNorm, except on
// layer 0, where it is nn.Identity (the embeddings' norm has just run) and
// binds nothing.
type AttnNorm struct {
	ml.OptLayerNorm
	Identity bool
}

func (n *AttnNorm) BindParam(bd *ml.Binder, name string, dims []int) error {
	if n.Identity {
		return nil
	}
	return n.OptLayerNorm.BindParam(bd, name, dims)
}

// Forward returns the normalised x, or x itself on layer 0.
func (n *AttnNorm) Forward(r ml.Run, x ml.Tensor) ml.Tensor {
	if n.Identity {
		return x
	}
	return n.OptLayerNorm.Forward(r, x, nil)
}

// EncoderLayer is ModernBertEncoderLayer (#L296): pre-norm attention and
// MLP, each added to the residual stream.
type EncoderLayer struct {
	AttnNorm AttnNorm        `hf:"attn_norm" dims:"hidden"`
	Attn     Attention       `hf:"attn"`
	MLPNorm  ml.OptLayerNorm `hf:"mlp_norm" dims:"hidden"`
	MLP      MLP             `hf:"mlp"`
}

// Forward returns the layer's output; x is released.
func (l *EncoderLayer) Forward(r ml.Run, x ml.Tensor, offsets []int32) ml.Tensor {
	add := r.(ml.AddRun)
	h := l.AttnNorm.Forward(r, x)
	a := l.Attn.Forward(r, h, offsets)
	if h != x {
		ml.Release(r, h)
	}
	add.Add(a, x) // hidden_states + attn_output
	ml.Release(r, x)
	return l.addMLP(r, add, a)
}

// addMLP is the layer's second half, shared by Forward and ForwardRows:
// a + mlp(mlp_norm(a)), a new tensor; a is released.
func (l *EncoderLayer) addMLP(r ml.Run, add ml.AddRun, a ml.Tensor) ml.Tensor {
	n := l.MLPNorm.Forward(r, a, nil)
	m := l.MLP.Forward(r, n)
	ml.Release(r, n)
	add.Add(m, a)
	ml.Release(r, a)
	return m
}

// ForwardRows is Forward's output at rows alone (one per sequence, rows[s]
// in sequence s, at positions[s] in it) on a global layer: every token's
// keys and values, and for those rows only the queries, attention, Wo and
// the MLP. Each kept row's value is the same function of the same inputs
// as in Forward. x is released.
func (l *EncoderLayer) ForwardRows(r ml.Run, pr pruner, x ml.Tensor, offsets, rows, positions []int32) ml.Tensor {
	add := r.(ml.AddRun)
	h := l.AttnNorm.Forward(r, x)
	hr, xr := r.Rows(h, rows), r.Rows(x, rows)
	a := l.Attn.ForwardRows(r, pr, h, hr, offsets, positions)
	if h != x {
		ml.Release(r, h)
	}
	ml.Release(r, hr, x)
	add.Add(a, xr) // hidden_states + attn_output
	ml.Release(r, xr)
	return l.addMLP(r, add, a)
}

// ModernBertModel is ModernBertModel (#L398): embeddings, the layers,
// final_norm.
type ModernBertModel struct {
	Embeddings Embeddings      `hf:"embeddings"`
	Layers     []EncoderLayer  `hf:"layers"`
	FinalNorm  ml.OptLayerNorm `hf:"final_norm" dims:"hidden"`

	// fullLastLayer, when set (tests only), runs the whole last layer
	// even where the backend could compute only the rows the head reads.
	fullLastLayer bool
}

// Forward returns the final norm's output. observe, when not nil, sees the
// embeddings' output (0) and each layer's (i), the last one after the final
// norm, as transformers' output_hidden_states returns them.
//
// rows, when not nil, are the only rows the caller reads, one per sequence
// (rows[s] in sequence s: "cls" pooling's first tokens), and Forward
// returns those rows alone. Where the last layer is global and the run has
// AttentionRowsRun and RoPEAtRun that layer computes only them
// (EncoderLayer.ForwardRows: about 3.5% of gte-reranker-modernbert-base's
// work is its other rows); a local last layer, or a backend without them,
// runs whole and the rows are taken after. observe sees every row of every
// layer, so it runs the whole last layer too: the hidden-state tests check
// the full path, the logit goldens the pruned one.
func (m *ModernBertModel) Forward(r ml.Run, ids []int32, offsets, rows []int32, observe func(layer int, x ml.Tensor)) ml.Tensor {
	x := m.Embeddings.Forward(r, ids)
	if observe != nil {
		observe(0, x)
	}
	pr, prune := r.(pruner)
	n := len(m.Layers)
	prune = prune && rows != nil && observe == nil && n > 0 && m.Layers[n-1].Attn.Window < 0 && !m.fullLastLayer
	for i := range m.Layers {
		if prune && i == n-1 {
			positions := make([]int32, len(rows))
			for s, row := range rows {
				positions[s] = row - offsets[s]
			}
			x = m.Layers[i].ForwardRows(r, pr, x, offsets, rows, positions)
		} else {
			x = m.Layers[i].Forward(r, x, offsets)
		}
		if r.Err() != nil {
			break // a cancelled context or a backend failure: stop here
		}
		if i == len(m.Layers)-1 {
			y := m.FinalNorm.Forward(r, x, nil)
			ml.Release(r, x)
			x = y
		}
		if observe != nil {
			observe(i+1, x)
		}
	}
	if rows != nil && !prune {
		y := r.Rows(x, rows)
		ml.Release(r, x)
		x = y
	}
	return x
}

// PredictionHead is ModernBertPredictionHead (#L458): norm(act(dense(x))).
type PredictionHead struct {
	Dense ml.OptLinear    `hf:"dense" dims:"hidden,hidden"`
	Norm  ml.OptLayerNorm `hf:"norm" dims:"hidden"`

	Act ml.Activation // classifier_activation
}

func (p *PredictionHead) Forward(r ml.Run, x ml.Tensor) ml.Tensor {
	d := ml.LinearAct(r, x, p.Dense.Weight, p.Dense.Bias, p.Act)
	y := p.Norm.Forward(r, d, nil)
	ml.Release(r, d)
	return y
}

// ForSequenceClassification is ModernBertForSequenceClassification
// (#L570): the model, pooling (the [CLS] row, or the mean of every row of
// the sequence), the head and the classifier.
type ForSequenceClassification struct {
	Model      ModernBertModel `hf:"model"`
	Head       PredictionHead  `hf:"head"`
	Classifier ml.Linear       `hf:"classifier" dims:"labels,hidden"`

	Pooling Pooling
}

// Forward returns the logits, one row per sequence.
func (m *ForSequenceClassification) Forward(r ml.Run, ids, starts, offsets []int32, observe func(int, ml.Tensor)) ml.Tensor {
	var pooled ml.Tensor
	if m.Pooling == PoolMean {
		x := m.Model.Forward(r, ids, offsets, nil, observe)
		pooled = r.(ml.MeanRowsRun).MeanRows(x, offsets)
		ml.Release(r, x)
	} else {
		pooled = m.Model.Forward(r, ids, offsets, starts, observe) // the [CLS] rows
	}
	h := m.Head.Forward(r, pooled)
	ml.Release(r, pooled)
	y := m.Classifier.Forward(r, h)
	ml.Release(r, h)
	return y
}
