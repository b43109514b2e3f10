package weights

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// The sentence-transformers layout of a bi-encoder (an embedding model), as
// sentence-transformers v2..v6 saves it beside the transformers files:
//
//	modules.json                       the module stack, in order: Transformer, Pooling, [Dense...], [Normalize]
//	sentence_bert_config.json          the Transformer module: max_seq_length, do_lower_case
//	config_sentence_transformers.json  prompts, default_prompt_name, similarity_fn_name, truncate_dim
//	1_Pooling/config.json              pooling modes, include_prompt
//	2_Dense/config.json                in_features, out_features, bias, activation_function
//	2_Dense/model.safetensors          linear.weight [out, in], linear.bias [out]
//	2_Normalize/                       (empty: L2 normalisation has no parameters)
//
// Reference: sentence_transformers v6.2.0, sentence_transformer/modules/pooling.py,
// base/modules/dense.py, base/modules/normalize.py, base/model.py (_load_sbert_model).

// Files of the sentence-transformers layout.
const (
	ModulesFile        = "modules.json"
	STConfigFile       = "config_sentence_transformers.json"
	SentenceBertConfig = "sentence_bert_config.json"
)

// PoolingMode is one way of turning token embeddings into one vector.
type PoolingMode string

// The modes, in the order sentence-transformers concatenates them when
// several are on.
const (
	PoolCLS         PoolingMode = "cls"
	PoolMax         PoolingMode = "max"
	PoolMean        PoolingMode = "mean"
	PoolMeanSqrtLen PoolingMode = "mean_sqrt_len_tokens"
	PoolWeighted    PoolingMode = "weightedmean"
	PoolLastToken   PoolingMode = "lasttoken"
)

var poolingModes = []PoolingMode{PoolCLS, PoolMax, PoolMean, PoolMeanSqrtLen, PoolWeighted, PoolLastToken}

// legacyPoolingKeys are the boolean keys older sentence-transformers wrote
// (and the Hub's models still carry), in concatenation order.
var legacyPoolingKeys = []struct {
	key  string
	mode PoolingMode
}{
	{"pooling_mode_cls_token", PoolCLS},
	{"pooling_mode_max_tokens", PoolMax},
	{"pooling_mode_mean_tokens", PoolMean},
	{"pooling_mode_mean_sqrt_len_tokens", PoolMeanSqrtLen},
	{"pooling_mode_weightedmean_tokens", PoolWeighted},
	{"pooling_mode_lasttoken", PoolLastToken},
}

// Pooling is a Pooling module's config.json.
type Pooling struct {
	Dimension     int           // embedding_dimension (word_embedding_dimension): the encoder's hidden size
	Modes         []PoolingMode // concatenated in this order
	IncludePrompt bool          // false: prompt tokens are left out of the pooling
}

// OutputDim is the size of the pooled vector.
func (p *Pooling) OutputDim() int { return p.Dimension * len(p.Modes) }

// ParsePooling parses a Pooling module's config.json, in either form:
// sentence-transformers >= 6's pooling_mode (a string or a list) or the
// boolean pooling_mode_* keys. No mode at all means mean, as in
// sentence-transformers.
func ParsePooling(raw []byte) (*Pooling, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("pooling config is not a JSON object")
	}
	p := &Pooling{IncludePrompt: true}
	dimKey := "embedding_dimension"
	if _, ok := m[dimKey]; !ok {
		dimKey = "word_embedding_dimension"
	}
	if v, ok := m[dimKey]; ok {
		if err := json.Unmarshal(v, &p.Dimension); err != nil {
			return nil, fmt.Errorf("%s: %w", dimKey, err)
		}
	}
	if p.Dimension <= 0 || p.Dimension > 1<<20 {
		return nil, fmt.Errorf("%s is %d, want 1..%d", dimKey, p.Dimension, 1<<20)
	}
	if v, ok := m["include_prompt"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &p.IncludePrompt); err != nil {
			return nil, fmt.Errorf("include_prompt: %w", err)
		}
	}
	if v, ok := m["pooling_mode"]; ok && string(v) != "null" {
		var names []string
		if bytes.HasPrefix(bytes.TrimSpace(v), []byte("[")) {
			if err := json.Unmarshal(v, &names); err != nil {
				return nil, fmt.Errorf("pooling_mode: %w", err)
			}
		} else {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("pooling_mode: %w", err)
			}
			names = []string{s}
		}
		if len(names) == 0 {
			return nil, errors.New("pooling_mode is an empty list")
		}
		for _, n := range names {
			mode := PoolingMode(n)
			if !knownMode(mode) {
				return nil, fmt.Errorf("pooling_mode %q is not one of %v", n, poolingModes)
			}
			p.Modes = append(p.Modes, mode)
		}
	} else {
		for _, k := range legacyPoolingKeys {
			v, ok := m[k.key]
			if !ok || string(v) == "null" {
				continue
			}
			var on bool
			if err := json.Unmarshal(v, &on); err != nil {
				return nil, fmt.Errorf("%s: %w", k.key, err)
			}
			if on {
				p.Modes = append(p.Modes, k.mode)
			}
		}
	}
	if len(p.Modes) == 0 {
		p.Modes = []PoolingMode{PoolMean}
	}
	return p, nil
}

