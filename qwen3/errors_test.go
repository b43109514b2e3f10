package qwen3

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/weights"
)

// mapSource is a tensor source in memory: the fixture's tensors, edited.
type mapSource map[string]struct {
	data  []float32
	shape []int
}

func (m mapSource) Float32(name string) ([]float32, []int, error) {
	t, ok := m[name]
	if !ok {
		return nil, nil, errors.New("tensor " + name + " not found")
	}
	return t.data, t.shape, nil
}

func fixtureSource(t *testing.T, name string) (*Config, mapSource) {
	t.Helper()
	dir := filepath.Join(testdata, "models", name)
	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := weights.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	src := mapSource{}
	for _, n := range ck.Names() {
		d, s, err := ck.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		src[n] = struct {
			data  []float32
			shape []int
		}{append([]float32(nil), d...), s}
	}
	return cfg, src
}

func TestLoadRejectsBadCheckpoints(t *testing.T) {
	g := loadIndex(t)
	for _, c := range []struct {
		model, what string
		edit        func(cfg *Config, src mapSource)
		want        string
	}{
		{"qwen3-tied", "missing tensor", func(_ *Config, s mapSource) { delete(s, "model.layers.1.self_attn.k_norm.weight") },
			`model.layers.1.self_attn.k_norm.weight`},
		{"qwen3-untied", "missing lm_head", func(_ *Config, s mapSource) { delete(s, "lm_head.weight") }, "lm_head.weight"},
		{"qwen3-seq-cls", "missing score", func(_ *Config, s mapSource) { delete(s, "score.weight") }, "score.weight"},
		{"qwen3-tied", "wrong shape", func(_ *Config, s mapSource) {
			e := s["model.layers.0.self_attn.k_proj.weight"]
			e.shape = []int{64, 32}
			s["model.layers.0.self_attn.k_proj.weight"] = e
		}, "shape [64 32], want [32 32]"},
		{"qwen3-tied", "config says more kv heads", func(c *Config, _ mapSource) { c.NumKeyValueHeads = 4 }, "want [64 32]"},
		{"qwen3-tied", "config says another head_dim", func(c *Config, _ mapSource) { c.HeadDim = 8 }, "want [32 32]"},
		{"qwen3-tied", "NaN weight", func(_ *Config, s mapSource) { s["model.norm.weight"].data[3] = float32(nan()) }, "element 3 is NaN"},
	} {
		cfg, src := fixtureSource(t, c.model)
		c.edit(cfg, src)
		_, err := NewReference(cfg, src, g.YesID, g.NoID)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: error %v, want one containing %q", c.model, c.what, err, c.want)
		}
	}
	cfg, src := fixtureSource(t, "qwen3-tied")
	if _, err := NewReference(cfg, src, int32(cfg.VocabSize), 0); err == nil {
		t.Error("a yes id outside the vocabulary: no error")
	}
	if err := checkLayerCount([]string{"model.layers.2.mlp.up_proj.weight"}, 2); err == nil {
		t.Error("a third layer in a two-layer config: no error")
	}
	if err := checkLayerCount([]string{"model.layers.1.mlp.up_proj.weight", "lm_head.weight"}, 2); err != nil {
		t.Error(err)
	}
}

func nan() float64 {
	var zero float64
	return zero / zero
}
