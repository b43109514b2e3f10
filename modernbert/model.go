package modernbert

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/weights"
)

func init() {
	// By config.json's architectures entry and model_type, for ml.Load.
	ml.Register(Architecture, newRegistered)
	ml.Register(ModelType, newRegistered)
}

// newRegistered is New as ml.Load calls it: config.json's fields as
// package weights reads them, the request's weights and backend.
func newRegistered(ctx context.Context, req ml.Request) (ml.Model, error) {
	cfg, err := req.WeightsConfig()
	if err != nil {
		return nil, err
	}
	if req.Backend == nil { // New would make one the caller could not close
		return nil, errors.New("modernbert: ml.Request without a backend")
	}
	return New(ctx, cfg, req.Src, req.Backend)
}

// Model is a loaded ModernBERT cross-encoder (an ml.Model). It is safe for
// concurrent use: weights are read-only after load and every Forward takes
// its own Run.
type Model struct {
	wcfg       *weights.Config
	cfg        *Config
	backend    ml.Backend
	ownBackend bool
	net        ForSequenceClassification

	// observe, when set (tests only), sees the hidden states as
	// transformers' output_hidden_states returns them.
	observe func(layer int, hidden []float32)
}

// Load reads dir/config.json and the checkpoint's safetensors file(s) and
// prepares the weights on b (the CPU backend in fp32 when nil; a backend
// passed stays the caller's). bf16 and fp16 checkpoints are widened to
// float32 at load.
func Load(ctx context.Context, dir string, b ml.Backend) (*Model, error) {
	cfg, err := weights.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	ckpt, err := weights.Open(dir)
	if err != nil {
		return nil, err
	}
	defer ckpt.Close() // the backends copy what they keep
	return New(ctx, cfg, ckpt, b)
}

// New builds a model from a parsed config (whose Raw config.json is read
// for ModernBERT's own fields) and its weights, prepared on b. When b is
// nil New makes the CPU backend (cpu.Default) and Close closes it.
func New(ctx context.Context, wcfg *weights.Config, src ml.TensorSource, b ml.Backend) (*Model, error) {
	if c, isCkpt := src.(*weights.Checkpoint); src == nil || isCkpt && c == nil {
		return nil, errors.New("modernbert: nil checkpoint")
	}
	if wcfg == nil || len(wcfg.Raw) == 0 {
		return nil, errors.New("modernbert: no config.json (weights.Config.Raw is empty)")
	}
	cfg, err := ParseConfig(wcfg.Raw)
	if err != nil {
		return nil, fmt.Errorf("modernbert: config.json: %w", err)
	}
	own := b == nil
	if own {
		b = cpu.Default()
	}
	m, err := newModel(ctx, wcfg, cfg, src, b)
	if err != nil {
		if own {
			b.Close()
		}
		return nil, err
	}
	m.ownBackend = own
	return m, nil
}

// seamActs maps ModernBERT's activations to the seam's.
var seamActs = map[Activation]ml.Activation{ActGELU: ml.ActGELU, ActGELUTanh: ml.ActGELUNew, ActReLU: ml.ActReLU}

