package modernbert

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Architecture is the config.json architectures entry this package loads.
const Architecture = "ModernBertForSequenceClassification"

// ModelType is config.json's model_type for ModernBERT.
const ModelType = "modernbert"

// Pooling is how ModernBertForSequenceClassification turns a sequence's
// hidden states into one vector (classifier_pooling).
type Pooling int

const (
	// PoolCLS takes the first token's hidden state ([CLS]).
	PoolCLS Pooling = iota + 1
	// PoolMean averages the hidden states of every token of the sequence.
	PoolMean
)

func (p Pooling) String() string {
	switch p {
	case PoolCLS:
		return "cls"
	case PoolMean:
		return "mean"
	}
	return "unknown"
}

// Activation is a Hugging Face activation name ModernBERT may use for
// hidden_activation (inside GeGLU) and classifier_activation.
type Activation int

const (
	ActGELU     Activation = iota + 1 // "gelu": exact, 0.5*x*(1+erf(x/sqrt(2)))
	ActGELUTanh                       // "gelu_new", "gelu_pytorch_tanh": the tanh approximation
	ActReLU                           // "relu"
)

func (a Activation) String() string {
	switch a {
	case ActGELU:
		return "gelu"
	case ActGELUTanh:
		return "gelu_pytorch_tanh"
	case ActReLU:
		return "relu"
	}
	return "unknown"
}

var activations = map[string]Activation{
	"gelu": ActGELU, "gelu_python": ActGELU,
	"gelu_new": ActGELUTanh, "gelu_pytorch_tanh": ActGELUTanh,
	"relu": ActReLU,
}

// Layer types, as transformers 5's layer_types names them.
const (
	FullAttention    = "full_attention"    // global: every token sees its whole sequence
	SlidingAttention = "sliding_attention" // local: token i sees j when |i-j| <= local_attention/2
)

// Config is what the forward pass needs from a ModernBERT config.json. JSON
// names are the Hub's. Both forms are read: the Hub's (transformers 4.48:
// global_attn_every_n_layers, global_rope_theta, local_rope_theta) and
// transformers 5's (layer_types, rope_parameters per layer type); where a
// file has both, transformers 5's fields win, as they do in transformers 5.
// Keys that do not change what inference computes (dropouts, initialisers,
// training switches) are ignored.
//
// https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/modernbert/configuration_modernbert.py
type Config struct {
	Architectures         []string
	VocabSize             int
	HiddenSize            int
	IntermediateSize      int
	NumHiddenLayers       int
	NumAttentionHeads     int
	HeadDim               int // hidden_size / num_attention_heads
	MaxPositionEmbeddings int
	NormEps               float64
	NormBias              bool // LayerNorms have a bias
	AttentionBias         bool // Wqkv and attn.Wo have biases
	MLPBias               bool // Wi and mlp.Wo have biases
	ClassifierBias        bool // head.dense has a bias (the classifier always has one)
	HiddenActivation      Activation
	ClassifierActivation  Activation
	Pooling               Pooling
	// LayerTypes[i] is FullAttention or SlidingAttention.
	LayerTypes []string
	// LocalAttention is the local window in tokens: a sliding layer lets
	// token i attend to token j when |i-j| <= LocalAttention/2.
	LocalAttention int
	// GlobalRopeTheta and LocalRopeTheta are the RoPE bases of full and
	// sliding layers.
	GlobalRopeTheta, LocalRopeTheta float64
	NumLabels                       int
	PadTokenID                      *int
	DType                           string // the stored dtype config.json names, or ""
}

// Window is the half-width of a sliding layer's window: token i sees
// tokens i-Window..i+Window of its sequence.
func (c *Config) Window() int { return c.LocalAttention / 2 }

// RopeTheta is the RoPE base of layer i.
func (c *Config) RopeTheta(layer int) float64 {
	if c.LayerTypes[layer] == SlidingAttention {
		return c.LocalRopeTheta
	}
	return c.GlobalRopeTheta
}

