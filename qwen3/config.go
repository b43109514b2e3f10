package qwen3

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Arch is which of the two checkpoint forms config.json describes.
type Arch int

const (
	// CausalLM is Qwen3ForCausalLM as Qwen/Qwen3-Reranker-* ship it: the
	// score is read from the lm_head rows of "yes" and "no".
	CausalLM Arch = iota + 1
	// SequenceClassification is Qwen3ForSequenceClassification with one
	// label: the community conversion whose score row is
	// lm_head[yes] - lm_head[no] (e.g. tomaarsen/Qwen3-Reranker-0.6B-seq-cls).
	SequenceClassification
	// Qwen2CausalLM is Qwen2ForCausalLM, as mixedbread-ai/mxbai-rerank-base-v2
	// and -large-v2 ship it: Qwen3's decoder with biases on the q/k/v
	// projections and no q_norm/k_norm, scored from lm_head rows too.
	Qwen2CausalLM
)

func (a Arch) String() string {
	switch a {
	case CausalLM:
		return "Qwen3ForCausalLM"
	case SequenceClassification:
		return "Qwen3ForSequenceClassification"
	case Qwen2CausalLM:
		return "Qwen2ForCausalLM"
	}
	return "unknown"
}

// Architectures are the config.json architectures this package loads.
var Architectures = []string{CausalLM.String(), SequenceClassification.String(), Qwen2CausalLM.String()}

// modelType is config.json's model_type for a.
func (a Arch) modelType() string {
	if a == Qwen2CausalLM {
		return "qwen2"
	}
	return "qwen3"
}

// Config is what the forward pass needs from a Qwen3 config.json. JSON names
// are the Hub's. Both forms are read: the Hub's (transformers 4.51:
// rope_theta and rope_scaling at the top) and transformers 5's
// (rope_parameters).
//
// https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/qwen3/configuration_qwen3.py
type Config struct {
	Arch                  Arch
	Architectures         []string
	VocabSize             int
	HiddenSize            int
	IntermediateSize      int
	NumHiddenLayers       int
	NumAttentionHeads     int
	NumKeyValueHeads      int
	HeadDim               int
	MaxPositionEmbeddings int
	RMSNormEps            float64
	RopeTheta             float64
	TieWordEmbeddings     bool
	NumLabels             int    // SequenceClassification only: 1
	PadTokenID            *int   // pad_token_id, nil when absent or null
	DType                 string // the stored dtype config.json names, or ""

	// What the two families' attention differs in: Qwen3 normalises each
	// query and key head (q_norm, k_norm), Qwen2 adds biases to the q, k
	// and v projections (Qwen2Attention has bias=True there, whatever the
	// config says).
	QKNorm, QKVBias bool
}

// rawConfig is config.json as the Hub and transformers write it. Pointers
// tell an absent (or null) field from a zero.
type rawConfig struct {
	Architectures         []string         `json:"architectures"`
	ModelType             string           `json:"model_type"`
	VocabSize             *int             `json:"vocab_size"`
	HiddenSize            *int             `json:"hidden_size"`
	IntermediateSize      *int             `json:"intermediate_size"`
	NumHiddenLayers       *int             `json:"num_hidden_layers"`
	NumAttentionHeads     *int             `json:"num_attention_heads"`
	NumKeyValueHeads      *int             `json:"num_key_value_heads"`
	HeadDim               *int             `json:"head_dim"`
	HiddenAct             *string          `json:"hidden_act"`
	MaxPositionEmbeddings *int             `json:"max_position_embeddings"`
	RMSNormEps            *float64         `json:"rms_norm_eps"`
	RopeTheta             *float64         `json:"rope_theta"`
	RopeScaling           *json.RawMessage `json:"rope_scaling"`
	RopeParameters        *struct {
		RopeType  string   `json:"rope_type"`
		RopeTheta *float64 `json:"rope_theta"`
	} `json:"rope_parameters"`
	AttentionBias     *bool             `json:"attention_bias"`
	UseSlidingWindow  *bool             `json:"use_sliding_window"`
	LayerTypes        []string          `json:"layer_types"`
	TieWordEmbeddings *bool             `json:"tie_word_embeddings"`
	ID2Label          map[string]string `json:"id2label"`
	NumLabels         *int              `json:"num_labels"`
	PadTokenID        *int              `json:"pad_token_id"`
	TorchDtype        string            `json:"torch_dtype"`
	Dtype             string            `json:"dtype"`
}

