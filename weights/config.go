package weights

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Arch is a model architecture the forward pass implements.
type Arch int

const (
	ArchUnknown Arch = iota
	// Bert is BertForSequenceClassification: pooler (dense + tanh on [CLS])
	// then classifier (one Linear).
	Bert
	// XLMRoberta is XLMRobertaForSequenceClassification: classifier.dense ->
	// tanh -> classifier.out_proj on <s>; position ids start after padding_idx.
	XLMRoberta
	// ModernBert is ModernBertForSequenceClassification (package
	// modernbert, which reads its own fields from Config.Raw).
	ModernBert
)

// archNames maps the Hub's architectures entry to an Arch.
var archNames = map[string]Arch{
	"BertForSequenceClassification":       Bert,
	"XLMRobertaForSequenceClassification": XLMRoberta,
	"ModernBertForSequenceClassification": ModernBert,
}

// modelTypes maps config.json's model_type, for configs without architectures.
var modelTypes = map[string]Arch{"bert": Bert, "xlm-roberta": XLMRoberta, "modernbert": ModernBert}

func (a Arch) String() string {
	switch a {
	case Bert:
		return "BertForSequenceClassification"
	case XLMRoberta:
		return "XLMRobertaForSequenceClassification"
	case ModernBert:
		return "ModernBertForSequenceClassification"
	}
	return "unknown"
}

// Prefix is the name of the encoder module in checkpoint names: "bert" or
// "roberta" (as in "bert.encoder.layer.0...").
func (a Arch) Prefix() string {
	switch a {
	case Bert:
		return "bert"
	case XLMRoberta:
		return "roberta"
	case ModernBert:
		return "model"
	}
	return ""
}

