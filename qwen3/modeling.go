package qwen3

import (
	"fmt"

	"github.com/crossrank/crossrank/ml"
)

// The modules of Qwen3ForCausalLM and Qwen3ForSequenceClassification as a
// re-ranker runs them, one Go type per Hugging Face module, each with the
// weights it binds (struct tags, ml.Binder) and a Forward that calls only
// the backend seam (ml.Run and the optional operations of run below).
// Links are to transformers v5.24.0, which made the goldens:
//
//	https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/qwen3/modeling_qwen3.py
//
// Reference (reference.go) computes the same with plain loops: the oracle.

// run is a Run with the operations a decoder needs beyond the plain ones.
// The constructor checks at load (ml.Need) that the backend has them.
type run struct {
	ml.Run
	ml.AddRun
	ml.RMSNormRun
	ml.RoPERun
	ml.CausalAttentionRun
	ml.SwiGLURun

	// The operations of a last layer computed on the head's rows only,
	// nil where the backend lacks them (then the layer runs whole).
	rows   ml.AttentionRowsRun
	ropeAt ml.RoPEAtRun
}

// prunes says whether the run can compute the last layer on the head's
// rows alone (DecoderLayer.ForwardRows).
func (r *run) prunes() bool { return r.rows != nil && r.ropeAt != nil }

// Release hands x back to the backend's run. Without it ml.Release found
// no Releaser on this wrapper and released nothing: every intermediate of
// every layer stayed until the run closed (4.8 GB live during one 20-pair
// forward of the Qwen3-Reranker-0.6B stand-in, 15.7-18.1 GB peak RSS in the
// benchmark of 2026-12-02).
func (r *run) Release(x ml.Tensor) { ml.Release(r.Run, x) }

var _ ml.Releaser = (*run)(nil)

func newRun(r ml.Run) (*run, error) {
	x := &run{Run: r}
	var ok [5]bool
	x.AddRun, ok[0] = r.(ml.AddRun)
	x.RMSNormRun, ok[1] = r.(ml.RMSNormRun)
	x.RoPERun, ok[2] = r.(ml.RoPERun)
	x.CausalAttentionRun, ok[3] = r.(ml.CausalAttentionRun)
	x.SwiGLURun, ok[4] = r.(ml.SwiGLURun)
	x.rows, _ = r.(ml.AttentionRowsRun)
	x.ropeAt, _ = r.(ml.RoPEAtRun)
	for i, name := range []string{"Add", "RMSNorm", "RoPE", "CausalAttention", "SwiGLU"} {
		if !ok[i] {
			return nil, fmt.Errorf("%w: the run has no %s", ml.ErrUnsupported, name)
		}
	}
	return x, nil
}

// needs are the optional operations, for ml.Need at load.
func needs(b ml.Backend) error {
	for _, err := range []error{
		ml.Need[ml.AddRun](b, "Add"),
		ml.Need[ml.RMSNormRun](b, "RMSNorm"),
		ml.Need[ml.RoPERun](b, "RoPE"),
		ml.Need[ml.CausalAttentionRun](b, "CausalAttention"),
		ml.Need[ml.SwiGLURun](b, "SwiGLU"),
	} {
		if err != nil {
			return fmt.Errorf("qwen3: %w", err)
		}
	}
	return nil
}

// Linear is torch.nn.Linear: without bias, as every projection of Qwen3
// is (attention_bias false), or with one where the constructor sets
// HasBias (Qwen2's q/k/v). Its dims tag is "out,in".
type Linear struct {
	Weight  ml.Weight // "weight", [out, in]
	Bias    ml.Weight // "bias", [out], when HasBias
	HasBias bool
}

func (l *Linear) Forward(r *run, x ml.Tensor) ml.Tensor { return r.Linear(x, l.Weight, l.Bias) }

// BindParam reads name.weight (and name.bias when HasBias).
func (l *Linear) BindParam(bd *ml.Binder, name string, dims []int) error {
	if len(dims) != 2 {
		return fmt.Errorf("%s: a Linear needs dims \"out,in\"", name)
	}
	w, err := bd.Tensor(name+".weight", dims...)
	if err != nil {
		return err
	}
	if l.Weight, err = bd.Backend.Matrix(name+".weight", w, dims[0], dims[1]); err != nil {
		return err
	}
	bd.Release(name + ".weight")
	if !l.HasBias {
		return nil
	}
	b, err := bd.Tensor(name+".bias", dims[0])
	if err != nil {
		return err
	}
	if l.Bias, err = bd.Backend.Vector(name+".bias", b); err != nil {
		return err
	}
	bd.Release(name + ".bias")
	return nil
}

// RMSNorm is Qwen3RMSNorm (modeling_qwen3.py#L50): weight * x /
// sqrt(mean(x²) + eps), over the hidden size, or over each head's values
// for q_norm and k_norm (their weight has head_dim values).
type RMSNorm struct {
	Weight ml.Weight // "weight", [n]
	Eps    float32   // rms_norm_eps
	// Absent marks a norm the family does not have (Qwen2's attention has
	// no q_norm/k_norm): nothing is bound and the module is not called.
	Absent bool
}

