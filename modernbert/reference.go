package modernbert

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Reference is ModernBertForSequenceClassification's forward pass written
// as plain loops in float32, one sequence at a time, straight from
// modeling_modernbert.py with eager attention. It is slow on purpose: it is
// the oracle the model on the backend seam is tested against (as llm.c
// keeps its plain kernels), and it reads like the Python it follows.
//
// https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/modernbert/modeling_modernbert.py
type Reference struct {
	cfg        *Config
	embeddings []float32 // tok_embeddings [vocab, hidden]
	embNorm    refNorm
	layers     []refLayer
	finalNorm  refNorm
	headDense  refLinear
	headNorm   refNorm
	classifier refLinear
	// invFreq of full and sliding layers, [head_dim/2] each.
	globalFreq, localFreq []float32
	observed              func(layer int, hidden []float32)
}

type refLinear struct {
	w, b    []float32 // w [out, in]; b [out] or nil
	out, in int
}

type refNorm struct{ w, b []float32 } // b nil without norm_bias

type refLayer struct {
	attnNorm *refNorm // nil on layer 0 (nn.Identity)
	wqkv, wo refLinear
	mlpNorm  refNorm
	wi, mlpO refLinear
	sliding  bool
}

// TensorSource is where weights come from: a *weights.Checkpoint, or a map
// of tensors in tests.
type TensorSource interface {
	Float32(name string) (data []float32, shape []int, err error)
}

// NewReference reads the weights the config names from src.
func NewReference(cfg *Config, src TensorSource) (*Reference, error) {
	if cfg == nil || src == nil {
		return nil, errors.New("modernbert: nil config or tensor source")
	}
	h, inter := cfg.HiddenSize, cfg.IntermediateSize
	r := &Reference{cfg: cfg}
	var err error
	get := func(name string, shape ...int) []float32 {
		if err != nil {
			return nil
		}
		var d []float32
		d, err = refTensor(src, name, shape...)
		return d
	}
	linear := func(name string, out, in int, bias bool) refLinear {
		l := refLinear{w: get(name+".weight", out, in), out: out, in: in}
		if bias {
			l.b = get(name+".bias", out)
		}
		return l
	}
	norm := func(name string) refNorm {
		n := refNorm{w: get(name+".weight", h)}
		if cfg.NormBias {
			n.b = get(name+".bias", h)
		}
		return n
	}
	r.embeddings = get("model.embeddings.tok_embeddings.weight", cfg.VocabSize, h)
	r.embNorm = norm("model.embeddings.norm")
	for i := range cfg.NumHiddenLayers {
		p := "model.layers." + strconv.Itoa(i) + "."
		l := refLayer{sliding: cfg.LayerTypes[i] == SlidingAttention}
		if i > 0 {
			n := norm(p + "attn_norm")
			l.attnNorm = &n
		}
		l.wqkv = linear(p+"attn.Wqkv", 3*h, h, cfg.AttentionBias)
		l.wo = linear(p+"attn.Wo", h, h, cfg.AttentionBias)
		l.mlpNorm = norm(p + "mlp_norm")
		l.wi = linear(p+"mlp.Wi", 2*inter, h, cfg.MLPBias)
		l.mlpO = linear(p+"mlp.Wo", h, inter, cfg.MLPBias)
		r.layers = append(r.layers, l)
	}
	r.finalNorm = norm("model.final_norm")
	r.headDense = linear("head.dense", h, h, cfg.ClassifierBias)
	r.headNorm = norm("head.norm")
	r.classifier = linear("classifier", cfg.NumLabels, h, true)
	if err != nil {
		return nil, err
	}
	r.globalFreq = invFreq(cfg.GlobalRopeTheta, cfg.HeadDim)
	r.localFreq = invFreq(cfg.LocalRopeTheta, cfg.HeadDim)
	return r, nil
}

// refTensor reads a tensor and checks its shape and values.
func refTensor(src TensorSource, name string, want ...int) ([]float32, error) {
	d, shape, err := src.Float32(name)
	if err != nil {
		return nil, fmt.Errorf("modernbert: %w", err)
	}
	if !slices.Equal(shape, want) {
		return nil, fmt.Errorf("modernbert: tensor %q: shape %v, want %v (from config.json)", name, shape, want)
	}
	for i, x := range d {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("modernbert: tensor %q: element %d is %v", name, i, x)
		}
	}
	return slices.Clone(d), nil
}