// knownFields are the config.json keys of Qwen3Config and PretrainedConfig
// that either feed the fields above or do not change what the forward pass
// computes (generation, training and bookkeeping settings). Any other key
// is refused: crossrank cannot know whether it changes the maths.
var knownFields = map[string]bool{
	// read above
	"architectures": true, "model_type": true, "vocab_size": true, "hidden_size": true,
	"intermediate_size": true, "num_hidden_layers": true, "num_attention_heads": true,
	"num_key_value_heads": true, "head_dim": true, "hidden_act": true, "max_position_embeddings": true,
	"rms_norm_eps": true, "rope_theta": true, "rope_scaling": true, "rope_parameters": true,
	"attention_bias": true, "use_sliding_window": true, "layer_types": true, "tie_word_embeddings": true,
	"id2label": true, "label2id": true, "num_labels": true, "pad_token_id": true, "torch_dtype": true, "dtype": true,
	// no effect on a forward pass in eval mode with full attention
	"sliding_window": true, "max_window_layers": true, "attention_dropout": true, "initializer_range": true,
	"use_cache": true, "bos_token_id": true, "eos_token_id": true, "transformers_version": true,
	"_name_or_path": true, "problem_type": true, "output_attentions": true, "output_hidden_states": true,
	"return_dict": true, "is_encoder_decoder": true, "_attn_implementation_autoset": true,
	"sentence_transformers": true, "sbert_ce_default_activation_function": true,
}

// maxDim bounds each size before anything is allocated from it.
const maxDim = 1 << 24

// LoadConfig reads dir/config.json.
func LoadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("qwen3: %w", err)
	}
	c, err := ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("qwen3: %s: %w", path, err)
	}
	return c, nil
}

// Handles reports whether a config.json names one of this package's
// architectures (or model_type "qwen3" or "qwen2" without architectures).
func Handles(raw []byte) bool {
	var head struct {
		Architectures []string `json:"architectures"`
		ModelType     string   `json:"model_type"`
	}
	if json.Unmarshal(raw, &head) != nil {
		return false
	}
	_, err := archOf(head.Architectures, head.ModelType)
	return err == nil
}

func archOf(architectures []string, modelType string) (Arch, error) {
	for _, a := range architectures {
		switch a {
		case CausalLM.String():
			return CausalLM, nil
		case SequenceClassification.String():
			return SequenceClassification, nil
		case Qwen2CausalLM.String():
			return Qwen2CausalLM, nil
		}
	}
	if len(architectures) == 0 && modelType == "qwen3" {
		return CausalLM, nil
	}
	if len(architectures) == 0 && modelType == "qwen2" {
		return Qwen2CausalLM, nil
	}
	return 0, fmt.Errorf("architectures %v (model_type %q): want one of %s", architectures, modelType, strings.Join(Architectures, ", "))
}

