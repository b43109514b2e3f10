package qwen3

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hubConfig is Qwen/Qwen3-Reranker-0.6B's config.json as the Hub ships it
// (transformers 4.51 wrote it).
const hubConfig = `{
  "architectures": ["Qwen3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 1024,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "max_position_embeddings": 40960,
  "max_window_layers": 28,
  "model_type": "qwen3",
  "num_attention_heads": 16,
  "num_hidden_layers": 28,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": null,
  "tie_word_embeddings": true,
  "torch_dtype": "float32",
  "transformers_version": "4.51.0",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151669
}`

func TestParseHubConfig(t *testing.T) {
	c, err := ParseConfig([]byte(hubConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Arch: CausalLM, Architectures: []string{"Qwen3ForCausalLM"}, VocabSize: 151669, HiddenSize: 1024,
		IntermediateSize: 3072, NumHiddenLayers: 28, NumAttentionHeads: 16, NumKeyValueHeads: 8, HeadDim: 128,
		MaxPositionEmbeddings: 40960, RMSNormEps: 1e-6, RopeTheta: 1e6, TieWordEmbeddings: true, DType: "float32", QKNorm: true}
	c.Architectures = want.Architectures
	if got, _ := json.Marshal(c); string(got) != string(must(json.Marshal(want))) {
		t.Errorf("got %s\nwant %s", got, must(json.Marshal(want)))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// The fixtures' three config.json forms: the Hub's, transformers 5's, and
// the converted sequence-classification model's.
func TestParseFixtureConfigs(t *testing.T) {
	for name, want := range map[string]struct {
		arch  Arch
		theta float64
		tied  bool
	}{
		"qwen3-tied":    {CausalLM, 1e6, true},
		"qwen3-untied":  {CausalLM, 1e4, false},
		"qwen3-seq-cls": {SequenceClassification, 1e6, true},
	} {
		c, err := LoadConfig(filepath.Join(testdata, "models", name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.Arch != want.arch || c.RopeTheta != want.theta || c.TieWordEmbeddings != want.tied ||
			c.HeadDim != 16 || c.NumKeyValueHeads != 2 || c.NumAttentionHeads != 4 || c.DType != "bfloat16" {
			t.Errorf("%s: %+v", name, c)
		}
		if want.arch == SequenceClassification && (c.NumLabels != 1 || c.PadTokenID == nil) {
			t.Errorf("%s: %d labels, pad_token_id %v", name, c.NumLabels, c.PadTokenID)
		}
	}
}

// edit returns the Hub config with key set to value (a JSON text), or
// removed when value is "".
func edit(t *testing.T, key, value string) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(hubConfig), &m); err != nil {
		t.Fatal(err)
	}
	if value == "" {
		delete(m, key)
	} else {
		m[key] = json.RawMessage(value)
	}
	return must(json.Marshal(m))
}

func TestParseConfigErrors(t *testing.T) {
	for _, c := range []struct {
		key, value, want string
	}{
		{"quantization_config", `{"bits": 4}`, "unknown field(s) quantization_config"},
		{"hidden_size", "", "missing hidden_size"},
		{"vocab_size", "", "missing vocab_size"},
		{"rope_theta", "", "missing rope_theta"},
		{"rope_parameters", `{"rope_type": "default", "rope_theta": 10000}`, "both rope_theta and rope_parameters"},
		{"rope_scaling", `{"rope_type": "yarn", "factor": 4}`, "rope_scaling"},
		{"hidden_act", `"gelu"`, "hidden_act"},
		{"attention_bias", "true", "attention_bias"},
		{"use_sliding_window", "true", "use_sliding_window"},
		{"num_key_value_heads", "5", "not a multiple"},
		{"head_dim", "7", "odd"},
		{"hidden_size", "0", "hidden_size is 0"},
		{"hidden_size", "-3", "hidden_size is -3"},
		{"hidden_size", `"big"`, "cannot unmarshal"},
		{"rms_norm_eps", "0", "rms_norm_eps"},
		{"architectures", `["LlamaForCausalLM"]`, "want one of Qwen3ForCausalLM"},
		{"model_type", `"qwen2"`, "model_type"},
		{"pad_token_id", "151669", "pad_token_id"},
		{"torch_dtype", `"int4"`, "dtype"},
		{"layer_types", `["sliding_attention"]`, "layer_types"},
	} {
		_, err := ParseConfig(edit(t, c.key, c.value))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s = %s: error %v, want one containing %q", c.key, c.value, err, c.want)
		}
	}
	// transformers 5's form parses; without its theta it is refused.
	noTheta := edit(t, "rope_theta", "")
	var m map[string]json.RawMessage
	json.Unmarshal(noTheta, &m)
	m["rope_parameters"] = json.RawMessage(`{"rope_type": "default"}`)
	if _, err := ParseConfig(must(json.Marshal(m))); err == nil || !strings.Contains(err.Error(), "rope_parameters.rope_theta") {
		t.Errorf("rope_parameters without rope_theta: %v", err)
	}
	m["rope_parameters"] = json.RawMessage(`{"rope_type": "default", "rope_theta": 5e5}`)
	if c, err := ParseConfig(must(json.Marshal(m))); err != nil || c.RopeTheta != 5e5 {
		t.Errorf("rope_parameters: %v, %v", c, err)
	}
	// A sequence-classification form with two labels is not a re-ranker.
	seq := edit(t, "architectures", `["Qwen3ForSequenceClassification"]`)
	if _, err := ParseConfig(seq); err == nil || !strings.Contains(err.Error(), "2 labels") {
		t.Errorf("seq-cls without id2label (2 labels by default): %v", err)
	}
	if _, err := LoadConfig(t.TempDir()); err == nil {
		t.Error("no config.json: no error")
	}
	if Handles([]byte(`{"architectures": ["BertForSequenceClassification"]}`)) || !Handles([]byte(hubConfig)) {
		t.Error("IsQwen3 wrong")
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(hubConfig))
	for _, n := range modelNames {
		if b, err := os.ReadFile(filepath.Join(testdata, "models", n, "config.json")); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"architectures": ["Qwen3ForCausalLM"], "vocab_size": 1e30}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := ParseConfig(raw)
		if err != nil {
			return
		}
		// What the model sizes slices from must be sane.
		if c.HiddenSize <= 0 || c.HeadDim <= 0 || c.NumKeyValueHeads <= 0 || c.NumAttentionHeads%c.NumKeyValueHeads != 0 ||
			c.VocabSize <= 0 || c.NumHiddenLayers <= 0 || c.IntermediateSize <= 0 || !(c.RopeTheta > 1) || !(c.RMSNormEps > 0) {
			t.Fatalf("accepted %+v", c)
		}
	})
}

