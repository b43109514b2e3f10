package ml

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/crossrank/crossrank/weights"
)

// Sequence is one tokenized input: a query-document pair as the tokenizer
// encodes it, without padding. TypeIDs may be nil (all zeros, as
// transformers assumes when token_type_ids is not given).
type Sequence struct {
	IDs, TypeIDs []int32
}

// Model is a loaded sequence-classification model, whatever its
// architecture, as the re-ranker uses it. It is safe for concurrent use.
type Model interface {
	// Forward returns the classification logits (num_labels of them) of
	// each sequence, in order. The sequences are packed into one batch
	// with no padding, so a sequence's logits do not depend on the others.
	Forward(ctx context.Context, seqs []Sequence) ([][]float32, error)
	// MaxTokens is the longest sequence the model's positions allow.
	MaxTokens() int
	// Config is the model's config.json (labels, dtype, activation).
	Config() *weights.Config
	// Backend is the backend the model runs on.
	Backend() Backend
	// Close releases what the model holds (the backend when the model made
	// it; a backend passed in stays the caller's).
	Close() error
}

// Encoder is a Model that also gives its last hidden states: the token
// embeddings an embedding model pools (package embed). BertModel and
// XLMRobertaModel checkpoints load as Encoders without a head, whose Forward
// fails.
type Encoder interface {
	Model
	// Hidden returns each sequence's last hidden states, len(IDs) rows of
	// HiddenSize, row-major.
	Hidden(ctx context.Context, seqs []Sequence) ([][]float32, error)
	HiddenSize() int
}

// RowsEncoder is an Encoder that gives one row of the last hidden states
// per sequence for less work than Hidden, its last layer computing only
// those rows where its backend can: what CLS pooling reads. Package embed
// uses it when the pooling reads nothing else (BertModel, XLMRobertaModel).
type RowsEncoder interface {
	Encoder
	// HiddenRows returns row rows[i] (0 is the first token) of sequence i's
	// last hidden states, HiddenSize values each, equal to Hidden's at that
	// row up to float32 rounding.
	HiddenRows(ctx context.Context, seqs []Sequence, rows []int) ([][]float32, error)
}

// Request is what Load gives a registered architecture's NewFunc: all it
// may need to build a model, whatever the architecture. Each architecture
// reads its own config.json fields from Raw (WeightsConfig parses the ones
// of the encoders package weights describes).
type Request struct {
	// Dir is the checkpoint's folder, "" when the weights come from memory.
	Dir string
	// Raw is config.json as read.
	Raw []byte
	// Arch is the registered name that matched: config.json's
	// architectures entry, or its model_type when it names none.
	Arch string
	// Src holds the weights: usually a *weights.Checkpoint, which the
	// caller closes once the model is built.
	Src TensorSource
	// Backend prepares and runs the weights; never nil. It stays the
	// caller's: the model does not close it.
	Backend Backend
	// TokenID, given by the caller from the checkpoint's tokenizer, is the
	// id of the one token text encodes to, or an error saying why text is
	// not one token. An architecture that reads the logits of named tokens
	// (a decoder re-ranker's "yes" and "no") asks it; nil when the caller
	// has no tokenizer, and such an architecture then refuses to load.
	TokenID func(text string) (int32, error)
}

// ConfigPath is where Raw came from, for error messages.
func (r *Request) ConfigPath() string {
	if r.Dir == "" {
		return weights.ConfigFile
	}
	return filepath.Join(r.Dir, weights.ConfigFile)
}

// WeightsConfig parses Raw as package weights reads config.json (the
// fields BERT, XLM-R and ModernBERT share, with transformers' defaults),
// its errors worded as weights.LoadConfig words them.
func (r *Request) WeightsConfig() (*weights.Config, error) {
	c, err := weights.ParseConfig(r.Raw)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", r.ConfigPath(), err)
	}
	return c, nil
}

// NewFunc builds a model of one architecture from req, its weights
// prepared on req.Backend.
type NewFunc func(ctx context.Context, req Request) (Model, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]NewFunc{}
)

// Register makes an architecture loadable by Load. name is an entry of
// config.json's architectures ("BertForSequenceClassification") or a
// model_type ("bert"), used when a config has no architectures. An
// architecture package calls it from init; registering a name twice panics.
func Register(name string, fn NewFunc) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if fn == nil {
		panic("ml: Register " + name + " with a nil NewFunc")
	}
	if _, dup := registry[name]; dup {
		panic("ml: architecture " + name + " registered twice")
	}
	registry[name] = fn
}

// Registered lists the registered names, sorted.
func Registered() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Lookup returns the constructor for a config.json's architectures and
// model_type, and the name it is registered by: the first of the
// architectures that is registered, else the model_type when the config
// names no architectures. Nothing registered is an error listing what is.
func Lookup(architectures []string, modelType string) (string, NewFunc, error) {
	registryMu.RLock()
	name, fn, ok := lookup(architectures, modelType)
	registryMu.RUnlock()
	if ok {
		return name, fn, nil
	}
	return "", nil, fmt.Errorf("ml: no registered architecture for architectures %v, model_type %q (registered: %s)",
		architectures, modelType, strings.Join(Registered(), ", "))
}

func lookup(architectures []string, modelType string) (string, NewFunc, bool) {
	for _, a := range architectures {
		if fn, ok := registry[a]; ok {
			return a, fn, true
		}
	}
	if len(architectures) == 0 {
		fn, ok := registry[modelType]
		return modelType, fn, ok
	}
	return "", nil, false
}

// header is the part of config.json that names the architecture.
type header struct {
	Architectures []string `json:"architectures"`
	ModelType     string   `json:"model_type"`
}

// Load reads dir/config.json and the checkpoint's safetensors file(s) and
// builds the registered architecture the config names, with its weights
// prepared on b. b stays the caller's: closing the model leaves it open.
// It is LoadWith with no options: enough for every encoder; a decoder
// re-ranker needs the tokenizer's ids (LoadOptions.TokenID).
func Load(ctx context.Context, dir string, b Backend) (Model, error) {
	return LoadWith(ctx, dir, b, LoadOptions{})
}

// LoadOptions are what a caller may give Load beyond the folder.
type LoadOptions struct {
	// TokenID is Request.TokenID: the tokenizer's id of a one-token text.
	TokenID func(text string) (int32, error)
}

// LoadWith is Load with options.
func LoadWith(ctx context.Context, dir string, b Backend, opts LoadOptions) (Model, error) {
	if b == nil {
		return nil, errors.New("ml: Load needs a backend (cpu.New, reference.New, cuda.New)")
	}
	path := filepath.Join(dir, weights.ConfigFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ml: %w", err)
	}
	var h header
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("ml: %s: %w", path, err)
	}
	name, fn, err := Lookup(h.Architectures, h.ModelType)
	if err != nil {
		return nil, err
	}
	ckpt, err := weights.Open(dir)
	if err != nil {
		return nil, err
	}
	// The backends copy what they keep, so the mapping can go once the
	// model is built.
	defer ckpt.Close()
	return fn(ctx, Request{Dir: dir, Raw: raw, Arch: name, Src: ckpt, Backend: b, TokenID: opts.TokenID})
}
