package embed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	_ "github.com/crossrank/crossrank/bert" // BertModel, XLMRobertaModel (and their cross-encoders' encoders)
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/rerank"
	"github.com/crossrank/crossrank/weights"
)

// openEncoder loads the transformer encoder of dir (any architecture
// registered with ml that gives hidden states) on opts' backend.
func openEncoder(ctx context.Context, dir string, opts Options) (encoder, Info, error) {
	cfg, err := weights.LoadConfig(dir)
	if err != nil {
		return nil, Info{}, err
	}
	if cfg.Arch().HasHead() && !IsEmbedder(dir) {
		return nil, Info{}, fmt.Errorf("%w: %s is %v, a cross-encoder (its scores are for pairs, not vectors); re-rank with it, or name a sentence-transformers model", ErrNotEmbedder, dir, cfg.Arch())
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	backend, owned := opts.Backend, false
	if backend == nil {
		if backend, err = rerank.NewBackend(opts.BackendName, opts.Precision, log); err != nil {
			return nil, Info{}, fmt.Errorf("embed: %w", err)
		}
		owned = true
	}
	m, err := ml.Load(ctx, dir, backend)
	if err != nil {
		if owned {
			backend.Close()
		}
		return nil, Info{}, err
	}
	enc, ok := m.(ml.Encoder)
	if !ok {
		m.Close()
		if owned {
			backend.Close()
		}
		return nil, Info{}, fmt.Errorf("%w: the %v model gives no hidden states", ErrNotEmbedder, cfg.Arch())
	}
	info := Info{Device: backend.Name(), Precision: cfg.DType()}
	if p, ok := backend.(interface{ Precision() string }); ok {
		info.Precision = p.Precision()
	}
	if len(cfg.Architectures) > 0 {
		info.Architecture = cfg.Architectures[0]
	}
	e := &mlEncoder{m: enc}
	if owned {
		e.backend = backend
	}
	return e, info, nil
}

// mlEncoder is an ml.Encoder as the embedder's encoder.
type mlEncoder struct {
	m       ml.Encoder
	backend ml.Backend // closed with the model when the Embedder made it
}

func (e *mlEncoder) hidden(ctx context.Context, b []seq) ([][]float32, error) {
	seqs := make([]ml.Sequence, len(b))
	for i, s := range b {
		seqs[i] = ml.Sequence{IDs: s.ids, TypeIDs: s.typeIDs}
	}
	return e.m.Hidden(ctx, seqs)
}

// hiddenRows is HiddenRows where the model has it (its last layer computing
// only those rows), else the rows of Hidden.
func (e *mlEncoder) hiddenRows(ctx context.Context, b []seq, rows []int) ([][]float32, error) {
	rm, ok := e.m.(ml.RowsEncoder)
	if !ok {
		hs, err := e.hidden(ctx, b)
		if err != nil {
			return nil, err
		}
		return pickRows(hs, rows, e.m.HiddenSize())
	}
	seqs := make([]ml.Sequence, len(b))
	for i, s := range b {
		seqs[i] = ml.Sequence{IDs: s.ids, TypeIDs: s.typeIDs}
	}
	return rm.HiddenRows(ctx, seqs, rows)
}

func (e *mlEncoder) hiddenSize() int { return e.m.HiddenSize() }
func (e *mlEncoder) maxTokens() int  { return e.m.MaxTokens() }

func (e *mlEncoder) close() error {
	err := e.m.Close()
	if e.backend != nil {
		err = errors.Join(err, e.backend.Close())
	}
	return err
}

// pickRows takes row rows[i] (of d values) out of each hs[i], for an
// encoder that gives only every row.
func pickRows(hs [][]float32, rows []int, d int) ([][]float32, error) {
	if len(hs) != len(rows) {
		return nil, fmt.Errorf("embed: the encoder returned %d sequences for %d", len(hs), len(rows))
	}
	out := make([][]float32, len(hs))
	for i, r := range rows {
		if r < 0 || (r+1)*d > len(hs[i]) {
			return nil, fmt.Errorf("embed: the encoder returned %d values for sequence %d, no row %d of %d", len(hs[i]), i, r, d)
		}
		out[i] = hs[i][r*d : (r+1)*d : (r+1)*d]
	}
	return out, nil
}