// invFreq is ModernBertRotaryEmbedding.compute_default_rope_parameters, in
// float32 as torch computes it: 1 / base^(arange(0, dim, 2) / dim).
func invFreq(theta float64, dim int) []float32 {
	out := make([]float32, dim/2)
	for i := range out {
		e := float32(2*i) / float32(dim)
		out[i] = 1 / float32(math.Pow(float64(float32(theta)), float64(e)))
	}
	return out
}

// Observe sets a function that sees each hidden state of every sequence,
// as transformers' output_hidden_states lists them: 0 is the embeddings'
// output, i is layer i's, except that the last is after final_norm.
func (r *Reference) Observe(f func(layer int, hidden []float32)) { r.observed = f }

// Forward returns the classifier's logits of each sequence.
func (r *Reference) Forward(seqs [][]int32) ([][]float32, error) {
	out := make([][]float32, len(seqs))
	for i, ids := range seqs {
		if len(ids) == 0 {
			return nil, fmt.Errorf("modernbert: sequence %d is empty", i)
		}
		for j, id := range ids {
			if id < 0 || int(id) >= r.cfg.VocabSize {
				return nil, fmt.Errorf("modernbert: sequence %d, token %d: id %d is outside the vocabulary [0, %d)", i, j, id, r.cfg.VocabSize)
			}
		}
		out[i] = r.forward(ids)
	}
	return out, nil
}

// forward is ModernBertForSequenceClassification.forward on one sequence:
// ModernBertModel (embeddings, layers, final_norm), pooling, head,
// classifier.
func (r *Reference) forward(ids []int32) []float32 {
	c := r.cfg
	n, h := len(ids), c.HiddenSize
	x := r.embed(ids)
	r.observe(0, x)
	for li := range r.layers {
		x = r.encoderLayer(&r.layers[li], x, n)
		if li == len(r.layers)-1 {
			x = layerNorm(x, r.finalNorm, h, c.NormEps)
		}
		r.observe(li+1, x)
	}
	pooled := make([]float32, h)
	switch c.Pooling {
	case PoolCLS:
		copy(pooled, x[:h])
	case PoolMean:
		// (last_hidden_state * mask).sum(1) / mask.sum(1): the sum of every
		// token's state, then one division.
		for t := range n {
			for i := range h {
				pooled[i] += x[t*h+i]
			}
		}
		for i := range pooled {
			pooled[i] /= float32(n)
		}
	}
	// ModernBertPredictionHead: norm(act(dense(x))).
	y := linear(pooled, 1, r.headDense)
	activate(y, c.ClassifierActivation)
	y = layerNorm(y, r.headNorm, h, c.NormEps)
	return linear(y, 1, r.classifier)
}

func (r *Reference) observe(layer int, x []float32) {
	if r.observed != nil {
		r.observed(layer, x)
	}
}

// embed is ModernBertEmbeddings: norm(tok_embeddings(ids)); no positions
// (they come from the rotary embeddings in attention).
func (r *Reference) embed(ids []int32) []float32 {
	h := r.cfg.HiddenSize
	x := make([]float32, len(ids)*h)
	for t, id := range ids {
		copy(x[t*h:(t+1)*h], r.embeddings[int(id)*h:int(id+1)*h])
	}
	return layerNorm(x, r.embNorm, h, r.cfg.NormEps)
}

// encoderLayer is ModernBertEncoderLayer.forward: x + attn(attn_norm(x)),
// then + mlp(mlp_norm(x)); attn_norm is the identity on layer 0.
func (r *Reference) encoderLayer(l *refLayer, x []float32, n int) []float32 {
	c := r.cfg
	h := c.HiddenSize
	in := x
	if l.attnNorm != nil {
		in = layerNorm(x, *l.attnNorm, h, c.NormEps)
	}
	a := r.attention(l, in, n)
	for i := range a {
		a[i] += x[i]
	}
	m := r.mlp(l, layerNorm(a, l.mlpNorm, h, c.NormEps), n)
	for i := range m {
		m[i] += a[i]
	}
	return m
}

