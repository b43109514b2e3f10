package modernbert

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/weights"
)

// Random checkpoints built here from the Hugging Face names, for shapes the
// fixtures do not have (heads of 64, the assembly kernels' size) and for
// benchmarks at the real models' shapes.

type mapSource map[string]fakeTensor

type fakeTensor struct {
	data  []float32
	shape []int
}

func (s mapSource) Float32(name string) ([]float32, []int, error) {
	t, ok := s[name]
	if !ok {
		return nil, nil, fmt.Errorf("tensor %q: %w", name, weights.ErrNotFound)
	}
	return t.data, t.shape, nil
}

// randomCheckpoint has every tensor cfg names, N(0, (scale/sqrt(fan_in))^2)
// for matrices, norm gains near 1.
func randomCheckpoint(cfg *Config, rng *rand.Rand) mapSource {
	src := mapSource{}
	h, inter := cfg.HiddenSize, cfg.IntermediateSize
	put := func(name string, std, mean float64, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(mean + std*rng.NormFloat64())
		}
		src[name] = fakeTensor{d, shape}
	}
	linear := func(name string, out, in int, bias bool) {
		put(name+".weight", 1.5/math.Sqrt(float64(in)), 0, out, in)
		if bias {
			put(name+".bias", 0.1, 0, out)
		}
	}
	norm := func(name string) {
		put(name+".weight", 0.1, 1, h)
		if cfg.NormBias {
			put(name+".bias", 0.1, 0, h)
		}
	}
	put("model.embeddings.tok_embeddings.weight", 0.5, 0, cfg.VocabSize, h)
	norm("model.embeddings.norm")
	for i := range cfg.NumHiddenLayers {
		p := "model.layers." + strconv.Itoa(i) + "."
		if i > 0 {
			norm(p + "attn_norm")
		}
		linear(p+"attn.Wqkv", 3*h, h, cfg.AttentionBias)
		linear(p+"attn.Wo", h, h, cfg.AttentionBias)
		norm(p + "mlp_norm")
		linear(p+"mlp.Wi", 2*inter, h, cfg.MLPBias)
		linear(p+"mlp.Wo", h, inter, cfg.MLPBias)
	}
	norm("model.final_norm")
	linear("head.dense", h, h, cfg.ClassifierBias)
	norm("head.norm")
	linear("classifier", cfg.NumLabels, h, true)
	return src
}

func synthetic(t testing.TB, js string, b ml.Backend, src mapSource) (*Model, *Config) {
	t.Helper()
	wcfg, err := weights.ParseConfig([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(wcfg.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if src == nil {
		return nil, cfg
	}
	m, err := New(context.Background(), wcfg, src, b)
	if err != nil {
		t.Fatal(err)
	}
	return m, cfg
}

// TestSyntheticHeads64MatchesReference: heads of 64 (the CPU's assembly
// kernels), every bias on, gelu_pytorch_tanh, three labels, global every
// third layer, sequences of 1 to 300 tokens past a window of 8 each side:
// the model on the CPU backend against the plain Reference.
func TestSyntheticHeads64MatchesReference(t *testing.T) {
	js := `{"architectures":["ModernBertForSequenceClassification"],"vocab_size":300,"hidden_size":128,
		"intermediate_size":96,"num_hidden_layers":4,"num_attention_heads":2,"global_attn_every_n_layers":3,
		"local_attention":16,"norm_bias":true,"attention_bias":true,"mlp_bias":true,"classifier_bias":true,
		"hidden_activation":"gelu_pytorch_tanh","classifier_pooling":"mean","num_labels":3,"max_position_embeddings":512}`
	_, cfg := synthetic(t, js, nil, nil)
	rng := rand.New(rand.NewPCG(3, 5))
	src := randomCheckpoint(cfg, rng)
	m, _ := synthetic(t, js, cpu.Default(), src)
	defer m.Close()
	ref, err := NewReference(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	var batch []ml.Sequence
	var seqs [][]int32
	for _, n := range []int{1, 5, 9, 17, 18, 63, 64, 65, 300} {
		ids := make([]int32, n)
		for i := range ids {
			ids[i] = int32(rng.IntN(cfg.VocabSize))
		}
		seqs = append(seqs, ids)
		batch = append(batch, ml.Sequence{IDs: ids})
	}
	want, err := ref.Forward(seqs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Forward(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	for i := range seqs {
		for j := range want[i] {
			if d := math.Abs(float64(got[i][j] - want[i][j])); d > 1e-4*max(1, math.Abs(float64(want[i][j]))) {
				t.Errorf("%d tokens: logit %d = %v, reference %v", len(seqs[i]), j, got[i][j], want[i][j])
			}
		}
	}
}

// BenchmarkGTEModernBERTBase runs one sequence of n tokens through a random
// checkpoint of gte-reranker-modernbert-base's shape (22 layers, 7 of them
// global, hidden 768, window 128; the vocabulary cut to 1,000, which changes
// no cost) on the CPU backend. ns/token of the local layers' attention
// stays flat as n grows; the global layers' grows with n:
//
//	go test ./modernbert -run - -bench GTEModernBERTBase -benchtime 2x
func BenchmarkGTEModernBERTBase(b *testing.B) {
	js := `{"architectures":["ModernBertForSequenceClassification"],"vocab_size":1000,"hidden_size":768,
		"intermediate_size":1152,"num_hidden_layers":22,"num_attention_heads":12,"global_attn_every_n_layers":3,
		"local_attention":128,"classifier_pooling":"mean","num_labels":1}`
	_, cfg := synthetic(b, js, nil, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	m, _ := synthetic(b, js, cpu.Default(), randomCheckpoint(cfg, rng))
	defer m.Close()
	for _, n := range []int{512, 2048, 8192} {
		ids := make([]int32, n)
		for i := range ids {
			ids[i] = int32(rng.IntN(cfg.VocabSize))
		}
		b.Run("tokens="+strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Forward(context.Background(), []ml.Sequence{{IDs: ids}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/token")
		})
	}
}
