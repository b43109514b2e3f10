package qwen3

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/weights"
)

func init() {
	// By config.json's architectures entries and model_type, for ml.Load.
	for _, name := range slices.Concat(Architectures, []string{CausalLM.modelType(), Qwen2CausalLM.modelType()}) {
		ml.Register(name, newRegistered)
	}
}

// ScoreTokens are the answer tokens whose lm_head rows a CausalLM's score
// reads (yes - no): "yes" and "no" for Qwen3-Reranker, as its card scores
// it; "1" and "0" for a Qwen2ForCausalLM, as mxbai-rerank-v2 scores it.
// The converted SequenceClassification form's one row is Qwen3's yes - no.
func (a Arch) ScoreTokens() (yes, no string) {
	if a == Qwen2CausalLM {
		return "1", "0"
	}
	return "yes", "no"
}

// newRegistered is New as ml.Load calls it: the config parsed from the
// request's config.json, the yes/no ids from its TokenID.
func newRegistered(ctx context.Context, req ml.Request) (ml.Model, error) {
	if req.Backend == nil {
		return nil, errors.New("qwen3: ml.Request without a backend")
	}
	cfg, err := ParseConfig(req.Raw)
	if err != nil {
		return nil, fmt.Errorf("qwen3: %s: %w", req.ConfigPath(), err)
	}
	var yes, no int32
	if cfg.Arch != SequenceClassification {
		y, n := cfg.Arch.ScoreTokens()
		if req.TokenID == nil {
			return nil, fmt.Errorf("qwen3: %v is scored from the lm_head rows of %q and %q: load it with the tokenizer's ids (ml.LoadOptions.TokenID; package rerank does)", cfg.Arch, y, n)
		}
		if yes, err = req.TokenID(y); err != nil {
			return nil, fmt.Errorf("qwen3: score token: %w", err)
		}
		if no, err = req.TokenID(n); err != nil {
			return nil, fmt.Errorf("qwen3: score token: %w", err)
		}
	}
	var m *Model
	build := func() error {
		m, err = New(ctx, cfg, req.Src, req.Backend, yes, no)
		return err
	}
	// Binding reads the memory-mapped checkpoint: a file truncated on disk
	// meanwhile fails the load with an error (weights.Checkpoint.Guard).
	if g, ok := req.Src.(interface{ Guard(func() error) error }); ok {
		err = g.Guard(build)
	} else {
		err = build()
	}
	if err != nil {
		return nil, err
	}
	return &seamModel{m: m, wcfg: cfg.Common()}, nil
}

// Common is the config as package weights describes any model (ml.Model's
// Config): the sizes, one label named for the score (yes-no, or 1-0), the
// stored dtype, and no token types. Architectures is the one this package
// loads it as, also for a config that gives only a model_type.
func (c *Config) Common() *weights.Config {
	yes, no := c.Arch.ScoreTokens()
	w := &weights.Config{
		Architectures:         []string{c.Arch.String()},
		ModelType:             c.Arch.modelType(),
		VocabSize:             c.VocabSize,
		HiddenSize:            c.HiddenSize,
		NumHiddenLayers:       c.NumHiddenLayers,
		NumAttentionHeads:     c.NumAttentionHeads,
		IntermediateSize:      c.IntermediateSize,
		HiddenAct:             "silu",
		MaxPositionEmbeddings: c.MaxPositionEmbeddings,
		Dtype:                 c.DType,
		NumLabels:             1,
		ID2Label:              map[string]string{"0": yes + "-" + no},
	}
	if c.PadTokenID != nil {
		w.PadTokenID = *c.PadTokenID
	}
	return w
}

// seamModel is a Model as ml.Model: what ml.Load returns for this
// package's architectures.
type seamModel struct {
	m    *Model
	wcfg *weights.Config
}

// Forward reads each sequence's ids (a decoder has no token types).
func (s *seamModel) Forward(ctx context.Context, seqs []ml.Sequence) ([][]float32, error) {
	ids := make([][]int32, len(seqs))
	for i, q := range seqs {
		ids[i] = q.IDs
	}
	return s.m.Forward(ctx, ids)
}

func (s *seamModel) MaxTokens() int          { return s.m.MaxTokens() }
func (s *seamModel) Config() *weights.Config { return s.wcfg }
func (s *seamModel) Backend() ml.Backend     { return s.m.Backend() }
func (s *seamModel) Close() error            { return s.m.Close() }
func (s *seamModel) String() string          { return s.m.String() }
func (s *seamModel) Qwen3Config() *Config    { return s.m.Config() }
