package qwen3

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/internal/testrand"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/reference"
)

func backends() map[string]func() ml.Backend {
	return map[string]func() ml.Backend{"cpu": cpu.Default, "reference": reference.New}
}

func loadModel(t testing.TB, g *goldenIndex, name string, b ml.Backend) *Model {
	t.Helper()
	yes, no := g.scoreIDs(name)
	m, err := Load(context.Background(), filepath.Join(testdata, filepath.FromSlash(g.Models[name].Dir)),
		Options{Backend: b, YesID: yes, NoID: no})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The model on the seam, on every CPU backend, gives transformers' logits:
// each pair alone, and all of them packed in one batch.
func TestModelMatchesTransformers(t *testing.T) {
	g := loadIndex(t)
	for bname, nb := range backends() {
		for _, name := range modelNames {
			t.Run(bname+"/"+name, func(t *testing.T) {
				m := loadModel(t, g, name, nb())
				recs := readRecords[scoreRecord](t, g.Models[name].Scores)
				seqs := make([][]int32, len(recs))
				for i, r := range recs {
					seqs[i] = r.InputIDs
				}
				packed, err := m.Forward(t.Context(), seqs)
				if err != nil {
					t.Fatal(err)
				}
				worst := 0.0
				for i, r := range recs {
					alone, err := m.Forward(t.Context(), seqs[i:i+1])
					if err != nil {
						t.Fatal(err)
					}
					for _, got := range []float32{alone[0][0], packed[i][0]} {
						d := math.Abs(float64(got) - r.Logit)
						worst = max(worst, d)
						if d > tolerance || math.Abs(sigmoid(float64(got))-r.Score) > tolerance {
							t.Errorf("pair %d: logit %v, transformers %v", i, got, r.Logit)
						}
					}
					if d := math.Abs(float64(alone[0][0] - packed[i][0])); d > 1e-5 {
						t.Errorf("pair %d: alone %v, packed %v", i, alone[0][0], packed[i][0])
					}
				}
				t.Logf("%d pairs on %s, largest difference %.2e", len(recs), m.Backend().Name(), worst)
			})
		}
	}
}

func TestModelHiddenStates(t *testing.T) {
	g := loadIndex(t)
	for bname, nb := range backends() {
		for _, name := range []string{"qwen3-tied", "qwen3-untied"} {
			m := loadModel(t, g, name, nb())
			for i, r := range readRecords[hiddenRecord](t, g.Models[name].Hidden) {
				var got [][]float32
				m.observe = func(layer int, h []float32) { got = append(got, h) }
				if _, err := m.Forward(t.Context(), [][]int32{r.InputIDs}); err != nil {
					t.Fatal(err)
				}
				if len(got) != len(r.HiddenStates) {
					t.Fatalf("%s %s pair %d: %d hidden states, transformers %d", bname, name, i, len(got), len(r.HiddenStates))
				}
				hs := r.HiddenSize
				for l, want := range r.HiddenStates {
					rows := got[l][r.Rows[0]*hs : r.Rows[1]*hs]
					for j := range want {
						if d := math.Abs(float64(rows[j])-want[j]) / max(1, math.Abs(want[j])); d > tolerance {
							t.Fatalf("%s %s pair %d: hidden state %d element %d: %v, transformers %v", bname, name, i, l, j, rows[j], want[j])
						}
					}
				}
			}
		}
	}
}

// randomCheckpoint is a Qwen3 checkpoint of random weights in memory.
func randomCheckpoint(rng *rand.Rand, c *Config) mapSource {
	src := mapSource{}
	add := func(name string, shape ...int) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		scale := 1.0
		if len(shape) == 2 {
			scale = 1.5 / math.Sqrt(float64(shape[1]))
		}
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(rng.NormFloat64() * scale)
			if len(shape) == 1 {
				d[i] = 1 + 0.2*d[i]
			}
		}
		src[name] = struct {
			data  []float32
			shape []int
		}{d, shape}
	}
	h, hd := c.HiddenSize, c.HeadDim
	add("model.embed_tokens.weight", c.VocabSize, h)
	add("model.norm.weight", h)
	for i := range c.NumHiddenLayers {
		p := "model.layers." + strconv.Itoa(i) + "."
		add(p+"input_layernorm.weight", h)
		add(p+"post_attention_layernorm.weight", h)
		add(p+"self_attn.q_proj.weight", c.NumAttentionHeads*hd, h)
		add(p+"self_attn.k_proj.weight", c.NumKeyValueHeads*hd, h)
		add(p+"self_attn.v_proj.weight", c.NumKeyValueHeads*hd, h)
		add(p+"self_attn.o_proj.weight", h, c.NumAttentionHeads*hd)
		if c.QKNorm {
			add(p+"self_attn.q_norm.weight", hd)
			add(p+"self_attn.k_norm.weight", hd)
		}
		if c.QKVBias {
			add(p+"self_attn.q_proj.bias", c.NumAttentionHeads*hd)
			add(p+"self_attn.k_proj.bias", c.NumKeyValueHeads*hd)
			add(p+"self_attn.v_proj.bias", c.NumKeyValueHeads*hd)
		}
		add(p+"mlp.gate_proj.weight", c.IntermediateSize, h)
		add(p+"mlp.up_proj.weight", c.IntermediateSize, h)
		add(p+"mlp.down_proj.weight", h, c.IntermediateSize)
	}
	if !c.TieWordEmbeddings {
		add("lm_head.weight", c.VocabSize, h)
	}
	return src
}

