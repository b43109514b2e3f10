package benchmarks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/modernbert"
	"github.com/crossrank/crossrank/qwen3"
	"github.com/crossrank/crossrank/weights"
)

// The token ids whose lm_head rows give a Qwen3 CausalLM stand-in's logit
// (yes - no). A real checkpoint's are its tokenizer's "yes" and "no"; for
// the benchmark's random stand-in any two fixed ids do, and
// bench_peers.py's QWEN3_YES and QWEN3_NO must be the same two.
const (
	Qwen3YesID = 9693
	Qwen3NoID  = 2152
)

// Checkpoint is what the harness needs to know of a model folder.
type Checkpoint struct {
	Dir           string
	Architectures []string
	Shape         Shape
	VocabSize     int
	// SetFamily is the workload family whose token ids it reads ("bert" or
	// "xlmr"). The ids are only indices for a stand-in: ModernBERT reads
	// the xlmr sets (ids below 3,622, whose text the XLM-R tokenizer of
	// its stand-in gives back), Qwen3 the bert sets (ids below 30,522).
	SetFamily string
	// qwen3 is set for a decoder re-ranker (Qwen3, Qwen2), scored from the
	// lm_head rows of two tokens.
	qwen3 bool
}

// Describe reads dir's config.json: its architecture, shape and vocab.
func Describe(dir string) (*Checkpoint, error) {
	raw, err := os.ReadFile(filepath.Join(dir, weights.ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if qwen3.Handles(raw) {
		c, err := qwen3.ParseConfig(raw)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", dir, err)
		}
		s := Shape{
			Hidden: c.HiddenSize, Layers: c.NumHiddenLayers, Intermediate: c.IntermediateSize, Labels: 1,
			Heads: c.NumAttentionHeads, KVHeads: c.NumKeyValueHeads, HeadDim: c.HeadDim, Gated: true, Causal: true,
			HeadRows: 2, // lm_head's "yes" and "no"
		}
		if c.Arch == qwen3.SequenceClassification {
			s.HeadRows = 1
		}
		return &Checkpoint{Dir: dir, Architectures: c.Architectures, Shape: s, VocabSize: c.VocabSize, SetFamily: "bert", qwen3: true}, nil
	}
	cfg, err := weights.ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", dir, err)
	}
	ck := &Checkpoint{Dir: dir, Architectures: cfg.Architectures, Shape: ShapeOf(cfg), VocabSize: cfg.VocabSize, SetFamily: "bert"}
	switch cfg.Arch().Family() {
	case weights.XLMRoberta:
		ck.SetFamily = "xlmr"
	case weights.ModernBert:
		c, err := modernbert.ParseConfig(raw)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", dir, err)
		}
		ck.SetFamily = "xlmr"
		ck.Shape.Gated = true // GeGLU: Wi is input and gate halves
		ck.Shape.Window = c.Window()
		for _, t := range c.LayerTypes {
			if t == modernbert.SlidingAttention {
				ck.Shape.LocalLayers++
			}
		}
	}
	return ck, nil
}

// load builds the checkpoint's model on be (ml.LoadWith). A decoder
// re-ranker reads the lm_head rows of its score tokens ("yes" and "no",
// Qwen2's "1" and "0"), which the tokenizer names; the stand-in's tokenizer
// does not have them, so the fixed Qwen3YesID and Qwen3NoID stand in.
func (c *Checkpoint) load(ctx context.Context, be ml.Backend) (ml.Model, error) {
	var opts ml.LoadOptions
	if c.qwen3 {
		opts.TokenID = func(text string) (int32, error) {
			switch text {
			case "yes", "1":
				return Qwen3YesID, nil
			case "no", "0":
				return Qwen3NoID, nil
			}
			return 0, fmt.Errorf("bench: no fixed id for score token %q", text)
		}
	}
	return ml.LoadWith(ctx, c.Dir, be, opts)
}
