package qwen3

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/crossrank/crossrank/ml"
)

// Reference is the Qwen3 re-ranker's forward pass written as plain loops in
// float32, one sequence at a time, straight from modeling_qwen3.py. It is
// slow on purpose: it is the oracle the model on the backend seam is
// tested against (as llm.c keeps its plain kernels), and it reads like the
// Python it follows.
//
// https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/qwen3/modeling_qwen3.py
type Reference struct {
	cfg    *Config
	embed  []float32 // [vocab, hidden]
	layers []refLayer
	norm   []float32 // [hidden]
	// head: rows of lm_head (yes, no) for CausalLM, score.weight for
	// SequenceClassification; each [hidden].
	head     [][]float32
	invFreq  []float32 // [head_dim/2]
	yes, no  int32
	observed func(layer int, hidden []float32)
}

type refLayer struct {
	inputNorm, postNorm  []float32
	q, k, v, o           []float32
	qb, kb, vb           []float32 // Qwen2's q/k/v biases, nil for Qwen3
	qNorm, kNorm         []float32 // Qwen3's per-head norms, nil for Qwen2
	gate, up, down       []float32
	qOut, kvOut, interim int
}

// TensorSource is where weights come from: a *weights.Checkpoint, or a map
// of tensors in tests.
type TensorSource interface {
	Float32(name string) (data []float32, shape []int, err error)
}

// NewReference reads the weights the config names from src. yes and no are
// the token ids whose lm_head rows give a CausalLM's score (ignored for
// SequenceClassification).
func NewReference(cfg *Config, src TensorSource, yes, no int32) (*Reference, error) {
	if cfg == nil || src == nil {
		return nil, errors.New("qwen3: nil config or tensor source")
	}
	h, hd := cfg.HiddenSize, cfg.HeadDim
	r := &Reference{cfg: cfg, yes: yes, no: no}
	var err error
	get := func(name string, shape ...int) []float32 {
		if err != nil {
			return nil
		}
		var d []float32
		d, err = tensor(src, name, shape...)
		return d
	}
	r.embed = get("model.embed_tokens.weight", cfg.VocabSize, h)
	r.norm = get("model.norm.weight", h)
	for i := range cfg.NumHiddenLayers {
		p := "model.layers." + strconv.Itoa(i) + "."
		l := refLayer{qOut: cfg.NumAttentionHeads * hd, kvOut: cfg.NumKeyValueHeads * hd, interim: cfg.IntermediateSize}
		l.inputNorm = get(p+"input_layernorm.weight", h)
		l.postNorm = get(p+"post_attention_layernorm.weight", h)
		l.q = get(p+"self_attn.q_proj.weight", l.qOut, h)
		l.k = get(p+"self_attn.k_proj.weight", l.kvOut, h)
		l.v = get(p+"self_attn.v_proj.weight", l.kvOut, h)
		l.o = get(p+"self_attn.o_proj.weight", h, l.qOut)
		if cfg.QKNorm {
			l.qNorm = get(p+"self_attn.q_norm.weight", hd)
			l.kNorm = get(p+"self_attn.k_norm.weight", hd)
		}
		if cfg.QKVBias {
			l.qb = get(p+"self_attn.q_proj.bias", l.qOut)
			l.kb = get(p+"self_attn.k_proj.bias", l.kvOut)
			l.vb = get(p+"self_attn.v_proj.bias", l.kvOut)
		}
		l.gate = get(p+"mlp.gate_proj.weight", l.interim, h)
		l.up = get(p+"mlp.up_proj.weight", l.interim, h)
		l.down = get(p+"mlp.down_proj.weight", h, l.interim)
		r.layers = append(r.layers, l)
	}
	switch cfg.Arch {
	case CausalLM, Qwen2CausalLM:
		if yes < 0 || int(yes) >= cfg.VocabSize || no < 0 || int(no) >= cfg.VocabSize {
			return nil, fmt.Errorf("qwen3: yes/no ids %d/%d outside the vocabulary [0, %d)", yes, no, cfg.VocabSize)
		}
		table := r.embed
		if !cfg.TieWordEmbeddings {
			table = get("lm_head.weight", cfg.VocabSize, h)
		}
		if err == nil {
			r.head = [][]float32{table[int(yes)*h : int(yes+1)*h], table[int(no)*h : int(no+1)*h]}
		}
	case SequenceClassification:
		if w := get("score.weight", 1, h); err == nil {
			r.head = [][]float32{w}
		}
	}
	if err != nil {
		return nil, err
	}
	r.invFreq = ml.InvFreq(cfg.RopeTheta, hd)
	return r, nil
}