// A Qwen2 config.json of mxbai-rerank-base-v2's shape (Qwen2.5-0.5B), in the Hub's form.
const mxbaiConfig = `{
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151643,
  "hidden_act": "silu",
  "hidden_size": 896,
  "initializer_range": 0.02,
  "intermediate_size": 4864,
  "max_position_embeddings": 32768,
  "max_window_layers": 24,
  "model_type": "qwen2",
  "num_attention_heads": 14,
  "num_hidden_layers": 24,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 32768,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.48.0",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}`

func TestParseQwen2Config(t *testing.T) {
	c, err := ParseConfig([]byte(mxbaiConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.Arch != Qwen2CausalLM || c.HeadDim != 64 || c.NumKeyValueHeads != 2 || c.QKNorm || !c.QKVBias || c.RopeTheta != 1e6 || !c.TieWordEmbeddings {
		t.Errorf("%+v", c)
	}
	if !Handles([]byte(mxbaiConfig)) || !Handles([]byte(`{"model_type": "qwen2"}`)) {
		t.Error("Handles refuses a Qwen2 config")
	}
	if _, err := ParseConfig([]byte(strings.Replace(mxbaiConfig, `"model_type": "qwen2"`, `"model_type": "qwen3"`, 1))); err == nil {
		t.Error("Qwen2ForCausalLM with model_type qwen3: no error")
	}
}
