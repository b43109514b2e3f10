package qwen3

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/weights"
)

// Options configure Load and New.
type Options struct {
	// Backend runs the model; it must have the decoder's operations
	// (ml.RMSNormRun, ...). nil means the fast CPU backend. A backend passed
	// here stays the caller's: Model.Close does not close it.
	Backend ml.Backend
	// YesID and NoID are the token ids of "yes" and "no": a CausalLM's
	// score is the difference of their lm_head logits at the last token.
	// They are the tokenizer's to know; SequenceClassification ignores them.
	YesID, NoID int32
}

// Model is a loaded Qwen3 re-ranker. It is safe for concurrent use:
// weights are read-only after load and every Forward takes its own Run.
type Model struct {
	cfg        *Config
	backend    ml.Backend
	ownBackend bool
	decoder    Decoder
	head       Head

	// observe, when set (tests only), sees the hidden states as
	// transformers' output_hidden_states returns them.
	observe func(layer int, hidden []float32)
	// fullLastLayer, when set (tests only), runs the whole last layer
	// even where the backend could compute only the rows the head reads.
	fullLastLayer bool
}

// Load reads dir/config.json and the checkpoint's safetensors file(s) and
// prepares the weights on opts.Backend. bf16 and fp16 checkpoints are
// widened to float32 at load.
func Load(ctx context.Context, dir string, opts Options) (*Model, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	ck, err := weights.Open(dir)
	if err != nil {
		return nil, err
	}
	// The backends copy what they keep, so the mapping can go once the
	// model is built.
	defer ck.Close()
	b, own := opts.Backend, false
	if b == nil {
		b, own = cpu.Default(), true
	}
	var m *Model
	err = ck.Guard(func() error {
		var err error
		m, err = New(ctx, cfg, ck, b, opts.YesID, opts.NoID)
		return err
	})
	if err != nil {
		if own {
			b.Close()
		}
		return nil, err
	}
	m.ownBackend = own
	return m, nil
}