// Shapes the fixtures do not have (head_dim 128, 8 query heads per
// key-value head, one layer, long sequences): the model on each backend
// against the plain reference forward.
func TestModelMatchesReferenceOnRandomShapes(t *testing.T) {
	rng := testrand.Fresh(t)
	for _, c := range []Config{
		{HiddenSize: 64, IntermediateSize: 96, NumHiddenLayers: 1, NumAttentionHeads: 8, NumKeyValueHeads: 1, HeadDim: 128},
		{HiddenSize: 48, IntermediateSize: 80, NumHiddenLayers: 3, NumAttentionHeads: 6, NumKeyValueHeads: 3, HeadDim: 8, TieWordEmbeddings: true},
		{HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 2, NumKeyValueHeads: 2, HeadDim: 32},
		{Arch: Qwen2CausalLM, HiddenSize: 64, IntermediateSize: 96, NumHiddenLayers: 2, NumAttentionHeads: 8, NumKeyValueHeads: 2, HeadDim: 8, QKVBias: true},
	} {
		if c.Arch == 0 {
			c.Arch, c.QKNorm = CausalLM, true
		}
		c.VocabSize, c.MaxPositionEmbeddings, c.RMSNormEps, c.RopeTheta = 97, 4096, 1e-6, 1e6
		src := randomCheckpoint(rng, &c)
		ref, err := NewReference(&c, src, 5, 7)
		if err != nil {
			t.Fatal(err)
		}
		lens := testrand.Lengths(rng, 1+rng.IntN(5), 1+rng.IntN(400))
		seqs := make([][]int32, len(lens))
		for i, n := range lens {
			for range n {
				seqs[i] = append(seqs[i], int32(rng.IntN(c.VocabSize)))
			}
		}
		want, err := ref.Forward(seqs)
		if err != nil {
			t.Fatal(err)
		}
		for bname, nb := range backends() {
			m, err := New(t.Context(), &c, src, nb(), 5, 7)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Forward(t.Context(), seqs)
			if err != nil {
				t.Fatal(err)
			}
			for i := range seqs {
				w := float64(want[i][0]) - float64(want[i][1])
				if d := math.Abs(float64(got[i][0]) - w); d > 1e-4*max(1, math.Abs(w)) {
					t.Errorf("%s %s: sequence %d of %d tokens: %v, reference %v", bname, fmt.Sprint(c.HeadDim), i, lens[i], got[i][0], w)
				}
			}
		}
	}
}

// plainBackend has only the seam's plain operations (as the CUDA backend
// has today): a decoder refuses it at load, naming what is missing.
type plainBackend struct{ ml.Backend }
type plainRun struct{ ml.Run }

func (b plainBackend) NewRun(ctx context.Context, tokens int) (ml.Run, error) {
	r, err := b.Backend.NewRun(ctx, tokens)
	return plainRun{r}, err
}

func TestModelRefusesABackendWithoutDecoderOps(t *testing.T) {
	g := loadIndex(t)
	_, err := Load(t.Context(), filepath.Join(testdata, "models", "qwen3-tied"),
		Options{Backend: plainBackend{reference.New()}, YesID: g.YesID, NoID: g.NoID})
	if !errors.Is(err, ml.ErrUnsupported) || !strings.Contains(err.Error(), "has no Add") {
		t.Errorf("a backend without the decoder's operations: %v", err)
	}
}
