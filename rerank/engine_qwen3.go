package rerank

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/qwen3"
	"github.com/crossrank/crossrank/tokenizer"
)

// isQwen3 reports whether dir holds a Qwen3 re-ranker (config.json names
// Qwen3ForCausalLM or Qwen3ForSequenceClassification). Such a checkpoint is
// not a sequence classifier of ml's registry: its score needs the
// tokenizer's "yes" and "no" and the card's prompt, so it loads here.
func isQwen3(dir string) bool {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	return err == nil && qwen3.Handles(raw)
}

// loadQwen3Engine loads a decoder re-ranker: its tokenizer framed by the
// model's prompt (Qwen3-Reranker's card, or mxbai-rerank-v2's for a Qwen2
// checkpoint), and the decoder whose one logit is yes - no ("1" - "0").
func loadQwen3Engine(ctx context.Context, dir string, opts Options) (engine, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg, err := qwen3.LoadConfig(dir)
	if err != nil {
		return engine{}, err
	}
	spec := &qwen3Prompt
	if cfg.Arch == qwen3.Qwen2CausalLM {
		spec = &mxbaiPrompt
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return engine{}, err
	}
	enc, err := newPromptEncoder(tok, spec, opts.Instruction)
	if err != nil {
		return engine{}, err
	}
	backend, owned := opts.Backend, false
	if backend == nil {
		if backend, err = NewBackend(opts.BackendName, opts.Precision, log); err != nil {
			return engine{}, fmt.Errorf("rerank: %w", err)
		}
		owned = true
	}
	qo := qwen3.Options{Backend: backend, YesID: enc.yes, NoID: enc.no}
	m, err := qwen3.Load(ctx, dir, qo)
	auto := opts.BackendName == "" || strings.EqualFold(opts.BackendName, BackendAuto)
	if err != nil && owned && auto && errors.Is(err, ml.ErrUnsupported) {
		// The automatic choice (CUDA) lacks the decoder's operations: the
		// CPU runs it. A backend the caller named or gave fails instead.
		log.Warn("qwen3: the backend cannot run this architecture; using the CPU", "backend", backend.Name(), "reason", err.Error())
		backend.Close()
		prec := opts.Precision
		if strings.EqualFold(prec, "fp16") {
			prec = "fp32" // no fp16 kernel on the CPU
		}
		if backend, err = cpu.New(cpu.Options{Precision: prec, Logger: log}); err != nil {
			return engine{}, fmt.Errorf("rerank: %w", err)
		}
		qo.Backend = backend
		m, err = qwen3.Load(ctx, dir, qo)
	}
	if err != nil {
		if owned {
			backend.Close()
		}
		return engine{}, err
	}
	qm := &qwen3Model{m: m}
	if owned {
		qm.backend = backend
	}
	if cfg.VocabSize < tok.VocabSize() {
		qm.close()
		return engine{}, fmt.Errorf("qwen3: the tokenizer has %d tokens, the model's vocab_size is %d", tok.VocabSize(), cfg.VocabSize)
	}
	info := Info{
		Device:       backend.Name(),
		Precision:    cfg.DType,
		Labels:       []string{spec.yes + "-" + spec.no},
		Architecture: cfg.Arch.String(),
	}
	if p, ok := backend.(interface{ Precision() string }); ok {
		info.Precision = p.Precision()
	}
	return engine{enc: enc, mdl: qm, info: info, act: Sigmoid, defaultMaxLength: spec.maxLength}, nil
}

// qwen3Model is package qwen3's Model as the batcher's model.
type qwen3Model struct {
	m       *qwen3.Model
	backend ml.Backend // closed with the model when the Reranker made it
}

func (q *qwen3Model) forward(ctx context.Context, batch []seq) ([][]float32, error) {
	seqs := make([][]int32, len(batch))
	for i, s := range batch {
		seqs[i] = s.ids
	}
	return q.m.Forward(ctx, seqs)
}

func (q *qwen3Model) maxTokens() int { return q.m.MaxTokens() }
func (q *qwen3Model) numLabels() int { return 1 }

func (q *qwen3Model) close() error {
	err := q.m.Close()
	if q.backend != nil {
		err = errors.Join(err, q.backend.Close())
	}
	return err
}