// tensor reads a tensor and checks its shape and values.
func tensor(src TensorSource, name string, want ...int) ([]float32, error) {
	d, shape, err := src.Float32(name)
	if err != nil {
		return nil, fmt.Errorf("qwen3: %w", err)
	}
	if !slices.Equal(shape, want) {
		return nil, fmt.Errorf("qwen3: tensor %q: shape %v, want %v (from config.json)", name, shape, want)
	}
	for i, x := range d {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("qwen3: tensor %q: element %d is %v", name, i, x)
		}
	}
	return slices.Clone(d), nil
}

// Forward returns, for each sequence, the head's logits at its last token:
// [yes, no] for a CausalLM, [score] for a SequenceClassification model.
func (r *Reference) Forward(seqs [][]int32) ([][]float32, error) {
	out := make([][]float32, len(seqs))
	for i, ids := range seqs {
		if len(ids) == 0 {
			return nil, fmt.Errorf("qwen3: sequence %d is empty", i)
		}
		for j, id := range ids {
			if id < 0 || int(id) >= r.cfg.VocabSize {
				return nil, fmt.Errorf("qwen3: sequence %d, token %d: id %d is outside the vocabulary [0, %d)", i, j, id, r.cfg.VocabSize)
			}
		}
		out[i] = r.forward(ids)
	}
	return out, nil
}

// Observe sets a function that sees each hidden state of every sequence
// (layer 0: the embeddings; layer i: decoder layer i's output; the last
// layer's after the final norm, as transformers' output_hidden_states).
func (r *Reference) Observe(f func(layer int, hidden []float32)) { r.observed = f }

func (r *Reference) forward(ids []int32) []float32 {
	c := r.cfg
	n, h := len(ids), c.HiddenSize
	// Qwen3Model.forward: embed_tokens, the layers, norm.
	x := make([]float32, n*h)
	for t, id := range ids {
		copy(x[t*h:(t+1)*h], r.embed[int(id)*h:int(id+1)*h])
	}
	r.observe(0, x)
	for li := range r.layers {
		x = r.decoderLayer(&r.layers[li], x, n)
		if li == len(r.layers)-1 {
			x = rmsNorm(x, r.norm, h, c.RMSNormEps)
		}
		r.observe(li+1, x)
	}
	last := x[(n-1)*h : n*h]
	logits := make([]float32, len(r.head))
	for i, w := range r.head {
		logits[i] = dot(last, w)
	}
	return logits
}

func (r *Reference) observe(layer int, x []float32) {
	if r.observed != nil {
		r.observed(layer, x)
	}
}

// decoderLayer is Qwen3DecoderLayer.forward: pre-norm attention and MLP,
// each added to its residual.
func (r *Reference) decoderLayer(l *refLayer, x []float32, n int) []float32 {
	c := r.cfg
	h := c.HiddenSize
	a := r.attention(l, rmsNorm(x, l.inputNorm, h, c.RMSNormEps), n)
	for i := range x {
		a[i] += x[i]
	}
	m := mlp(l, rmsNorm(a, l.postNorm, h, c.RMSNormEps), n, h)
	for i := range a {
		m[i] += a[i]
	}
	return m
}