func knownMode(m PoolingMode) bool {
	for _, k := range poolingModes {
		if k == m {
			return true
		}
	}
	return false
}

// Activation functions a Dense module may name (torch.nn classes).
const (
	DenseIdentity = "identity"
	DenseTanh     = "tanh"
	DenseReLU     = "relu"
	DenseGELU     = "gelu" // exact erf GELU, torch.nn.GELU()'s default
	DenseSigmoid  = "sigmoid"
)

var denseActivations = map[string]string{
	"torch.nn.modules.linear.Identity":    DenseIdentity,
	"torch.nn.modules.activation.Tanh":    DenseTanh,
	"torch.nn.modules.activation.ReLU":    DenseReLU,
	"torch.nn.modules.activation.GELU":    DenseGELU,
	"torch.nn.modules.activation.Sigmoid": DenseSigmoid,
	"torch.nn.Identity":                   DenseIdentity,
	"torch.nn.Tanh":                       DenseTanh,
	"torch.nn.ReLU":                       DenseReLU,
	"torch.nn.GELU":                       DenseGELU,
	"torch.nn.Sigmoid":                    DenseSigmoid,
}

// Dense is a Dense module: activation(x · Wᵀ + b) [+ residual].
type Dense struct {
	In, Out    int
	Activation string    // one of the Dense* constants
	Weight     []float32 // [Out, In] row-major (linear.weight)
	Bias       []float32 // [Out] (linear.bias), nil without bias
	Residual   bool      // use_residual: the input (or Residual projection of it) is added after the activation
	ResidualW  []float32 // [Out, In] (residual.weight) when In != Out
}

// DenseConfig is a Dense module's config.json.
type DenseConfig struct {
	InFeatures         int    `json:"in_features"`
	OutFeatures        int    `json:"out_features"`
	Bias               *bool  `json:"bias"`
	ActivationFunction string `json:"activation_function"`
	ModuleInputName    string `json:"module_input_name"`
	ModuleOutputName   string `json:"module_output_name"`
	UseResidual        bool   `json:"use_residual"`
}

// maxDenseFeatures bounds a Dense layer's sizes before any weight is read.
const maxDenseFeatures = 1 << 16

// ParseDenseConfig parses a Dense module's config.json. An activation
// sentence-transformers would not load without trust_remote_code (a path
// outside torch) falls back to Tanh, as sentence-transformers does.
func ParseDenseConfig(raw []byte) (*DenseConfig, string, error) {
	var c DenseConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, "", err
	}
	if c.InFeatures <= 0 || c.InFeatures > maxDenseFeatures || c.OutFeatures <= 0 || c.OutFeatures > maxDenseFeatures {
		return nil, "", fmt.Errorf("in_features %d, out_features %d: want 1..%d", c.InFeatures, c.OutFeatures, maxDenseFeatures)
	}
	for _, n := range []string{c.ModuleInputName, c.ModuleOutputName} {
		if n != "" && n != "sentence_embedding" {
			return nil, "", fmt.Errorf("a Dense module on %q is not supported (only sentence_embedding)", n)
		}
	}
	act := DenseTanh // the default of Dense's constructor
	switch {
	case c.ActivationFunction == "":
	case strings.HasPrefix(c.ActivationFunction, "torch."):
		a, ok := denseActivations[c.ActivationFunction]
		if !ok {
			return nil, "", fmt.Errorf("activation_function %q is not supported (Identity, Tanh, ReLU, GELU, Sigmoid)", c.ActivationFunction)
		}
		act = a
	}
	return &c, act, nil
}