func (n *RMSNorm) Forward(r *run, x ml.Tensor) ml.Tensor { return r.RMSNorm(x, n.Weight, n.Eps) }

// BindParam reads name.weight.
func (n *RMSNorm) BindParam(bd *ml.Binder, name string, dims []int) error {
	if n.Absent {
		return nil
	}
	if len(dims) != 1 {
		return fmt.Errorf("%s: an RMSNorm needs dims \"n\"", name)
	}
	w, err := bd.Tensor(name+".weight", dims[0])
	if err != nil {
		return err
	}
	if n.Weight, err = bd.Backend.Vector(name+".weight", w); err != nil {
		return err
	}
	bd.Release(name + ".weight")
	n.Eps = bd.Eps
	return nil
}

// RotaryEmbedding is Qwen3RotaryEmbedding (modeling_qwen3.py#L86) with
// apply_rotary_pos_emb (#L140): the default rope type, frequencies
// 1/rope_theta^(2i/head_dim) (ml.InvFreq), applied to q and k at each
// token's position in its own sequence (0 at its first token).
type RotaryEmbedding struct {
	Theta float64 // rope_theta
}

// Apply rotates every one of the heads of x in place.
func (e *RotaryEmbedding) Apply(r *run, x ml.Tensor, heads int, offsets []int32) {
	r.RoPE(x, heads, e.Theta, offsets)
}

// Attention is Qwen3Attention (modeling_qwen3.py#L203): the projections,
// q_norm / k_norm per head, rotary embeddings, then causal grouped-query
// attention within each sequence (the backend's CausalAttention holds the
// maths), then o_proj. With biased q/k/v projections and no q_norm/k_norm
// it is Qwen2Attention (modeling_qwen2.py#L170).
type Attention struct {
	QProj Linear  `hf:"q_proj" dims:"q,hidden"`
	KProj Linear  `hf:"k_proj" dims:"kv,hidden"`
	VProj Linear  `hf:"v_proj" dims:"kv,hidden"`
	OProj Linear  `hf:"o_proj" dims:"hidden,q"`
	QNorm RMSNorm `hf:"q_norm" dims:"head"`
	KNorm RMSNorm `hf:"k_norm" dims:"head"`
	Heads int     // num_attention_heads
	KV    int     // num_key_value_heads
}

func (a *Attention) Forward(r *run, x ml.Tensor, rope *RotaryEmbedding, offsets []int32) ml.Tensor {
	q := a.QProj.Forward(r, x)
	k := a.KProj.Forward(r, x)
	v := a.VProj.Forward(r, x)
	if !a.QNorm.Absent {
		q0, k0 := q, k
		q, k = a.QNorm.Forward(r, q0), a.KNorm.Forward(r, k0)
		ml.Release(r, q0, k0)
	}
	rope.Apply(r, q, a.Heads, offsets)
	rope.Apply(r, k, a.KV, offsets)
	ctx := r.CausalAttention(q, k, v, a.Heads, a.KV, offsets)
	ml.Release(r, q, k, v)
	y := a.OProj.Forward(r, ctx)
	ml.Release(r, ctx)
	return y
}

// ForwardRows is Forward at the rows xr of x alone (one per sequence, at
// positions in their sequences): their queries, rotated at those
// positions, against the keys and values of every token of x. For a
// sequence's last token that is its causal attention.
func (a *Attention) ForwardRows(r *run, x, xr ml.Tensor, rope *RotaryEmbedding, offsets, positions []int32) ml.Tensor {
	q := a.QProj.Forward(r, xr)
	k := a.KProj.Forward(r, x)
	v := a.VProj.Forward(r, x)
	if !a.QNorm.Absent {
		q0, k0 := q, k
		q, k = a.QNorm.Forward(r, q0), a.KNorm.Forward(r, k0)
		ml.Release(r, q0, k0)
	}
	r.ropeAt.RoPEAt(q, a.Heads, rope.Theta, positions)
	rope.Apply(r, k, a.KV, offsets)
	ctx := r.rows.AttentionRows(q, k, v, a.Heads, a.KV, offsets)
	ml.Release(r, q, k, v)
	y := a.OProj.Forward(r, ctx)
	ml.Release(r, ctx)
	return y
}

// MLP is Qwen3MLP (modeling_qwen3.py#L70): down_proj(silu(gate_proj(x)) *
// up_proj(x)).
type MLP struct {
	GateProj Linear `hf:"gate_proj" dims:"intermediate,hidden"`
	UpProj   Linear `hf:"up_proj" dims:"intermediate,hidden"`
	DownProj Linear `hf:"down_proj" dims:"hidden,intermediate"`
}

func (m *MLP) Forward(r *run, x ml.Tensor) ml.Tensor {
	g := m.GateProj.Forward(r, x)
	u := m.UpProj.Forward(r, x)
	h := r.SwiGLU(g, u)
	ml.Release(r, u)
	y := m.DownProj.Forward(r, h)
	ml.Release(r, h)
	return y
}