// attention is Qwen3Attention.forward with eager_attention_forward: q/k/v
// projections, q_norm/k_norm per head, rotary embeddings at positions
// 0..n-1, causal softmax(q·kᵀ·head_dim^-0.5)·v with each key-value head
// shared by num_attention_heads/num_key_value_heads query heads
// (repeat_kv), then o_proj.
func (r *Reference) attention(l *refLayer, x []float32, n int) []float32 {
	c := r.cfg
	h, hd := c.HiddenSize, c.HeadDim
	heads, kvHeads := c.NumAttentionHeads, c.NumKeyValueHeads
	q := addBias(linear(x, n, h, l.q, l.qOut), l.qb)
	k := addBias(linear(x, n, h, l.k, l.kvOut), l.kb)
	v := addBias(linear(x, n, h, l.v, l.kvOut), l.vb)
	if l.qNorm != nil {
		q = rmsNorm(q, l.qNorm, hd, c.RMSNormEps)
		k = rmsNorm(k, l.kNorm, hd, c.RMSNormEps)
	}
	rope(q, n, heads, hd, r.invFreq)
	rope(k, n, kvHeads, hd, r.invFreq)

	group := heads / kvHeads
	scale := float32(1 / math.Sqrt(float64(hd)))
	ctx := make([]float32, n*heads*hd)
	scores := make([]float32, n)
	for hh := range heads {
		kv := hh / group
		for t := range n {
			qi := q[(t*heads+hh)*hd : (t*heads+hh+1)*hd]
			// Causal: token t sees tokens 0..t.
			mx := float32(math.Inf(-1))
			for s := 0; s <= t; s++ {
				scores[s] = dot(qi, k[(s*kvHeads+kv)*hd:(s*kvHeads+kv+1)*hd]) * scale
				mx = max(mx, scores[s])
			}
			var sum float32
			for s := 0; s <= t; s++ {
				scores[s] = float32(math.Exp(float64(scores[s] - mx)))
				sum += scores[s]
			}
			out := ctx[(t*heads+hh)*hd : (t*heads+hh+1)*hd]
			for s := 0; s <= t; s++ {
				p := scores[s] / sum
				vs := v[(s*kvHeads+kv)*hd : (s*kvHeads+kv+1)*hd]
				for d := range out {
					out[d] += p * vs[d]
				}
			}
		}
	}
	return linear(ctx, n, heads*hd, l.o, h)
}

// rope is apply_rotary_pos_emb at positions 0..n-1 on x of [n, heads,
// dim]: x*cos + rotate_half(x)*sin, where rotate_half(x) = [-x2, x1] and
// cos/sin repeat the dim/2 frequencies twice (cat(freqs, freqs)). The
// angle is rounded to float32 as torch computes it.
func rope(x []float32, n, heads, dim int, inv []float32) {
	half := dim / 2
	for t := range n {
		for i := range half {
			ang := float32(t) * inv[i]
			cos, sin := float32(math.Cos(float64(ang))), float32(math.Sin(float64(ang)))
			for hh := range heads {
				row := x[(t*heads+hh)*dim : (t*heads+hh+1)*dim]
				x1, x2 := row[i], row[i+half]
				row[i] = x1*cos - x2*sin
				row[i+half] = x2*cos + x1*sin
			}
		}
	}
}

// mlp is Qwen3MLP: down_proj(silu(gate_proj(x)) * up_proj(x)).
func mlp(l *refLayer, x []float32, n, h int) []float32 {
	g := linear(x, n, h, l.gate, l.interim)
	u := linear(x, n, h, l.up, l.interim)
	for i := range g {
		s := g[i] / (1 + float32(math.Exp(-float64(g[i]))))
		g[i] = s * u[i]
	}
	return linear(g, n, l.interim, l.down, h)
}

// rmsNorm is Qwen3RMSNorm over each group of `size` values:
// weight * x / sqrt(mean(x²) + eps).
func rmsNorm(x, w []float32, size int, eps float64) []float32 {
	out := make([]float32, len(x))
	for r := 0; r < len(x); r += size {
		row := x[r : r+size]
		var ss float32
		for _, v := range row {
			ss += v * v
		}
		inv := float32(1 / math.Sqrt(float64(ss/float32(size)+float32(eps))))
		for i, v := range row {
			out[r+i] = w[i] * (v * inv)
		}
	}
	return out
}

// linear is torch.nn.Linear without bias: x [n, in] · Wᵀ, W [out, in].
func linear(x []float32, n, in int, w []float32, out int) []float32 {
	y := make([]float32, n*out)
	for t := range n {
		xr := x[t*in : (t+1)*in]
		for o := range out {
			y[t*out+o] = dot(xr, w[o*in:(o+1)*in])
		}
	}
	return y
}

// addBias adds b (nil: nothing) to every row of y.
func addBias(y, b []float32) []float32 {
	for r := 0; b != nil && r < len(y); r += len(b) {
		for i := range b {
			y[r+i] += b[i]
		}
	}
	return y
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