// STConfig is config_sentence_transformers.json.
type STConfig struct {
	Prompts           map[string]string `json:"prompts"`
	DefaultPromptName string            `json:"default_prompt_name"`
	SimilarityFnName  string            `json:"similarity_fn_name"`
	TruncateDim       int               `json:"truncate_dim"`
	ModelType         string            `json:"model_type"`
	Version           map[string]any    `json:"__version__"`
}

// ParseSTConfig parses config_sentence_transformers.json.
func ParseSTConfig(raw []byte) (*STConfig, error) {
	var c STConfig
	// Older files hold nulls where a value is unset; json leaves those zero.
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if c.DefaultPromptName != "" {
		if _, ok := c.Prompts[c.DefaultPromptName]; !ok {
			return nil, fmt.Errorf("default_prompt_name %q is not among the prompts %v", c.DefaultPromptName, sortedKeys(c.Prompts))
		}
	}
	if c.TruncateDim < 0 {
		return nil, fmt.Errorf("truncate_dim is %d", c.TruncateDim)
	}
	switch c.SimilarityFnName {
	case "", "cosine", "dot", "euclidean", "manhattan":
	default:
		return nil, fmt.Errorf("similarity_fn_name %q is not one of cosine, dot, euclidean, manhattan", c.SimilarityFnName)
	}
	return &c, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Module is one entry of modules.json.
type Module struct {
	Idx  int    `json:"idx"`
	Name string `json:"name"`
	Path string `json:"path"` // relative to the model folder; "" is the folder itself
	Type string `json:"type"` // e.g. sentence_transformers.models.Pooling
}

// Kind is the module's class name without its Python package:
// Transformer, Pooling, Dense, Normalize, ...
func (m Module) Kind() string {
	if i := strings.LastIndexByte(m.Type, '.'); i >= 0 {
		return m.Type[i+1:]
	}
	return m.Type
}

// maxModules bounds modules.json (real models have 2-4 modules).
const maxModules = 64

// ParseModules parses modules.json: a list of modules whose paths stay
// inside the model folder, in idx order.
func ParseModules(raw []byte) ([]Module, error) {
	var mods []Module
	if err := json.Unmarshal(raw, &mods); err != nil {
		return nil, err
	}
	if len(mods) == 0 {
		return nil, errors.New("no modules")
	}
	if len(mods) > maxModules {
		return nil, fmt.Errorf("%d modules, more than %d", len(mods), maxModules)
	}
	sort.SliceStable(mods, func(i, j int) bool { return mods[i].Idx < mods[j].Idx })
	for i, m := range mods {
		if m.Type == "" {
			return nil, fmt.Errorf("module %d has no type", i)
		}
		if err := checkModulePath(m.Path); err != nil {
			return nil, fmt.Errorf("module %d (%s): %w", i, m.Kind(), err)
		}
	}
	return mods, nil
}

// checkModulePath accepts a relative, clean, slash-separated folder name
// that cannot leave the model folder.
func checkModulePath(p string) error {
	if p == "" {
		return nil
	}
	if strings.Contains(p, "\\") || strings.ContainsRune(p, 0) || path.IsAbs(p) || filepath.IsAbs(p) || filepath.VolumeName(p) != "" {
		return fmt.Errorf("path %q is not a relative folder name", p)
	}
	c := path.Clean(p)
	if c != strings.TrimSuffix(p, "/") || c == ".." || strings.HasPrefix(c, "../") || c == "." {
		return fmt.Errorf("path %q leaves the model folder or is not clean", p)
	}
	return nil
}

// SentenceTransformer is what a bi-encoder folder says about turning the
// encoder's token embeddings into one vector per text.
type SentenceTransformer struct {
	// MaxSeqLength is sentence_bert_config.json's max_seq_length; 0 when
	// absent (then the tokenizer's model_max_length, capped at the position
	// table, applies, as in sentence-transformers).
	MaxSeqLength int
	// DoLowerCase is sentence_bert_config.json's do_lower_case.
	DoLowerCase bool
	Pooling     Pooling
	// Post are the modules after pooling, in order: *Dense or Normalize{}.
	Post              []any
	Prompts           map[string]string
	DefaultPromptName string
	SimilarityFnName  string // "" means cosine
	TruncateDim       int    // 0: none
	// Notes are what a user should be told at load (e.g. no modules.json,
	// mean pooling assumed).
	Notes []string
}

// Normalize is the Normalize module: L2 normalisation (F.normalize, eps 1e-12).
type Normalize struct{}

// Dim is the length of the vectors the stack produces.
func (s *SentenceTransformer) Dim() int {
	d := s.Pooling.OutputDim()
	for _, m := range s.Post {
		if dn, ok := m.(*Dense); ok {
			d = dn.Out
		}
	}
	return d
}

// Normalized reports whether the last module normalises (unit vectors).
func (s *SentenceTransformer) Normalized() bool {
	if len(s.Post) == 0 {
		return false
	}
	_, ok := s.Post[len(s.Post)-1].(Normalize)
	return ok
}

// HasModules reports whether dir is in the sentence-transformers layout.
func HasModules(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ModulesFile))
	return err == nil
}

