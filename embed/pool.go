package embed

import (
	"math"

	"github.com/crossrank/crossrank/weights"
)

// What sentence-transformers does after the encoder, one text at a time:
// Pooling (sentence_transformer/modules/pooling.py, _forward_padded), then
// each Dense (base/modules/dense.py) and Normalize (base/modules/normalize.py)
// in modules.json's order. Sums run in float64 and round once, so the result
// is at least as close to the exact value as PyTorch's float32 reductions.

// pool turns the last hidden states of one sequence (n rows of d, row-major)
// into one vector: each mode's vector of d, concatenated in modes' order.
// The first skip tokens (a prompt when include_prompt is false) take no part,
// as the attention mask sentence-transformers zeroes for them; skip < n.
func pool(h []float32, n, d, skip int, modes []weights.PoolingMode) []float32 {
	out := make([]float32, 0, d*len(modes))
	acc := make([]float64, d)
	for _, m := range modes {
		switch m {
		case weights.PoolCLS:
			// The first token the mask keeps: [CLS], or the first after the prompt.
			out = append(out, h[skip*d:(skip+1)*d]...)
		case weights.PoolLastToken:
			out = append(out, h[(n-1)*d:n*d]...)
		case weights.PoolMax:
			for j := range d {
				v := float32(math.Inf(-1))
				for i := skip; i < n; i++ {
					v = max(v, h[i*d+j])
				}
				out = append(out, v)
			}
		case weights.PoolMean, weights.PoolMeanSqrtLen:
			clear(acc)
			for i := skip; i < n; i++ {
				for j, v := range h[i*d : (i+1)*d] {
					acc[j] += float64(v)
				}
			}
			den := float64(n - skip)
			if m == weights.PoolMeanSqrtLen {
				den = math.Sqrt(den)
			}
			for _, s := range acc {
				out = append(out, float32(s/den))
			}
		case weights.PoolWeighted:
			// Weights are positions counted from 1 over the whole sequence:
			// leaving out a prompt keeps the others' weights.
			clear(acc)
			wsum := 0.0
			for i := skip; i < n; i++ {
				w := float64(i + 1)
				wsum += w
				for j, v := range h[i*d : (i+1)*d] {
					acc[j] += w * float64(v)
				}
			}
			for _, s := range acc {
				out = append(out, float32(s/wsum))
			}
		}
	}
	return out
}

// dense applies one Dense module: activation(W·x + b), plus the input (or
// its projection) when use_residual is set.
func dense(m *weights.Dense, x []float32) []float32 {
	y := make([]float32, m.Out)
	for o := range m.Out {
		s := 0.0
		for i, w := range m.Weight[o*m.In : (o+1)*m.In] {
			s += float64(w) * float64(x[i])
		}
		if m.Bias != nil {
			s += float64(m.Bias[o])
		}
		y[o] = float32(activate(m.Activation, s))
	}
	if m.Residual {
		for o := range m.Out {
			if m.ResidualW == nil {
				y[o] += x[o]
				continue
			}
			s := 0.0
			for i, w := range m.ResidualW[o*m.In : (o+1)*m.In] {
				s += float64(w) * float64(x[i])
			}
			y[o] += float32(s)
		}
	}
	return y
}

func activate(act string, x float64) float64 {
	switch act {
	case weights.DenseTanh:
		return math.Tanh(x)
	case weights.DenseReLU:
		return max(x, 0)
	case weights.DenseGELU:
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	case weights.DenseSigmoid:
		return 1 / (1 + math.Exp(-x))
	}
	return x
}

// normEps is F.normalize's eps: a zero vector stays zero.
const normEps = 1e-12

// normalize scales x to unit L2 length in place (F.normalize(p=2)).
func normalize(x []float32) {
	s := 0.0
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	n := max(math.Sqrt(s), normEps)
	for i, v := range x {
		x[i] = float32(float64(v) / n)
	}
}

// head runs the module stack after the encoder on one sequence.
func head(st *weights.SentenceTransformer, h []float32, n, d, skip int) []float32 {
	v := pool(h, n, d, skip, st.Pooling.Modes)
	for _, m := range st.Post {
		switch m := m.(type) {
		case *weights.Dense:
			v = dense(m, v)
		case weights.Normalize:
			normalize(v)
		}
	}
	return v
}