type ropeParams struct {
	RopeType  *string  `json:"rope_type"`
	RopeTheta *float64 `json:"rope_theta"`
}

// rawConfig is config.json as the Hub and transformers write it. Pointers
// tell an absent (or null) field from a zero.
type rawConfig struct {
	Architectures          []string               `json:"architectures"`
	ModelType              string                 `json:"model_type"`
	VocabSize              *int                   `json:"vocab_size"`
	HiddenSize             *int                   `json:"hidden_size"`
	IntermediateSize       *int                   `json:"intermediate_size"`
	NumHiddenLayers        *int                   `json:"num_hidden_layers"`
	NumAttentionHeads      *int                   `json:"num_attention_heads"`
	HeadDim                *int                   `json:"head_dim"`
	HiddenActivation       *string                `json:"hidden_activation"`
	MaxPositionEmbeddings  *int                   `json:"max_position_embeddings"`
	NormEps                *float64               `json:"norm_eps"`
	NormBias               *bool                  `json:"norm_bias"`
	AttentionBias          *bool                  `json:"attention_bias"`
	MLPBias                *bool                  `json:"mlp_bias"`
	ClassifierBias         *bool                  `json:"classifier_bias"`
	ClassifierActivation   *string                `json:"classifier_activation"`
	ClassifierPooling      *string                `json:"classifier_pooling"`
	LayerTypes             []string               `json:"layer_types"`
	RopeParameters         map[string]*ropeParams `json:"rope_parameters"`
	RopeScaling            json.RawMessage        `json:"rope_scaling"`
	LocalAttention         json.RawMessage        `json:"local_attention"`
	GlobalAttnEveryNLayers *int                   `json:"global_attn_every_n_layers"`
	GlobalRopeTheta        json.RawMessage        `json:"global_rope_theta"`
	LocalRopeTheta         json.RawMessage        `json:"local_rope_theta"`
	ID2Label               map[string]string      `json:"id2label"`
	NumLabels              *int                   `json:"num_labels"`
	PadTokenID             *int                   `json:"pad_token_id"`
	TorchDtype             string                 `json:"torch_dtype"`
	Dtype                  string                 `json:"dtype"`
}

// Defaults of ModernBertConfig (transformers 5.24; 4.48 has the same).
const (
	defaultVocab          = 50368
	defaultHidden         = 768
	defaultIntermediate   = 1152
	defaultLayers         = 22
	defaultHeads          = 12
	defaultMaxPositions   = 8192
	defaultNormEps        = 1e-5
	defaultLocalAttention = 128
	defaultGlobalEvery    = 3
	defaultGlobalTheta    = 160000.0
	defaultLocalTheta     = 10000.0
)

// maxDim bounds each size before anything is allocated from it.
const maxDim = 1 << 24