// DecoderLayer is Qwen3DecoderLayer (modeling_qwen3.py#L276): pre-norm
// attention and MLP, each added to its residual.
type DecoderLayer struct {
	SelfAttn               Attention `hf:"self_attn"`
	MLP                    MLP       `hf:"mlp"`
	InputLayernorm         RMSNorm   `hf:"input_layernorm" dims:"hidden"`
	PostAttentionLayernorm RMSNorm   `hf:"post_attention_layernorm" dims:"hidden"`
}

// Forward adds the layer's work to x in place and returns it.
func (l *DecoderLayer) Forward(r *run, x ml.Tensor, rope *RotaryEmbedding, offsets []int32) ml.Tensor {
	h := l.InputLayernorm.Forward(r, x)
	a := l.SelfAttn.Forward(r, h, rope, offsets)
	ml.Release(r, h)
	r.Add(x, a)
	ml.Release(r, a)
	return l.addMLP(r, x)
}

// addMLP is the layer's second half, shared by Forward and ForwardRows:
// x += mlp(post_attention_layernorm(x)), in place; it returns x.
func (l *DecoderLayer) addMLP(r *run, x ml.Tensor) ml.Tensor {
	h := l.PostAttentionLayernorm.Forward(r, x)
	m := l.MLP.Forward(r, h)
	ml.Release(r, h)
	r.Add(x, m)
	ml.Release(r, m)
	return x
}

// ForwardRows is Forward's output at rows alone (one per sequence, rows[s]
// in sequence s, at positions[s] in it): the keys and values of every
// token, and for those rows only the queries, attention, o_proj and the
// MLP. Each kept row's value is the same function of the same inputs as in
// Forward. It returns a new [len(rows), hidden] tensor; x is not changed.
func (l *DecoderLayer) ForwardRows(r *run, x ml.Tensor, rope *RotaryEmbedding, offsets, rows, positions []int32) ml.Tensor {
	h := l.InputLayernorm.Forward(r, x)
	hr, xr := r.Rows(h, rows), r.Rows(x, rows)
	a := l.SelfAttn.ForwardRows(r, h, hr, rope, offsets, positions)
	ml.Release(r, h, hr)
	r.Add(xr, a)
	ml.Release(r, a)
	return l.addMLP(r, xr)
}

// Decoder is Qwen3Model (modeling_qwen3.py#L339): embed_tokens, the
// layers, the final norm.
type Decoder struct {
	EmbedTokens ml.Embedding   `hf:"embed_tokens" dims:"vocab,hidden"`
	Layers      []DecoderLayer `hf:"layers"`
	Norm        RMSNorm        `hf:"norm" dims:"hidden"`
	Rotary      RotaryEmbedding
}

// Forward returns the final hidden states of a packed batch at rows (one
// per sequence, rows[s] in sequence s: the head's last tokens). observe,
// when not nil, sees the hidden states as output_hidden_states gives them:
// the embeddings, each layer's output, the last one after the final norm.
//
// Where the run has AttentionRowsRun and RoPEAtRun the last layer computes
// only the rows (DecoderLayer.ForwardRows: about 3% of Qwen3-0.6B's work is
// that layer's other rows); elsewhere it runs whole and the rows are taken
// after. observe sees every row of every layer, so it runs the whole last
// layer too: the hidden-state tests check the full path, the logit goldens
// the pruned one.
func (d *Decoder) Forward(r *run, ids, offsets, rows []int32, observe func(layer int, x ml.Tensor)) ml.Tensor {
	x := r.Gather(d.EmbedTokens.Weight, ids)
	if observe != nil {
		observe(0, x)
	}
	prune := r.prunes() && observe == nil && len(d.Layers) > 0
	for i := range d.Layers {
		if prune && i == len(d.Layers)-1 {
			positions := make([]int32, len(rows))
			for s, row := range rows {
				positions[s] = row - offsets[s]
			}
			y := d.Layers[i].ForwardRows(r, x, &d.Rotary, offsets, rows, positions)
			ml.Release(r, x)
			x = y
			break
		}
		x = d.Layers[i].Forward(r, x, &d.Rotary, offsets)
		if r.Err() != nil {
			return x // a cancelled context or a backend failure: stop here
		}
		if observe != nil && i < len(d.Layers)-1 {
			observe(i+1, x)
		}
	}
	y := d.Norm.Forward(r, x)
	ml.Release(r, x)
	if prune {
		return y // already the rows alone
	}
	if observe != nil {
		observe(len(d.Layers), y)
	}
	yr := r.Rows(y, rows)
	ml.Release(r, y)
	return yr
}

// Head turns each sequence's last hidden state into its logits.
//
// For Qwen3ForCausalLM it is the two rows of lm_head (or of embed_tokens
// when tie_word_embeddings) for "yes" and "no", not the whole vocabulary:
// the card's score needs only those two logits. For the converted
// Qwen3ForSequenceClassification it is score.weight, one row.
type Head struct {
	Rows ml.Weight // [labels, hidden]: [yes, no] or [score]
}

func (h *Head) Forward(r *run, last ml.Tensor) ml.Tensor { return r.Linear(last, h.Rows, nil) }
