package modernbert

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
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

// TestLoadRefusesBadCheckpoints: a missing tensor (a bias the config turns
// on), a wrong shape, a NaN and an extra layer fail the load with the
// tensor's name.
func TestLoadRefusesBadCheckpoints(t *testing.T) {
	js := `{"architectures":["ModernBertForSequenceClassification"],"vocab_size":50,"hidden_size":16,
		"intermediate_size":24,"num_hidden_layers":2,"num_attention_heads":2,"local_attention":4,
		"attention_bias":true,"num_labels":1}`
	_, cfg := synthetic(t, js, nil, nil)
	for _, tc := range []struct {
		name, tensor string
		edit         func(s mapSource)
	}{
		{"missing bias", "model.layers.1.attn.Wqkv.bias", func(s mapSource) { delete(s, "model.layers.1.attn.Wqkv.bias") }},
		{"shape", "model.layers.0.mlp.Wi.weight", func(s mapSource) {
			w := s["model.layers.0.mlp.Wi.weight"]
			s["model.layers.0.mlp.Wi.weight"] = fakeTensor{w.data[:24*16], []int{24, 16}} // one half: no gate
		}},
		{"nan", "head.norm.weight", func(s mapSource) { s["head.norm.weight"].data[3] = float32(math.NaN()) }},
		{"extra layer", "model.layers.2.mlp_norm.weight", func(s mapSource) {
			s["model.layers.2.mlp_norm.weight"] = s["model.layers.1.mlp_norm.weight"]
		}},
	} {
		src := randomCheckpoint(cfg, rand.New(rand.NewPCG(1, 1)))
		tc.edit(src)
		wcfg, _ := weights.ParseConfig([]byte(js))
		_, err := New(context.Background(), wcfg, namedSource{src}, cpu.Default())
		if err == nil || !strings.Contains(err.Error(), tc.tensor) {
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.tensor)
		}
	}
}

// namedSource lists its tensors, as a checkpoint does (checkTensors).
type namedSource struct{ mapSource }

func (s namedSource) Names() []string {
	var out []string
	for n := range s.mapSource {
		out = append(out, n)
	}
	return out
}