// LoadConfig reads dir/config.json (dir may also be the file itself).
func LoadConfig(dir string) (*Config, error) {
	path := dir
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		path = filepath.Join(dir, "config.json")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("modernbert: %w", err)
	}
	c, err := ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("modernbert: %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses the contents of a ModernBERT config.json.
func ParseConfig(data []byte) (*Config, error) {
	var r rawConfig
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	if err := checkArch(r.Architectures, r.ModelType); err != nil {
		return nil, err
	}
	c := &Config{Architectures: r.Architectures, DType: r.TorchDtype, PadTokenID: r.PadTokenID}
	if r.Dtype != "" {
		c.DType = r.Dtype
	}
	var err error
	size := func(name string, p *int, def int) int {
		v := def
		if p != nil {
			v = *p
		}
		if err == nil && (v <= 0 || v > maxDim) {
			err = fmt.Errorf("%s %d is out of range [1, %d]", name, v, maxDim)
		}
		return v
	}
	c.VocabSize = size("vocab_size", r.VocabSize, defaultVocab)
	c.HiddenSize = size("hidden_size", r.HiddenSize, defaultHidden)
	c.IntermediateSize = size("intermediate_size", r.IntermediateSize, defaultIntermediate)
	c.NumHiddenLayers = size("num_hidden_layers", r.NumHiddenLayers, defaultLayers)
	c.NumAttentionHeads = size("num_attention_heads", r.NumAttentionHeads, defaultHeads)
	c.MaxPositionEmbeddings = size("max_position_embeddings", r.MaxPositionEmbeddings, defaultMaxPositions)
	if err != nil {
		return nil, err
	}
	if c.NumHiddenLayers > 4096 {
		return nil, fmt.Errorf("num_hidden_layers %d is out of range [1, 4096]", c.NumHiddenLayers)
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return nil, fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	c.HeadDim = c.HiddenSize / c.NumAttentionHeads
	// ModernBertAttention computes head_dim from hidden_size and heads
	// and never reads a head_dim key; one that disagrees is a config this
	// code cannot honour.
	if r.HeadDim != nil && *r.HeadDim != c.HeadDim {
		return nil, fmt.Errorf("head_dim %d differs from hidden_size/num_attention_heads = %d", *r.HeadDim, c.HeadDim)
	}
	if c.HeadDim%2 != 0 {
		return nil, fmt.Errorf("head dimension %d is odd: rotary embeddings rotate pairs", c.HeadDim)
	}

	c.NormEps = defaultNormEps
	if r.NormEps != nil {
		c.NormEps = *r.NormEps
	}
	if !(c.NormEps > 0 && c.NormEps < 1) {
		return nil, fmt.Errorf("norm_eps %v is out of range (0, 1)", c.NormEps)
	}
	flag := func(p *bool) bool { return p != nil && *p } // every bias defaults to false
	c.NormBias, c.AttentionBias, c.MLPBias, c.ClassifierBias =
		flag(r.NormBias), flag(r.AttentionBias), flag(r.MLPBias), flag(r.ClassifierBias)

	if c.HiddenActivation, err = activation("hidden_activation", r.HiddenActivation); err != nil {
		return nil, err
	}
	if c.ClassifierActivation, err = activation("classifier_activation", r.ClassifierActivation); err != nil {
		return nil, err
	}
	switch p := deref(r.ClassifierPooling, "cls"); p {
	case "cls":
		c.Pooling = PoolCLS
	case "mean":
		c.Pooling = PoolMean
	default:
		return nil, fmt.Errorf("classifier_pooling %q is not supported (cls, mean)", p)
	}

	if err := c.readLayers(&r); err != nil {
		return nil, err
	}
	if err := c.readRope(&r); err != nil {
		return nil, err
	}

	switch {
	case len(r.ID2Label) > 0:
		c.NumLabels = len(r.ID2Label)
	case r.NumLabels != nil:
		c.NumLabels = *r.NumLabels
	default:
		c.NumLabels = 2
	}
	if c.NumLabels < 1 || c.NumLabels > 1<<16 {
		return nil, fmt.Errorf("num_labels %d is out of range [1, 65536]", c.NumLabels)
	}
	return c, nil
}

// readLayers sets LayerTypes (layer_types, else every
// global_attn_every_n_layers-th layer global from layer 0) and
// LocalAttention.
func (c *Config) readLayers(r *rawConfig) error {
	la, err := optNumber("local_attention", r.LocalAttention, defaultLocalAttention)
	if err != nil {
		return err
	}
	if la != float64(int(la)) || la < 2 || la > maxDim {
		return fmt.Errorf("local_attention %v: want an integer in [2, %d]", la, maxDim)
	}
	c.LocalAttention = int(la)
	if r.LayerTypes != nil {
		if len(r.LayerTypes) != c.NumHiddenLayers {
			return fmt.Errorf("layer_types has %d entries for num_hidden_layers %d", len(r.LayerTypes), c.NumHiddenLayers)
		}
		for i, t := range r.LayerTypes {
			if t != FullAttention && t != SlidingAttention {
				return fmt.Errorf("layer_types[%d] is %q (want %q or %q)", i, t, FullAttention, SlidingAttention)
			}
		}
		c.LayerTypes = slices.Clone(r.LayerTypes)
		return nil
	}
	every := defaultGlobalEvery
	if r.GlobalAttnEveryNLayers != nil {
		every = *r.GlobalAttnEveryNLayers
	}
	if every < 1 {
		return fmt.Errorf("global_attn_every_n_layers %d: want >= 1", every)
	}
	c.LayerTypes = make([]string, c.NumHiddenLayers)
	for i := range c.LayerTypes {
		c.LayerTypes[i] = FullAttention
		if i%every != 0 {
			c.LayerTypes[i] = SlidingAttention
		}
	}
	return nil
}

// readRope sets the RoPE bases: rope_parameters' per layer type, else
// global_rope_theta / local_rope_theta, else the defaults, as
// ModernBertConfig.convert_rope_params_to_dict resolves them. Only the
// default (unscaled) RoPE is implemented.
func (c *Config) readRope(r *rawConfig) error {
	if len(r.RopeScaling) > 0 && string(r.RopeScaling) != "null" {
		return fmt.Errorf("rope_scaling %s is not supported (only the default RoPE)", r.RopeScaling)
	}
	for k, p := range r.RopeParameters {
		if k != FullAttention && k != SlidingAttention {
			return fmt.Errorf("rope_parameters has an entry %q (want %q or %q)", k, FullAttention, SlidingAttention)
		}
		if p != nil && p.RopeType != nil && *p.RopeType != "default" {
			return fmt.Errorf("rope_parameters[%q].rope_type %q is not supported (only \"default\")", k, *p.RopeType)
		}
	}
	theta := func(kind, key string, legacy json.RawMessage, def float64) (float64, error) {
		if p := r.RopeParameters[kind]; p != nil && p.RopeTheta != nil {
			return *p.RopeTheta, nil
		}
		// transformers 4.48 read a null local_rope_theta as "use the
		// global one"; transformers 5 has no such rule. Neither reading
		// can be assumed, so a null is refused.
		if string(legacy) == "null" {
			return 0, fmt.Errorf("%s is null: transformers 4 and 5 read that differently; give a number", key)
		}
		return optNumber(key, legacy, def)
	}
	var err error
	if c.GlobalRopeTheta, err = theta(FullAttention, "global_rope_theta", r.GlobalRopeTheta, defaultGlobalTheta); err != nil {
		return err
	}
	if c.LocalRopeTheta, err = theta(SlidingAttention, "local_rope_theta", r.LocalRopeTheta, defaultLocalTheta); err != nil {
		return err
	}
	for _, t := range []float64{c.GlobalRopeTheta, c.LocalRopeTheta} {
		if !(t > 1 && t < 1e12) {
			return fmt.Errorf("rope theta %v is out of range (1, 1e12)", t)
		}
	}
	return nil
}

// optNumber decodes a JSON number, def when absent.
func optNumber(key string, raw json.RawMessage, def float64) (float64, error) {
	if len(raw) == 0 {
		return def, nil
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, fmt.Errorf("%s: want a number, got %s", key, raw)
	}
	return v, nil
}

func activation(key string, p *string) (Activation, error) {
	name := deref(p, "gelu")
	if a, ok := activations[name]; ok {
		return a, nil
	}
	names := make([]string, 0, len(activations))
	for n := range activations {
		names = append(names, n)
	}
	slices.Sort(names)
	return 0, fmt.Errorf("%s %q is not supported (%s)", key, name, strings.Join(names, ", "))
}

func deref(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

func checkArch(architectures []string, modelType string) error {
	if len(architectures) == 0 {
		if modelType == ModelType {
			return nil
		}
		return fmt.Errorf("no architectures and model_type %q: not a ModernBERT config", modelType)
	}
	if slices.Contains(architectures, Architecture) {
		return nil
	}
	return errors.New("architectures " + strings.Join(architectures, ", ") + ": this package loads " + Architecture)
}