// ParseConfig parses the contents of a Qwen3 config.json.
func ParseConfig(raw []byte) (*Config, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, err
	}
	var unknown []string
	for k := range keys {
		if !knownFields[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown field(s) %s: crossrank cannot tell whether they change the forward pass", strings.Join(unknown, ", "))
	}
	var r rawConfig
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&r); err != nil {
		return nil, err
	}
	arch, err := archOf(r.Architectures, r.ModelType)
	if err != nil {
		return nil, err
	}
	if r.ModelType != "" && r.ModelType != arch.modelType() {
		return nil, fmt.Errorf("model_type %q, want %q for %v", r.ModelType, arch.modelType(), arch)
	}
	c := &Config{Arch: arch, Architectures: r.Architectures, PadTokenID: r.PadTokenID}
	c.QKNorm, c.QKVBias = arch != Qwen2CausalLM, arch == Qwen2CausalLM
	c.DType = r.Dtype
	if c.DType == "" {
		c.DType = r.TorchDtype
	}

	// Sizes have no safe default: transformers' defaults are Qwen3-8B's,
	// which no re-ranker checkpoint omits on purpose.
	var missing []string
	need := func(name string, p *int, dst *int) {
		if p == nil {
			missing = append(missing, name)
			return
		}
		*dst = *p
	}
	need("vocab_size", r.VocabSize, &c.VocabSize)
	need("hidden_size", r.HiddenSize, &c.HiddenSize)
	need("intermediate_size", r.IntermediateSize, &c.IntermediateSize)
	need("num_hidden_layers", r.NumHiddenLayers, &c.NumHiddenLayers)
	need("num_attention_heads", r.NumAttentionHeads, &c.NumAttentionHeads)
	switch {
	case r.RopeParameters != nil && r.RopeTheta != nil:
		return nil, errors.New("both rope_theta and rope_parameters: say it once")
	case r.RopeParameters != nil:
		if t := r.RopeParameters.RopeType; t != "default" && t != "" {
			return nil, fmt.Errorf("rope_parameters.rope_type %q is not supported (only \"default\")", t)
		}
		if r.RopeParameters.RopeTheta == nil {
			missing = append(missing, "rope_parameters.rope_theta")
		} else {
			c.RopeTheta = *r.RopeParameters.RopeTheta
		}
	case r.RopeTheta != nil:
		c.RopeTheta = *r.RopeTheta
	default:
		missing = append(missing, "rope_theta (or rope_parameters)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}

	// Defaults as Qwen3Config has them.
	c.NumKeyValueHeads = c.NumAttentionHeads
	if r.NumKeyValueHeads != nil {
		c.NumKeyValueHeads = *r.NumKeyValueHeads
	}
	c.HeadDim = 128 // Qwen3Config's default
	if arch == Qwen2CausalLM {
		// Qwen2Config has no head_dim; Qwen2Attention divides.
		c.HeadDim = 0
		if c.NumAttentionHeads > 0 && c.HiddenSize%c.NumAttentionHeads == 0 {
			c.HeadDim = c.HiddenSize / c.NumAttentionHeads
		}
	}
	if r.HeadDim != nil {
		c.HeadDim = *r.HeadDim
	}
	c.MaxPositionEmbeddings = 32768
	if r.MaxPositionEmbeddings != nil {
		c.MaxPositionEmbeddings = *r.MaxPositionEmbeddings
	}
	c.RMSNormEps = 1e-6
	if r.RMSNormEps != nil {
		c.RMSNormEps = *r.RMSNormEps
	}
	if r.TieWordEmbeddings != nil {
		c.TieWordEmbeddings = *r.TieWordEmbeddings
	}

	// What would compute something else than this package does.
	if r.HiddenAct != nil && *r.HiddenAct != "silu" {
		return nil, fmt.Errorf("hidden_act %q is not supported (only \"silu\")", *r.HiddenAct)
	}
	if r.RopeScaling != nil && string(*r.RopeScaling) != "null" {
		return nil, fmt.Errorf("rope_scaling %s is not supported (only null)", *r.RopeScaling)
	}
	if r.AttentionBias != nil && *r.AttentionBias && arch != Qwen2CausalLM {
		return nil, errors.New("attention_bias true is not supported")
	}
	if r.UseSlidingWindow != nil && *r.UseSlidingWindow {
		return nil, errors.New("use_sliding_window true is not supported")
	}
	for i, t := range r.LayerTypes {
		if t != "full_attention" {
			return nil, fmt.Errorf("layer_types[%d] is %q: only full_attention is supported", i, t)
		}
	}
	if r.LayerTypes != nil && len(r.LayerTypes) != c.NumHiddenLayers {
		return nil, fmt.Errorf("layer_types has %d entries for %d layers", len(r.LayerTypes), c.NumHiddenLayers)
	}

	if arch == SequenceClassification {
		switch {
		case len(r.ID2Label) > 0:
			c.NumLabels = len(r.ID2Label)
		case r.NumLabels != nil:
			c.NumLabels = *r.NumLabels
		default:
			c.NumLabels = 2 // PretrainedConfig's default
		}
		if c.NumLabels != 1 {
			return nil, fmt.Errorf("%v with %d labels: a re-ranker has one (the yes - no row)", arch, c.NumLabels)
		}
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	sizes := []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"num_key_value_heads", c.NumKeyValueHeads}, {"head_dim", c.HeadDim},
		{"max_position_embeddings", c.MaxPositionEmbeddings},
	}
	for _, s := range sizes {
		if s.v <= 0 || s.v > maxDim {
			return fmt.Errorf("%s is %d, want 1..%d", s.name, s.v, maxDim)
		}
	}
	if c.HeadDim%2 != 0 {
		return fmt.Errorf("head_dim %d is odd: rotary embeddings rotate pairs", c.HeadDim)
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return fmt.Errorf("num_attention_heads %d is not a multiple of num_key_value_heads %d", c.NumAttentionHeads, c.NumKeyValueHeads)
	}
	if !(c.RMSNormEps > 0) {
		return fmt.Errorf("rms_norm_eps is %g, want > 0", c.RMSNormEps)
	}
	if !(c.RopeTheta > 1) {
		return fmt.Errorf("rope_theta is %g, want > 1", c.RopeTheta)
	}
	if c.PadTokenID != nil && (*c.PadTokenID < 0 || *c.PadTokenID >= c.VocabSize) {
		return fmt.Errorf("pad_token_id %d is outside the vocabulary [0, %d)", *c.PadTokenID, c.VocabSize)
	}
	if !slices.Contains([]string{"", "float32", "float16", "bfloat16"}, c.DType) {
		return fmt.Errorf("dtype %q: want float32, float16 or bfloat16", c.DType)
	}
	return nil
}