// SupportedArchitectures lists the architectures entries LoadConfig accepts.
func SupportedArchitectures() []string {
	out := make([]string, 0, len(archNames))
	for n := range archNames {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Config is what the forward pass needs from config.json. JSON names are the
// Hub's; a field absent from the file takes the default transformers gives it
// (BertConfig / XLMRobertaConfig / PretrainedConfig).
type Config struct {
	Architectures         []string          `json:"architectures"`
	ModelType             string            `json:"model_type"`
	VocabSize             int               `json:"vocab_size"`
	HiddenSize            int               `json:"hidden_size"`
	NumHiddenLayers       int               `json:"num_hidden_layers"`
	NumAttentionHeads     int               `json:"num_attention_heads"`
	IntermediateSize      int               `json:"intermediate_size"`
	HiddenAct             string            `json:"hidden_act"`
	MaxPositionEmbeddings int               `json:"max_position_embeddings"`
	TypeVocabSize         int               `json:"type_vocab_size"`
	LayerNormEps          float64           `json:"layer_norm_eps"`
	PadTokenID            int               `json:"pad_token_id"`
	PositionEmbeddingType string            `json:"position_embedding_type"`
	TorchDtype            string            `json:"torch_dtype,omitempty"`
	Dtype                 string            `json:"dtype,omitempty"` // transformers >= 4.56 writes "dtype"
	ID2Label              map[string]string `json:"id2label,omitempty"`
	Label2ID              map[string]int    `json:"label2id,omitempty"`
	ProblemType           string            `json:"problem_type,omitempty"`

	// NumLabels is len(id2label), else config.json's num_labels, else 2,
	// as PretrainedConfig computes it (config.json normally has no
	// num_labels; it is derived).
	NumLabels int `json:"num_labels"`

	// What sentence-transformers' CrossEncoder saved about the activation
	// it applies to the logits: the old key, and the newer block.
	SbertCEDefaultActivationFunction string `json:"sbert_ce_default_activation_function,omitempty"`
	SentenceTransformers             *struct {
		ActivationFn string `json:"activation_fn,omitempty"`
		Version      string `json:"version,omitempty"`
	} `json:"sentence_transformers,omitempty"`

	// Raw is the config.json this was parsed from, for the fields an
	// architecture's package reads itself (ModernBERT's layer types,
	// windows and RoPE bases).
	Raw json.RawMessage `json:"-"`
}

// defaults are transformers' BertConfig / XLMRobertaConfig defaults (they
// agree except pad_token_id: 0 for BERT, 1 for XLM-R).
func defaults(a Arch) Config {
	c := Config{
		VocabSize:             30522,
		HiddenSize:            768,
		NumHiddenLayers:       12,
		NumAttentionHeads:     12,
		IntermediateSize:      3072,
		HiddenAct:             "gelu",
		MaxPositionEmbeddings: 512,
		TypeVocabSize:         2,
		LayerNormEps:          1e-12,
		PadTokenID:            0,
		PositionEmbeddingType: "absolute",
	}
	switch a {
	case XLMRoberta:
		c.PadTokenID = 1
	case ModernBert:
		// ModernBertConfig's defaults for the fields read here (its norm
		// epsilon is norm_eps, which package modernbert reads).
		c.VocabSize, c.IntermediateSize, c.NumHiddenLayers = 50368, 1152, 22
		c.MaxPositionEmbeddings, c.PadTokenID, c.LayerNormEps = 8192, 50283, 1e-5
	}
	return c
}

// LoadConfig reads dir/config.json (dir may also be the file itself).
func LoadConfig(dir string) (*Config, error) {
	path := dir
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		path = filepath.Join(dir, ConfigFile)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	c, err := ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses the contents of a config.json.
func ParseConfig(raw []byte) (*Config, error) {
	// First find the architecture, which decides the defaults, then decode
	// over them so that absent fields (and nulls) keep the default.
	var head struct {
		Architectures []string `json:"architectures"`
		ModelType     string   `json:"model_type"`
		NumLabels     *int     `json:"num_labels"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, err
	}
	arch, err := archOf(head.Architectures, head.ModelType)
	if err != nil {
		return nil, err
	}
	c := defaults(arch)
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	switch {
	case len(c.ID2Label) > 0:
		c.NumLabels = len(c.ID2Label)
	case head.NumLabels != nil:
		c.NumLabels = *head.NumLabels
	default:
		c.NumLabels = 2
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	c.Raw = append(json.RawMessage(nil), raw...)
	return &c, nil
}

func archOf(architectures []string, modelType string) (Arch, error) {
	supported := strings.Join(SupportedArchitectures(), ", ")
	if len(architectures) == 0 {
		if a, ok := modelTypes[modelType]; ok {
			return a, nil
		}
		return ArchUnknown, fmt.Errorf("no architectures and model_type %q: crossrank supports %s", modelType, supported)
	}
	for _, n := range architectures {
		if a, ok := archNames[n]; ok {
			return a, nil
		}
	}
	return ArchUnknown, fmt.Errorf("architecture %s is not supported (supported: %s)", strings.Join(architectures, ", "), supported)
}

// Arch is the architecture config.json names.
func (c *Config) Arch() Arch {
	a, _ := archOf(c.Architectures, c.ModelType)
	return a
}

// DType is the dtype the checkpoint was saved in, as config.json says
// ("float32", "float16", "bfloat16"), or "" when it does not say.
func (c *Config) DType() string {
	if c.Dtype != "" {
		return c.Dtype
	}
	return c.TorchDtype
}

// Labels are the class names in logit order (LABEL_i where id2label lacks one).
func (c *Config) Labels() []string {
	out := make([]string, c.NumLabels)
	for i := range out {
		if l, ok := c.ID2Label[strconv.Itoa(i)]; ok {
			out[i] = l
		} else {
			out[i] = "LABEL_" + strconv.Itoa(i)
		}
	}
	return out
}

// HeadDim is the size of one attention head.
func (c *Config) HeadDim() int { return c.HiddenSize / c.NumAttentionHeads }

// maxLabels bounds num_labels, which sizes a slice before any weight is read.
const maxLabels = 1 << 16

// validate rejects what would make the forward pass index out of range or
// compute something other than what transformers computes.
func (c *Config) validate() error {
	pos := map[string]int{
		"vocab_size": c.VocabSize, "hidden_size": c.HiddenSize, "num_hidden_layers": c.NumHiddenLayers,
		"num_attention_heads": c.NumAttentionHeads, "intermediate_size": c.IntermediateSize,
		"max_position_embeddings": c.MaxPositionEmbeddings, "type_vocab_size": c.TypeVocabSize,
		"num_labels": c.NumLabels,
	}
	keys := make([]string, 0, len(pos))
	for k := range pos {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if pos[k] <= 0 {
			return fmt.Errorf("%s is %d, want > 0", k, pos[k])
		}
	}
	if c.NumLabels > maxLabels {
		return fmt.Errorf("num_labels is %d, more than %d", c.NumLabels, maxLabels)
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if c.PositionEmbeddingType != "absolute" {
		return fmt.Errorf("position_embedding_type %q is not supported (only \"absolute\")", c.PositionEmbeddingType)
	}
	if !(c.LayerNormEps > 0) {
		return fmt.Errorf("layer_norm_eps is %g, want > 0", c.LayerNormEps)
	}
	for k := range c.ID2Label {
		if i, err := strconv.Atoi(k); err != nil || i < 0 || i >= len(c.ID2Label) {
			return fmt.Errorf("id2label key %q is not a label index 0..%d", k, len(c.ID2Label)-1)
		}
	}
	return nil
}