// maxSTFile bounds the small JSON files of the layout.
const maxSTFile = 4 << 20

func readSmall(p string) ([]byte, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxSTFile {
		return nil, fmt.Errorf("%s: %d bytes, more than %d for a config file", p, st.Size(), maxSTFile)
	}
	return os.ReadFile(p)
}

// LoadSentenceTransformer reads the sentence-transformers files of a model
// folder. hidden is the encoder's hidden size (config.json's hidden_size),
// which the pooling must match. A folder without modules.json gets what
// sentence-transformers gives it: mean pooling, and a note saying so.
func LoadSentenceTransformer(dir string, hidden int) (*SentenceTransformer, error) {
	s := &SentenceTransformer{}
	if err := s.readTopLevel(dir); err != nil {
		return nil, err
	}
	raw, err := readSmall(filepath.Join(dir, ModulesFile))
	if errors.Is(err, os.ErrNotExist) {
		s.Pooling = Pooling{Dimension: hidden, Modes: []PoolingMode{PoolMean}, IncludePrompt: true}
		s.Notes = append(s.Notes, fmt.Sprintf("no %s in %s: not a sentence-transformers model; mean pooling over the last hidden states, as sentence-transformers does for such a checkpoint", ModulesFile, dir))
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	mods, err := ParseModules(raw)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", filepath.Join(dir, ModulesFile), err)
	}
	if mods[0].Kind() != "Transformer" {
		return nil, fmt.Errorf("weights: %s: the first module is %s, want Transformer (crossrank runs transformers encoders only)", filepath.Join(dir, ModulesFile), mods[0].Type)
	}
	if mods[0].Path != "" {
		return nil, fmt.Errorf("weights: %s: the Transformer module lives in %q; crossrank reads the encoder from the model folder itself (path \"\"), as sentence-transformers >= 2 saves it", filepath.Join(dir, ModulesFile), mods[0].Path)
	}
	pooled := false
	dim := hidden
	for _, m := range mods[1:] {
		where := filepath.Join(dir, filepath.FromSlash(m.Path))
		switch m.Kind() {
		case "Pooling":
			if pooled {
				return nil, fmt.Errorf("weights: %s: a second Pooling module (%s)", filepath.Join(dir, ModulesFile), m.Path)
			}
			pooled = true
			cfgPath := filepath.Join(where, ConfigFile)
			raw, err := readSmall(cfgPath)
			if err != nil {
				return nil, fmt.Errorf("weights: Pooling module: %w", err)
			}
			p, err := ParsePooling(raw)
			if err != nil {
				return nil, fmt.Errorf("weights: %s: %w", cfgPath, err)
			}
			if p.Dimension != hidden {
				return nil, fmt.Errorf("weights: %s: embedding_dimension %d, but the encoder's hidden_size is %d", cfgPath, p.Dimension, hidden)
			}
			s.Pooling = *p
			dim = p.OutputDim()
		case "Dense":
			if !pooled {
				return nil, fmt.Errorf("weights: %s: a Dense module before the Pooling module", filepath.Join(dir, ModulesFile))
			}
			d, err := loadDense(where, dim)
			if err != nil {
				return nil, err
			}
			dim = d.Out
			s.Post = append(s.Post, d)
		case "Normalize":
			if !pooled {
				return nil, fmt.Errorf("weights: %s: a Normalize module before the Pooling module (token-level normalisation is not supported)", filepath.Join(dir, ModulesFile))
			}
			if raw, err := readSmall(filepath.Join(where, ConfigFile)); err == nil && len(bytes.TrimSpace(raw)) > 0 {
				var c struct {
					In  string `json:"module_input_name"`
					Out string `json:"module_output_name"`
				}
				if err := json.Unmarshal(raw, &c); err != nil {
					return nil, fmt.Errorf("weights: %s: %w", filepath.Join(where, ConfigFile), err)
				}
				for _, n := range []string{c.In, c.Out} {
					if n != "" && n != "sentence_embedding" {
						return nil, fmt.Errorf("weights: %s: Normalize on %q is not supported (only sentence_embedding)", filepath.Join(where, ConfigFile), n)
					}
				}
			}
			s.Post = append(s.Post, Normalize{})
		default:
			return nil, fmt.Errorf("weights: %s: module %s (%s) is not supported (Transformer, Pooling, Dense, Normalize)", filepath.Join(dir, ModulesFile), m.Name, m.Type)
		}
	}
	if !pooled {
		return nil, fmt.Errorf("weights: %s: no Pooling module: a token-level model (ColBERT, SPLADE) is not a sentence embedder crossrank can run", filepath.Join(dir, ModulesFile))
	}
	if s.TruncateDim > s.Dim() {
		return nil, fmt.Errorf("weights: %s: truncate_dim %d is more than the embedding's %d", filepath.Join(dir, STConfigFile), s.TruncateDim, s.Dim())
	}
	return s, nil
}

