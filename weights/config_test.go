package weights

import (
	"path/filepath"
	"strings"
	"testing"
)

// The config.json of cross-encoder/ms-marco-MiniLM-L-6-v2 as on the Hub
// (an old transformers wrote it: no dtype, num_labels from id2label).
const miniLMConfig = `{
  "_name_or_path": "cross-encoder/ms-marco-MiniLM-L-6-v2",
  "architectures": ["BertForSequenceClassification"],
  "attention_probs_dropout_prob": 0.1,
  "gradient_checkpointing": false,
  "hidden_act": "gelu",
  "hidden_dropout_prob": 0.1,
  "hidden_size": 384,
  "id2label": {"0": "LABEL_0"},
  "initializer_range": 0.02,
  "intermediate_size": 1536,
  "label2id": {"LABEL_0": 0},
  "layer_norm_eps": 1e-12,
  "max_position_embeddings": 512,
  "model_type": "bert",
  "num_attention_heads": 12,
  "num_hidden_layers": 6,
  "pad_token_id": 0,
  "position_embedding_type": "absolute",
  "sbert_ce_default_activation_function": "torch.nn.modules.linear.Identity",
  "transformers_version": "4.6.0.dev0",
  "type_vocab_size": 2,
  "use_cache": true,
  "vocab_size": 30522
}`

// The shape of BAAI/bge-reranker-v2-m3's config.json.
const bgeM3Config = `{
  "architectures": ["XLMRobertaForSequenceClassification"],
  "attention_probs_dropout_prob": 0.1, "bos_token_id": 0, "classifier_dropout": null,
  "eos_token_id": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 1024,
  "id2label": {"0": "LABEL_0"}, "initializer_range": 0.02, "intermediate_size": 4096,
  "label2id": {"LABEL_0": 0}, "layer_norm_eps": 1e-05, "max_position_embeddings": 8194,
  "model_type": "xlm-roberta", "num_attention_heads": 16, "num_hidden_layers": 24,
  "output_past": true, "pad_token_id": 1, "position_embedding_type": "absolute",
  "torch_dtype": "float32", "transformers_version": "4.38.1", "type_vocab_size": 1,
  "use_cache": true, "vocab_size": 250002
}`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(miniLMConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.Arch() != Bert || c.HiddenSize != 384 || c.NumHiddenLayers != 6 || c.IntermediateSize != 1536 ||
		c.NumLabels != 1 || c.HeadDim() != 32 || c.LayerNormEps != 1e-12 || c.HiddenAct != "gelu" ||
		c.SbertCEDefaultActivationFunction != "torch.nn.modules.linear.Identity" {
		t.Errorf("MiniLM config = %+v", c)
	}
	c, err = ParseConfig([]byte(bgeM3Config))
	if err != nil {
		t.Fatal(err)
	}
	if c.Arch() != XLMRoberta || c.MaxPositionEmbeddings != 8194 || c.TypeVocabSize != 1 ||
		c.LayerNormEps != 1e-5 || c.PadTokenID != 1 || c.NumLabels != 1 || c.DType() != "float32" || c.Labels()[0] != "LABEL_0" {
		t.Errorf("bge-m3 config = %+v", c)
	}
}

// Absent fields take the defaults of transformers' BertConfig /
// XLMRobertaConfig (configuration_bert.py, configuration_xlm_roberta.py) and
// PretrainedConfig's num_labels of 2.
func TestConfigDefaults(t *testing.T) {
	for _, tt := range []struct {
		json string
		arch Arch
		pad  int
	}{
		{`{"architectures": ["BertForSequenceClassification"]}`, Bert, 0},
		{`{"model_type": "xlm-roberta", "pad_token_id": null}`, XLMRoberta, 1},
	} {
		c, err := ParseConfig([]byte(tt.json))
		if err != nil {
			t.Fatal(err)
		}
		if c.Arch() != tt.arch || c.PadTokenID != tt.pad || c.VocabSize != 30522 || c.HiddenSize != 768 ||
			c.NumHiddenLayers != 12 || c.NumAttentionHeads != 12 || c.IntermediateSize != 3072 ||
			c.HiddenAct != "gelu" || c.MaxPositionEmbeddings != 512 || c.TypeVocabSize != 2 ||
			c.LayerNormEps != 1e-12 || c.PositionEmbeddingType != "absolute" || c.NumLabels != 2 {
			t.Errorf("%s: %+v", tt.json, c)
		}
	}
	c, err := ParseConfig([]byte(`{"architectures": ["BertForSequenceClassification"], "num_labels": 3}`))
	if err != nil || c.NumLabels != 3 || len(c.Labels()) != 3 || c.Labels()[2] != "LABEL_2" {
		t.Errorf("num_labels 3: %+v %v", c, err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct{ json, want string }{
		{`{"architectures": ["DebertaV2ForSequenceClassification"]}`, "DebertaV2ForSequenceClassification is not supported (supported: BertForSequenceClassification, ModernBertForSequenceClassification, XLMRobertaForSequenceClassification)"},
		{`{"model_type": "gpt2"}`, `model_type "gpt2"`},
		{`{"architectures": ["BertForSequenceClassification"], "hidden_size": 100}`, "not a multiple"},
		{`{"architectures": ["BertForSequenceClassification"], "position_embedding_type": "relative_key"}`, "relative_key"},
		{`{"architectures": ["BertForSequenceClassification"], "num_hidden_layers": 0}`, "num_hidden_layers is 0"},
		{`{"architectures": ["BertForSequenceClassification"], "id2label": {"1": "a"}}`, `id2label key "1"`},
		{`{"architectures": "BertForSequenceClassification"}`, "cannot unmarshal"},
	} {
		_, err := ParseConfig([]byte(tt.json))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to say %q", tt.json, err, tt.want)
		}
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "config.json"), []byte(`{"architectures": ["T5ForConditionalGeneration"]}`))
	if _, err := LoadConfig(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "config.json")) {
		t.Errorf("LoadConfig err = %v, want it to name the file", err)
	}
}