// needs checks, at load, that b has every optional operation the forward
// pass calls, so that a backend without one (CUDA, for now) fails here with
// an error naming it, never in the middle of a request.
func needs(b ml.Backend, pooling Pooling) error {
	errs := []error{
		ml.Need[ml.RoPERun](b, "RoPE (rotary position embeddings)"),
		ml.Need[ml.WindowAttentionRun](b, "WindowAttention (local attention)"),
		ml.Need[ml.GLURun](b, "GLU (ModernBERT's GeGLU MLP)"),
		ml.Need[ml.AddRun](b, "Add (residual connections)"),
	}
	if pooling == PoolMean {
		errs = append(errs, ml.Need[ml.MeanRowsRun](b, "MeanRows (mean pooling)"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("modernbert: %w", err)
	}
	return nil
}

func newModel(ctx context.Context, wcfg *weights.Config, cfg *Config, src ml.TensorSource, b ml.Backend) (*Model, error) {
	if err := needs(b, cfg.Pooling); err != nil {
		return nil, err
	}
	m := &Model{wcfg: wcfg, cfg: cfg, backend: b}
	n := &m.net
	n.Pooling = cfg.Pooling
	n.Model.Embeddings.Norm.HasBias = cfg.NormBias
	n.Model.FinalNorm.HasBias = cfg.NormBias
	n.Model.Layers = make([]EncoderLayer, cfg.NumHiddenLayers)
	for i := range n.Model.Layers {
		l := &n.Model.Layers[i]
		l.AttnNorm.Identity = i == 0
		l.AttnNorm.HasBias = cfg.NormBias
		l.MLPNorm.HasBias = cfg.NormBias
		l.Attn.Wqkv.HasBias = cfg.AttentionBias
		l.Attn.Wo.HasBias = cfg.AttentionBias
		l.Attn.Heads = cfg.NumAttentionHeads
		l.Attn.Theta = cfg.RopeTheta(i)
		l.Attn.Window = -1
		if cfg.LayerTypes[i] == SlidingAttention {
			l.Attn.Window = cfg.Window()
		}
		l.MLP.Wi.HasBias = cfg.MLPBias
		l.MLP.Wo.HasBias = cfg.MLPBias
		l.MLP.Act = seamActs[cfg.HiddenActivation]
	}
	n.Head.Dense.HasBias = cfg.ClassifierBias
	n.Head.Norm.HasBias = cfg.NormBias
	n.Head.Act = seamActs[cfg.ClassifierActivation]

	bd := &ml.Binder{
		Ctx:     ctx,
		Backend: b,
		Src:     src,
		Eps:     float32(cfg.NormEps),
		Dims: map[string]int{
			"hidden":        cfg.HiddenSize,
			"intermediate":  cfg.IntermediateSize,
			"intermediate2": 2 * cfg.IntermediateSize,
			"vocab":         cfg.VocabSize,
			"labels":        cfg.NumLabels,
		},
	}
	bind := func() error { return bd.Bind("", n) }
	// Binding reads the memory-mapped checkpoint: a file truncated on disk
	// while we read it must fail the load with an error, not kill the
	// process (weights.Checkpoint.Guard).
	if g, ok := src.(interface{ Guard(func() error) error }); ok {
		err := g.Guard(bind)
		if err != nil {
			return nil, fmt.Errorf("modernbert: %w", err)
		}
	} else if err := bind(); err != nil {
		return nil, fmt.Errorf("modernbert: %w", err)
	}
	if err := checkTensors(src, cfg); err != nil {
		return nil, err
	}
	return m, nil
}

// checkTensors rejects a checkpoint with more layers than config.json's
// num_hidden_layers: every tensor the config asks for exists, so binding
// succeeds, but the model would silently skip the extra layers. Other
// unused tensors (an MLM decoder, a bias the config turns off) are
// ignored, as transformers ignores them.
func checkTensors(src ml.TensorSource, cfg *Config) error {
	lister, ok := src.(interface{ Names() []string })
	if !ok {
		return nil
	}
	for _, name := range lister.Names() {
		rest, found := strings.CutPrefix(name, "model.layers.")
		if !found {
			continue
		}
		i, err := strconv.Atoi(rest[:max(strings.IndexByte(rest, '.'), 0)])
		if err == nil && i >= cfg.NumHiddenLayers {
			return fmt.Errorf("modernbert: checkpoint has tensor %q but config.json has num_hidden_layers %d", name, cfg.NumHiddenLayers)
		}
	}
	return nil
}

// Forward returns the classifier's logits of each sequence. The sequences
// are packed into one batch without padding; each attends within itself.
func (m *Model) Forward(ctx context.Context, seqs []ml.Sequence) ([][]float32, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	total := 0
	for i, s := range seqs {
		if len(s.IDs) == 0 {
			return nil, fmt.Errorf("modernbert: sequence %d is empty", i)
		}
		if len(s.IDs) > m.MaxTokens() {
			return nil, fmt.Errorf("modernbert: sequence %d has %d tokens, more than max_position_embeddings %d", i, len(s.IDs), m.MaxTokens())
		}
		total += len(s.IDs)
	}
	ids := make([]int32, 0, total)
	offsets := make([]int32, 1, len(seqs)+1)
	starts := make([]int32, 0, len(seqs))
	for i, s := range seqs {
		for j, id := range s.IDs {
			if id < 0 || int(id) >= m.cfg.VocabSize {
				return nil, fmt.Errorf("modernbert: sequence %d, token %d: id %d is outside the vocabulary [0, %d)", i, j, id, m.cfg.VocabSize)
			}
		}
		starts = append(starts, int32(len(ids)))
		ids = append(ids, s.IDs...)
		offsets = append(offsets, int32(len(ids)))
	}
	r, err := m.backend.NewRun(ctx, total)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var observe func(int, ml.Tensor)
	if m.observe != nil {
		observe = func(layer int, x ml.Tensor) { m.observe(layer, r.Read(x)) }
	}
	logits := r.Read(m.net.Forward(r, ids, starts, offsets, observe))
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("modernbert: %w", err)
	}
	labels := m.cfg.NumLabels
	if len(logits) != len(seqs)*labels {
		return nil, fmt.Errorf("modernbert: %d logits for %d sequences of %d labels", len(logits), len(seqs), labels)
	}
	out := make([][]float32, len(seqs))
	for i := range out {
		out[i] = logits[i*labels : (i+1)*labels : (i+1)*labels]
	}
	return out, nil
}

// MaxTokens is the longest sequence the model takes: max_position_embeddings
// (8,192 for ModernBERT-base and gte-reranker-modernbert-base).
func (m *Model) MaxTokens() int { return m.cfg.MaxPositionEmbeddings }

// Config is the model's config.json as package weights reads it (labels,
// dtype, the sentence-transformers activation).
func (m *Model) Config() *weights.Config { return m.wcfg }

// ModernBertConfig is the model's config.json as this package reads it.
func (m *Model) ModernBertConfig() *Config { return m.cfg }

// Backend is the backend the model runs on.
func (m *Model) Backend() ml.Backend { return m.backend }

// Close releases the backend when the model made it.
func (m *Model) Close() error {
	if m.ownBackend {
		return m.backend.Close()
	}
	return nil
}

// String describes the model in one line.
func (m *Model) String() string {
	c := m.cfg
	global := 0
	for _, t := range c.LayerTypes {
		if t == FullAttention {
			global++
		}
	}
	return fmt.Sprintf("%s: %d layers (%d global, %d local with a window of %d), hidden %d, %d heads, %s pooling, %d labels, on %s",
		Architecture, c.NumHiddenLayers, global, c.NumHiddenLayers-global, c.LocalAttention, c.HiddenSize,
		c.NumAttentionHeads, c.Pooling, c.NumLabels, m.backend.Name())
}
