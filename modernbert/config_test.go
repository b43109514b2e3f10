package modernbert

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// hubConfig is gte-reranker-modernbert-base's config.json in the form the
// Hub ships (transformers 4.48), trimmed to the keys that matter and a few
// that must be ignored.
const hubConfig = `{
  "architectures": ["ModernBertForSequenceClassification"],
  "attention_bias": false, "attention_dropout": 0.0, "classifier_activation": "gelu",
  "classifier_bias": false, "classifier_dropout": 0.0, "classifier_pooling": "mean",
  "global_attn_every_n_layers": 3, "global_rope_theta": 160000.0, "hidden_activation": "gelu",
  "hidden_size": 768, "id2label": {"0": "LABEL_0"}, "intermediate_size": 1152,
  "local_attention": 128, "local_rope_theta": 10000.0, "max_position_embeddings": 8192,
  "mlp_bias": false, "model_type": "modernbert", "norm_bias": false, "norm_eps": 1e-05,
  "num_attention_heads": 12, "num_hidden_layers": 22, "pad_token_id": 50283,
  "reference_compile": true, "repad_logits_with_grad": false, "sparse_prediction": false,
  "torch_dtype": "float32", "transformers_version": "4.48.0", "vocab_size": 50368
}`

func TestParseConfigHubForm(t *testing.T) {
	c, err := ParseConfig([]byte(hubConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.HiddenSize != 768 || c.HeadDim != 64 || c.NumHiddenLayers != 22 || c.IntermediateSize != 1152 ||
		c.VocabSize != 50368 || c.NumLabels != 1 || c.Pooling != PoolMean || c.DType != "float32" {
		t.Errorf("sizes: %+v", c)
	}
	if c.NormBias || c.AttentionBias || c.MLPBias || c.ClassifierBias {
		t.Errorf("biases on: %+v", c)
	}
	if c.LocalAttention != 128 || c.Window() != 64 || c.GlobalRopeTheta != 160000 || c.LocalRopeTheta != 10000 {
		t.Errorf("window %d/%d, thetas %v %v", c.LocalAttention, c.Window(), c.GlobalRopeTheta, c.LocalRopeTheta)
	}
	for i, lt := range c.LayerTypes {
		want := SlidingAttention
		if i%3 == 0 {
			want = FullAttention
		}
		if lt != want {
			t.Errorf("layer %d: %s, want %s", i, lt, want)
		}
	}
	if c.RopeTheta(0) != 160000 || c.RopeTheta(1) != 10000 {
		t.Errorf("RopeTheta: %v %v", c.RopeTheta(0), c.RopeTheta(1))
	}
}

// TestParseConfigTransformers5Form: layer_types and rope_parameters win over
// the Hub's keys when a file has both, as in transformers 5.
func TestParseConfigTransformers5Form(t *testing.T) {
	c, err := ParseConfig([]byte(`{"architectures": ["ModernBertForSequenceClassification"],
		"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 3,
		"global_attn_every_n_layers": 2, "global_rope_theta": 1.0e6, "local_rope_theta": 99.0,
		"layer_types": ["sliding_attention", "full_attention", "sliding_attention"],
		"rope_parameters": {"full_attention": {"rope_type": "default", "rope_theta": 80000.0},
		                    "sliding_attention": {"rope_type": "default"}},
		"dtype": "bfloat16", "num_labels": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.LayerTypes, []string{SlidingAttention, FullAttention, SlidingAttention}) {
		t.Errorf("layer types %v", c.LayerTypes)
	}
	// sliding_attention has no rope_theta of its own: local_rope_theta fills it.
	if c.GlobalRopeTheta != 80000 || c.LocalRopeTheta != 99 {
		t.Errorf("thetas %v %v", c.GlobalRopeTheta, c.LocalRopeTheta)
	}
	if c.DType != "bfloat16" || c.NumLabels != 3 || c.Pooling != PoolCLS || c.LocalAttention != 128 {
		t.Errorf("%+v", c)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(`{"model_type": "modernbert"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.HiddenSize != 768 || c.NumHiddenLayers != 22 || c.MaxPositionEmbeddings != 8192 || c.NormEps != 1e-5 ||
		c.HiddenActivation != ActGELU || c.ClassifierActivation != ActGELU || c.NumLabels != 2 ||
		c.GlobalRopeTheta != 160000 || c.LocalRopeTheta != 10000 || c.LayerTypes[3] != FullAttention ||
		c.LayerTypes[4] != SlidingAttention {
		t.Errorf("%+v", c)
	}
}

func TestParseConfigRefusals(t *testing.T) {
	base := map[string]any{}
	if err := json.Unmarshal([]byte(hubConfig), &base); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit map[string]any // nil value deletes the key
		want string
	}{
		{"bert", map[string]any{"architectures": []string{"BertForSequenceClassification"}}, "this package loads"},
		{"no arch", map[string]any{"architectures": nil, "model_type": "bert"}, "not a ModernBERT"},
		{"heads", map[string]any{"num_attention_heads": 7}, "not a multiple"},
		{"odd head dim", map[string]any{"hidden_size": 36, "num_attention_heads": 12}, "odd"},
		{"head_dim", map[string]any{"head_dim": 32}, "head_dim 32"},
		{"zero hidden", map[string]any{"hidden_size": 0}, "hidden_size 0"},
		{"huge vocab", map[string]any{"vocab_size": 1 << 30}, "vocab_size"},
		{"layers", map[string]any{"num_hidden_layers": 10000}, "num_hidden_layers"},
		{"eps", map[string]any{"norm_eps": 0}, "norm_eps"},
		{"pooling", map[string]any{"classifier_pooling": "max"}, "classifier_pooling"},
		{"act", map[string]any{"hidden_activation": "quick_gelu"}, "hidden_activation"},
		{"head act", map[string]any{"classifier_activation": "tanhh"}, "classifier_activation"},
		{"layer_types len", map[string]any{"layer_types": []string{"full_attention"}}, "layer_types has 1"},
		{"layer_types kind", map[string]any{"num_hidden_layers": 1, "layer_types": []string{"chunked_attention"}}, "layer_types[0]"},
		{"every", map[string]any{"global_attn_every_n_layers": 0}, "global_attn_every_n_layers"},
		{"window", map[string]any{"local_attention": 0}, "local_attention"},
		{"window float", map[string]any{"local_attention": 12.5}, "local_attention"},
		{"window pair", map[string]any{"local_attention": []int{64, 64}}, "local_attention"},
		{"rope scaling", map[string]any{"rope_scaling": map[string]any{"rope_type": "linear", "factor": 2}}, "rope_scaling"},
		{"rope type", map[string]any{"rope_parameters": map[string]any{"full_attention": map[string]any{"rope_type": "yarn"}}}, "rope_type"},
		{"rope kind", map[string]any{"rope_parameters": map[string]any{"global": map[string]any{}}}, "rope_parameters has"},
		{"null local theta", map[string]any{"local_rope_theta": json.RawMessage("null")}, "null"},
		{"string theta", map[string]any{"global_rope_theta": "1e4"}, "global_rope_theta"},
		{"tiny theta", map[string]any{"global_rope_theta": 0.5}, "theta"},
		{"labels", map[string]any{"id2label": nil, "num_labels": 0}, "num_labels"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]any{}
			for k, v := range base {
				m[k] = v
			}
			for k, v := range tc.edit {
				if v == nil {
					delete(m, k)
				} else {
					m[k] = v
				}
			}
			data, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseConfig(data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := ParseConfig([]byte(`{"hidden_size": "big"`)); err == nil {
		t.Error("truncated JSON accepted")
	}
}

// FuzzParseConfig: any input gives a config or an error, never a panic, and
// an accepted config is one the forward pass can be built from.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(hubConfig))
	f.Add([]byte(`{"model_type": "modernbert", "num_hidden_layers": 2, "layer_types": ["full_attention", "sliding_attention"]}`))
	f.Add([]byte(`{"model_type": "modernbert", "rope_parameters": {"full_attention": null}, "local_attention": 2}`))
	f.Add([]byte(`{"model_type": "modernbert", "hidden_size": 4, "num_attention_heads": 2, "local_rope_theta": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if c.HiddenSize != c.HeadDim*c.NumAttentionHeads || c.HeadDim%2 != 0 || len(c.LayerTypes) != c.NumHiddenLayers ||
			c.LocalAttention < 2 || c.NumLabels < 1 || c.Pooling == 0 || c.HiddenActivation == 0 || c.ClassifierActivation == 0 {
			t.Fatalf("accepted an unusable config: %+v", c)
		}
		for i := range c.LayerTypes {
			if th := c.RopeTheta(i); !(th > 1) {
				t.Fatalf("layer %d: theta %v", i, th)
			}
		}
	})
}