// readTopLevel reads sentence_bert_config.json and
// config_sentence_transformers.json when they exist.
func (s *SentenceTransformer) readTopLevel(dir string) error {
	if raw, err := readSmall(filepath.Join(dir, SentenceBertConfig)); err == nil {
		var c struct {
			MaxSeqLength *int `json:"max_seq_length"`
			DoLowerCase  bool `json:"do_lower_case"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("weights: %s: %w", filepath.Join(dir, SentenceBertConfig), err)
		}
		if c.MaxSeqLength != nil {
			if *c.MaxSeqLength <= 0 {
				return fmt.Errorf("weights: %s: max_seq_length is %d, want > 0", filepath.Join(dir, SentenceBertConfig), *c.MaxSeqLength)
			}
			s.MaxSeqLength = *c.MaxSeqLength
		}
		s.DoLowerCase = c.DoLowerCase
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("weights: %w", err)
	}
	if raw, err := readSmall(filepath.Join(dir, STConfigFile)); err == nil {
		c, err := ParseSTConfig(raw)
		if err != nil {
			return fmt.Errorf("weights: %s: %w", filepath.Join(dir, STConfigFile), err)
		}
		s.Prompts = c.Prompts
		s.DefaultPromptName = c.DefaultPromptName
		s.SimilarityFnName = c.SimilarityFnName
		s.TruncateDim = c.TruncateDim
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("weights: %w", err)
	}
	return nil
}

// loadDense reads a Dense module's config.json and its safetensors weights
// (copied out of the mapping: they are small). in is the size of the
// vector the module before gives.
func loadDense(dir string, in int) (*Dense, error) {
	cfgPath := filepath.Join(dir, ConfigFile)
	raw, err := readSmall(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("weights: Dense module: %w", err)
	}
	c, act, err := ParseDenseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", cfgPath, err)
	}
	if c.InFeatures != in {
		return nil, fmt.Errorf("weights: %s: in_features %d, but the module before gives %d", cfgPath, c.InFeatures, in)
	}
	d := &Dense{In: c.InFeatures, Out: c.OutFeatures, Activation: act, Residual: c.UseResidual}
	ckpt, err := Open(dir)
	if err != nil {
		return nil, err
	}
	defer ckpt.Close()
	read := func(name string, shape ...int) ([]float32, error) {
		data, got, err := ckpt.Float32(name)
		if err != nil {
			return nil, err
		}
		if fmt.Sprint(got) != fmt.Sprint(shape) {
			return nil, fmt.Errorf("weights: %s: tensor %q: shape %v, want %v", dir, name, got, shape)
		}
		return append([]float32(nil), data...), nil
	}
	if d.Weight, err = read("linear.weight", d.Out, d.In); err != nil {
		return nil, err
	}
	if c.Bias == nil || *c.Bias {
		if d.Bias, err = read("linear.bias", d.Out); err != nil {
			return nil, err
		}
	}
	if d.Residual && d.In != d.Out {
		if d.ResidualW, err = read("residual.weight", d.Out, d.In); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// moduleFolders lists the module folders of a modules.json (for downloads).
func moduleFolders(raw []byte) ([]string, error) {
	mods, err := ParseModules(raw)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range mods {
		if m.Path != "" {
			out = append(out, m.Path)
		}
	}
	return out, nil
}
