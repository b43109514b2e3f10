package qwen3

import (
	"context"
	"fmt"

	"github.com/crossrank/crossrank/weights"
)

// Options configure Load.
type Options struct {
	// YesID and NoID are the token ids of "yes" and "no": a CausalLM's
	// score is the difference of their lm_head logits at the last token.
	// They are the tokenizer's to know; SequenceClassification ignores them.
	YesID, NoID int32
}

// Model is a loaded Qwen3 re-ranker. It is safe for concurrent use.
type Model struct {
	cfg *Config
	ref *Reference
}

// Load reads dir/config.json and the checkpoint's safetensors file(s).
// bf16 and fp16 checkpoints are widened to float32 at load.
func Load(ctx context.Context, dir string, opts Options) (*Model, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	ck, err := weights.Open(dir)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.YesID == opts.NoID && cfg.Arch == CausalLM {
		return nil, fmt.Errorf("qwen3: yes and no are both token %d", opts.YesID)
	}
	var ref *Reference
	err = ck.Guard(func() error {
		var err error
		ref, err = NewReference(cfg, ck, opts.YesID, opts.NoID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := checkLayerCount(ck.Names(), cfg.NumHiddenLayers); err != nil {
		return nil, err
	}
	return &Model{cfg: cfg, ref: ref}, nil
}

// Config is the model's config.json.
func (m *Model) Config() *Config { return m.cfg }

// MaxTokens is the longest sequence the model takes: max_position_embeddings.
func (m *Model) MaxTokens() int { return m.cfg.MaxPositionEmbeddings }

// Close releases what the model holds.
func (m *Model) Close() error { return nil }

// Forward returns one logit per sequence, read at its last token: yes - no
// for a CausalLM (the card's score is its sigmoid), the score row's output
// for SequenceClassification.
func (m *Model) Forward(ctx context.Context, seqs [][]int32) ([][]float32, error) {
	for i, s := range seqs {
		if len(s) > m.MaxTokens() {
			return nil, fmt.Errorf("qwen3: sequence %d has %d tokens, more than max_position_embeddings %d", i, len(s), m.MaxTokens())
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := m.ref.Forward(seqs)
	if err != nil {
		return nil, err
	}
	for i, l := range out {
		if len(l) == 2 {
			out[i] = []float32{l[0] - l[1]}
		}
	}
	return out, nil
}

// String describes the model in one line.
func (m *Model) String() string {
	c := m.cfg
	return fmt.Sprintf("%v: %d layers, hidden %d, %d heads over %d key-value heads of %d",
		c.Arch, c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim)
}

// checkLayerCount rejects a checkpoint with more decoder layers than
// config.json's num_hidden_layers, which would otherwise be skipped silently.
func checkLayerCount(names []string, layers int) error {
	for _, n := range names {
		var i int
		var rest string
		if _, err := fmt.Sscanf(n, "model.layers.%d.%s", &i, &rest); err == nil && i >= layers {
			return fmt.Errorf("qwen3: checkpoint has tensor %q but config.json has num_hidden_layers %d", n, layers)
		}
	}
	return nil
}