// New builds a model from a parsed config and a tensor source, its weights
// prepared on b (which stays the caller's).
func New(ctx context.Context, cfg *Config, src ml.TensorSource, b ml.Backend, yes, no int32) (*Model, error) {
	if cfg == nil || src == nil || b == nil {
		return nil, errors.New("qwen3: nil config, tensor source or backend")
	}
	if err := needs(b); err != nil {
		return nil, err
	}
	m := &Model{cfg: cfg, backend: b}
	d := &m.decoder
	d.Layers = make([]DecoderLayer, cfg.NumHiddenLayers)
	for i := range d.Layers {
		a := &d.Layers[i].SelfAttn
		a.Heads, a.KV = cfg.NumAttentionHeads, cfg.NumKeyValueHeads
		a.QProj.HasBias, a.KProj.HasBias, a.VProj.HasBias = cfg.QKVBias, cfg.QKVBias, cfg.QKVBias
		a.QNorm.Absent, a.KNorm.Absent = !cfg.QKNorm, !cfg.QKNorm
	}
	d.Rotary = RotaryEmbedding{Theta: cfg.RopeTheta}
	bd := &ml.Binder{
		Ctx: ctx, Backend: b, Src: src, Eps: float32(cfg.RMSNormEps),
		Dims: map[string]int{
			"hidden": cfg.HiddenSize, "intermediate": cfg.IntermediateSize, "vocab": cfg.VocabSize,
			"head": cfg.HeadDim, "q": cfg.NumAttentionHeads * cfg.HeadDim, "kv": cfg.NumKeyValueHeads * cfg.HeadDim,
		},
	}
	if err := m.bindHead(bd, yes, no); err != nil {
		return nil, err
	}
	if err := bd.Bind("model", d); err != nil {
		return nil, fmt.Errorf("qwen3: %w", err)
	}
	if n, ok := src.(interface{ Names() []string }); ok {
		if err := checkLayerCount(n.Names(), cfg.NumHiddenLayers); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// bindHead prepares the rows that turn the last hidden state into logits:
// lm_head (embed_tokens when tied) rows yes and no, or score.weight.
func (m *Model) bindHead(bd *ml.Binder, yes, no int32) error {
	c := m.cfg
	h := c.HiddenSize
	switch c.Arch {
	case CausalLM, Qwen2CausalLM:
		if yes < 0 || int(yes) >= c.VocabSize || no < 0 || int(no) >= c.VocabSize || yes == no {
			return fmt.Errorf("qwen3: yes/no ids %d/%d: want two ids in [0, %d)", yes, no, c.VocabSize)
		}
		name := "lm_head.weight"
		if c.TieWordEmbeddings {
			name = "model.embed_tokens.weight"
		}
		// Only the two rows are read: a tied table is bound again, in its
		// stored precision where the backend allows, by EmbedTokens.
		rows, err := bd.Rows(name, c.VocabSize, h, int(yes), int(no))
		if err != nil {
			return fmt.Errorf("qwen3: %w", err)
		}
		var hw ml.Weight
		if hw, err = bd.Backend.Matrix(name+"[yes,no]", rows, 2, h); err != nil {
			return err
		}
		m.head.Rows = hw
		if !c.TieWordEmbeddings {
			bd.Release(name)
		}
	case SequenceClassification:
		w, err := bd.Tensor("score.weight", 1, h)
		if err != nil {
			return fmt.Errorf("qwen3: %w", err)
		}
		if m.head.Rows, err = bd.Backend.Matrix("score.weight", w, 1, h); err != nil {
			return err
		}
		bd.Release("score.weight")
	default:
		return fmt.Errorf("qwen3: architecture %v", c.Arch)
	}
	return nil
}

// Config is the model's config.json.
func (m *Model) Config() *Config { return m.cfg }

// MaxTokens is the longest sequence the model takes: max_position_embeddings.
func (m *Model) MaxTokens() int { return m.cfg.MaxPositionEmbeddings }

// Backend is the backend the model runs on.
func (m *Model) Backend() ml.Backend { return m.backend }

// Close releases the backend when Load made it.
func (m *Model) Close() error {
	if m.ownBackend {
		m.ownBackend = false
		return m.backend.Close()
	}
	return nil
}

// Forward returns one logit per sequence, read at its last token: yes - no
// for a CausalLM (the card's score is its sigmoid), the score row's output
// for SequenceClassification. The sequences are packed into one batch
// without padding; each attends only to its own earlier tokens, at
// positions 0..n-1, so its logit does not depend on the others.
func (m *Model) Forward(ctx context.Context, seqs [][]int32) ([][]float32, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	b, err := m.pack(seqs)
	if err != nil {
		return nil, err
	}
	mr, err := m.backend.NewRun(ctx, len(b.ids))
	if err != nil {
		return nil, err
	}
	defer mr.Close()
	r, err := newRun(mr)
	if err != nil {
		return nil, fmt.Errorf("qwen3: %w", err)
	}
	var observe func(int, ml.Tensor)
	if m.observe != nil {
		observe = func(layer int, x ml.Tensor) { m.observe(layer, r.Read(x)) }
	}
	if m.fullLastLayer {
		r.rows = nil // the whole last layer, as a backend without AttentionRows runs it
	}
	logits := r.Read(m.head.Forward(r, m.decoder.Forward(r, b.ids, b.offsets, b.last, observe)))
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("qwen3: forward: %w", err)
	}
	n := 1
	if m.cfg.Arch != SequenceClassification {
		n = 2
	}
	if len(logits) != len(seqs)*n {
		return nil, fmt.Errorf("qwen3: backend %s returned %d logits for %d sequences", m.backend.Name(), len(logits), len(seqs))
	}
	out := make([][]float32, len(seqs))
	for i := range out {
		l := logits[i*n : (i+1)*n]
		if n == 2 {
			out[i] = []float32{l[0] - l[1]} // yes - no
		} else {
			out[i] = []float32{l[0]}
		}
	}
	return out, nil
}

// batch is a packed batch: the tokens of every sequence one after another.
type batch struct {
	ids     []int32
	offsets []int32 // cu_seqlens: sequence i is rows offsets[i] to offsets[i+1]-1
	last    []int32 // the row of each sequence's last token
}

func (m *Model) pack(seqs [][]int32) (*batch, error) {
	total := 0
	for i, s := range seqs {
		switch {
		case len(s) == 0:
			return nil, fmt.Errorf("qwen3: sequence %d is empty", i)
		case len(s) > m.MaxTokens():
			return nil, fmt.Errorf("qwen3: sequence %d has %d tokens, more than max_position_embeddings %d", i, len(s), m.MaxTokens())
		}
		for j, id := range s {
			if id < 0 || int(id) >= m.cfg.VocabSize {
				return nil, fmt.Errorf("qwen3: sequence %d, token %d: id %d is outside the vocabulary [0, %d)", i, j, id, m.cfg.VocabSize)
			}
		}
		total += len(s)
	}
	b := &batch{
		ids:     make([]int32, 0, total),
		offsets: make([]int32, 0, len(seqs)+1), last: make([]int32, 0, len(seqs)),
	}
	for _, s := range seqs {
		b.offsets = append(b.offsets, int32(len(b.ids)))
		b.ids = append(b.ids, s...)
		b.last = append(b.last, int32(len(b.ids)-1))
	}
	b.offsets = append(b.offsets, int32(len(b.ids)))
	return b, nil
}

// String describes the model in one line.
func (m *Model) String() string {
	c := m.cfg
	return fmt.Sprintf("%v: %d layers, hidden %d, %d heads over %d key-value heads of %d, on %s",
		c.Arch, c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, m.backend.Name())
}

// checkLayerCount rejects a checkpoint with more decoder layers than
// config.json's num_hidden_layers, which would otherwise be skipped silently.
func checkLayerCount(names []string, layers int) error {
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, "model.layers.")
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, ".")
		var i int
		if _, err := fmt.Sscan(num, &i); err == nil && i >= layers {
			return fmt.Errorf("qwen3: checkpoint has tensor %q but config.json has num_hidden_layers %d", n, layers)
		}
	}
	return nil
}
