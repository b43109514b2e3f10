package rerank

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/crossrank/crossrank/qwen3"
	"github.com/crossrank/crossrank/tokenizer"
)

// isQwen3 reports whether dir holds a Qwen3 re-ranker (config.json names
// Qwen3ForCausalLM or Qwen3ForSequenceClassification).
func isQwen3(dir string) bool {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	return err == nil && qwen3.IsQwen3(raw)
}

// loadQwen3Engine loads a Qwen3-Reranker: its tokenizer framed by the
// card's prompt, and the decoder whose one logit is yes - no.
func loadQwen3Engine(ctx context.Context, dir string, opts Options) (engine, error) {
	if opts.Backend != nil {
		return engine{}, errors.New("qwen3: a caller's Backend is not supported yet; leave Options.Backend nil")
	}
	if p := strings.ToLower(opts.Precision); p != "" && p != "fp32" {
		return engine{}, fmt.Errorf("qwen3: precision %q is not supported yet (fp32 only)", opts.Precision)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return engine{}, err
	}
	enc, err := newPromptEncoder(tok, opts.Instruction)
	if err != nil {
		return engine{}, err
	}
	m, err := qwen3.Load(ctx, dir, qwen3.Options{YesID: enc.yes, NoID: enc.no})
	if err != nil {
		return engine{}, err
	}
	cfg := m.Config()
	if cfg.VocabSize < tok.VocabSize() {
		m.Close()
		return engine{}, fmt.Errorf("qwen3: the tokenizer has %d tokens, the model's vocab_size is %d", tok.VocabSize(), cfg.VocabSize)
	}
	info := Info{
		Device:       "cpu (reference)",
		Precision:    "fp32",
		Labels:       []string{"yes-no"},
		Architecture: cfg.Arch.String(),
	}
	return engine{enc: enc, mdl: &qwen3Model{m: m}, info: info, act: Sigmoid, defaultMaxLength: qwen3CardMaxLength}, nil
}

// qwen3Model is package qwen3's Model as the batcher's model.
type qwen3Model struct{ m *qwen3.Model }

func (q *qwen3Model) forward(ctx context.Context, batch []seq) ([][]float32, error) {
	seqs := make([][]int32, len(batch))
	for i, s := range batch {
		seqs[i] = s.ids
	}
	return q.m.Forward(ctx, seqs)
}

func (q *qwen3Model) maxTokens() int { return q.m.MaxTokens() }
func (q *qwen3Model) numLabels() int { return 1 }
func (q *qwen3Model) close() error   { return q.m.Close() }
