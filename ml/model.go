package ml

import (
	"context"
	"errors"
	"fmt"
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

// NewFunc builds a model of one architecture from its config and weights,
// prepared on b (never nil). src is usually a *weights.Checkpoint, which
// the caller closes once the model is built.
type NewFunc func(ctx context.Context, cfg *weights.Config, src TensorSource, b Backend) (Model, error)

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

// Lookup returns the constructor for cfg: the first of its architectures
// that is registered, else its model_type when it names no architectures.
func Lookup(cfg *weights.Config) (NewFunc, error) {
	if cfg == nil {
		return nil, errors.New("ml: nil config")
	}
	registryMu.RLock()
	fn, ok := lookup(cfg)
	registryMu.RUnlock()
	if ok {
		return fn, nil
	}
	return nil, fmt.Errorf("ml: no registered architecture for architectures %v, model_type %q (registered: %s)",
		cfg.Architectures, cfg.ModelType, strings.Join(Registered(), ", "))
}

func lookup(cfg *weights.Config) (NewFunc, bool) {
	for _, a := range cfg.Architectures {
		if fn, ok := registry[a]; ok {
			return fn, true
		}
	}
	if len(cfg.Architectures) == 0 {
		fn, ok := registry[cfg.ModelType]
		return fn, ok
	}
	return nil, false
}

// Load reads dir/config.json and the checkpoint's safetensors file(s) and
// builds the registered architecture the config names, with its weights
// prepared on b. b stays the caller's: closing the model leaves it open.
func Load(ctx context.Context, dir string, b Backend) (Model, error) {
	if b == nil {
		return nil, errors.New("ml: Load needs a backend (cpu.New, reference.New, cuda.New)")
	}
	cfg, err := weights.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	fn, err := Lookup(cfg)
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
	return fn(ctx, cfg, ckpt, b)
}