// attention is ModernBertAttention.forward with eager_attention_forward:
// Wqkv, viewed as [n, 3, heads, head_dim]; rotary embeddings at positions
// 0..n-1 with the layer type's theta; softmax(q·kᵀ·head_dim^-0.5)·v, where
// on a sliding layer token i sees only tokens j with |i-j| <= window
// (create_bidirectional_sliding_window_mask); then Wo.
func (r *Reference) attention(l *refLayer, x []float32, n int) []float32 {
	c := r.cfg
	h, hd, heads := c.HiddenSize, c.HeadDim, c.NumAttentionHeads
	qkv := linear(x, n, l.wqkv)
	q, k, v := make([]float32, n*h), make([]float32, n*h), make([]float32, n*h)
	for t := range n {
		row := qkv[t*3*h : (t+1)*3*h]
		copy(q[t*h:(t+1)*h], row[:h])
		copy(k[t*h:(t+1)*h], row[h:2*h])
		copy(v[t*h:(t+1)*h], row[2*h:])
	}
	freq := r.globalFreq
	if l.sliding {
		freq = r.localFreq
	}
	rope(q, n, heads, hd, freq)
	rope(k, n, heads, hd, freq)

	lo, hi := func(t int) int { return 0 }, func(t int) int { return n - 1 }
	if l.sliding {
		w := c.Window()
		lo = func(t int) int { return max(0, t-w) }
		hi = func(t int) int { return min(n-1, t+w) }
	}
	scale := float32(1 / math.Sqrt(float64(hd)))
	ctx := make([]float32, n*h)
	scores := make([]float32, n)
	for hh := range heads {
		for t := range n {
			qi := q[t*h+hh*hd : t*h+(hh+1)*hd]
			mx := float32(math.Inf(-1))
			for s := lo(t); s <= hi(t); s++ {
				scores[s] = dot(qi, k[s*h+hh*hd:s*h+(hh+1)*hd]) * scale
				mx = max(mx, scores[s])
			}
			var sum float32
			for s := lo(t); s <= hi(t); s++ {
				scores[s] = float32(math.Exp(float64(scores[s] - mx)))
				sum += scores[s]
			}
			out := ctx[t*h+hh*hd : t*h+(hh+1)*hd]
			for s := lo(t); s <= hi(t); s++ {
				p := scores[s] / sum
				vs := v[s*h+hh*hd : s*h+(hh+1)*hd]
				for d := range out {
					out[d] += p * vs[d]
				}
			}
		}
	}
	return linear(ctx, n, l.wo)
}

// mlp is ModernBertMLP: input, gate = Wi(x).chunk(2); Wo(act(input) * gate).
func (r *Reference) mlp(l *refLayer, x []float32, n int) []float32 {
	inter := r.cfg.IntermediateSize
	wi := linear(x, n, l.wi)
	g := make([]float32, n*inter)
	for t := range n {
		row := wi[t*2*inter : (t+1)*2*inter]
		input, gate := row[:inter], row[inter:]
		for i := range inter {
			g[t*inter+i] = act(input[i], r.cfg.HiddenActivation) * gate[i]
		}
	}
	return linear(g, n, l.mlpO)
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

// layerNorm is torch.nn.LayerNorm over each row of `size` values, with or
// without bias: (x - mean) / sqrt(var + eps) * w (+ b), var biased.
func layerNorm(x []float32, p refNorm, size int, eps float64) []float32 {
	out := make([]float32, len(x))
	for r := 0; r < len(x); r += size {
		row := x[r : r+size]
		var mean float64
		for _, v := range row {
			mean += float64(v)
		}
		mean /= float64(size)
		var vr float64
		for _, v := range row {
			d := float64(v) - mean
			vr += d * d
		}
		inv := 1 / math.Sqrt(vr/float64(size)+eps)
		for i, v := range row {
			y := float32((float64(v) - mean) * inv)
			y *= p.w[i]
			if p.b != nil {
				y += p.b[i]
			}
			out[r+i] = y
		}
	}
	return out
}

// linear is torch.nn.Linear: x [n, in] · Wᵀ (+ b), W [out, in].
func linear(x []float32, n int, l refLinear) []float32 {
	y := make([]float32, n*l.out)
	for t := range n {
		xr := x[t*l.in : (t+1)*l.in]
		for o := range l.out {
			s := dot(xr, l.w[o*l.in:(o+1)*l.in])
			if l.b != nil {
				s += l.b[o]
			}
			y[t*l.out+o] = s
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

// act is ACT2FN[name] on one value.
func act(x float32, a Activation) float32 {
	switch a {
	case ActGELU:
		return float32(0.5 * float64(x) * (1 + math.Erf(float64(x)/math.Sqrt2)))
	case ActGELUTanh:
		v := float64(x)
		return float32(0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))))
	case ActReLU:
		return max(x, 0)
	}
	panic("modernbert: activation " + strconv.Itoa(int(a)) + " has no definition") // ParseConfig admits no other
}

func activate(x []float32, a Activation) {
	for i, v := range x {
		x[i] = act(v, a)
	}
}
