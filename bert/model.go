package bert

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
	// The architectures this package implements, by config.json's
	// architectures entries and model_type, for ml.Load.
	for _, name := range []string{
		"BertForSequenceClassification", "bert",
		"XLMRobertaForSequenceClassification", "xlm-roberta",
		// The encoders without a head, for embedding models (Model.Hidden).
		"BertModel", "XLMRobertaModel",
	} {
		ml.Register(name, newRegistered)
	}
}

// newRegistered is New as ml.Load calls it: config.json's fields as
// package weights reads them, the request's weights and backend.
func newRegistered(ctx context.Context, req ml.Request) (ml.Model, error) {
	cfg, err := req.WeightsConfig()
	if err != nil {
		return nil, err
	}
	if req.Backend == nil { // New would make one the caller could not close
		return nil, errors.New("bert: ml.Request without a backend")
	}
	return New(ctx, cfg, req.Src, req.Backend)
}

// Options configure Load.
type Options struct {
	// Backend runs the model; nil means the CPU backend in fp32
	// (cpu.Default). Pass cpu.New(cpu.Options{Precision: "int8"}),
	// reference.New() or cuda.New(...) to choose another. A backend passed
	// here stays the caller's: Model.Close does not close it.
	Backend ml.Backend
}

// Model is a loaded cross-encoder (an ml.Model), or, for BertModel and
// XLMRobertaModel checkpoints, an encoder without a head (an ml.Encoder:
// Hidden gives the last hidden states an embedding model pools, HiddenRows
// the one row per sequence that CLS pooling reads). It is safe for
// concurrent use: weights are read-only after load and every Forward takes
// its own Run.
type Model struct {
	cfg        *weights.Config
	backend    ml.Backend
	ownBackend bool
	maxTokens  int
	embeddings Embeddings
	encoder    Encoder
	head       head

	// observe, when set (tests only), sees the hidden states after the
	// embeddings (layer 0) and after each encoder layer, as transformers'
	// output_hidden_states returns them.
	observe func(layer int, hidden []float32)
	// fullLastLayer, when set (tests only), runs the whole last layer
	// even where the backend could compute only the rows the head reads.
	fullLastLayer bool
}

// Load reads dir/config.json and the checkpoint's safetensors file(s) and
// prepares the weights on opts.Backend (the CPU when nil). fp16 and bf16
// checkpoints are widened to float32 at load and computed in float32.
// (ml.Load does the same for any registered architecture, given a backend.)
func Load(ctx context.Context, dir string, opts Options) (*Model, error) {
	cfg, err := weights.LoadConfig(dir)
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
	return New(ctx, cfg, ckpt, opts.Backend)
}

// New builds a model from a parsed config and its weights (an open
// *weights.Checkpoint, which may be closed afterwards), prepared on b. When
// b is nil New makes the CPU backend (cpu.Default) and Close closes it; a
// backend passed stays the caller's.
func New(ctx context.Context, cfg *weights.Config, src ml.TensorSource, b ml.Backend) (*Model, error) {
	if c, isCkpt := src.(*weights.Checkpoint); src == nil || isCkpt && c == nil {
		return nil, errors.New("bert: nil checkpoint")
	}
	own := b == nil
	if own {
		b = cpu.Default()
	}
	m, err := newModel(ctx, cfg, src, b)
	if err != nil {
		if own {
			b.Close()
		}
		return nil, err
	}
	m.ownBackend = own
	return m, nil
}

// hiddenActs maps config.json's hidden_act to an Activation.
var hiddenActs = map[string]ml.Activation{
	"gelu":              ml.ActGELU,
	"gelu_new":          ml.ActGELUNew,
	"gelu_pytorch_tanh": ml.ActGELUNew,
	"relu":              ml.ActReLU,
}

func newModel(ctx context.Context, cfg *weights.Config, src ml.TensorSource, b ml.Backend) (*Model, error) {
	if cfg == nil || b == nil {
		return nil, errors.New("bert: nil config or backend")
	}
	act, ok := hiddenActs[cfg.HiddenAct]
	if !ok {
		return nil, fmt.Errorf("bert: hidden_act %q is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)", cfg.HiddenAct)
	}
	arch := cfg.Arch()
	m := &Model{
		cfg:       cfg,
		backend:   b,
		maxTokens: cfg.MaxPositionEmbeddings,
		embeddings: Embeddings{
			PaddingIdx: -1, // BERT: positions 0..n-1
		},
		encoder: Encoder{Layer: make([]Layer, cfg.NumHiddenLayers)},
	}
	for i := range m.encoder.Layer {
		m.encoder.Layer[i].Attention.Self.Heads = cfg.NumAttentionHeads
		m.encoder.Layer[i].Intermediate.Act = act
	}
	switch arch.Family() {
	case weights.Bert:
		if arch.HasHead() {
			m.head = &BertClassifier{}
		}
	case weights.XLMRoberta:
		if arch.HasHead() {
			m.head = &RobertaClassificationHead{}
		}
		m.embeddings.PaddingIdx = cfg.PadTokenID
		// Positions run from padding_idx+1 to padding_idx+n and must stay
		// inside the position table.
		m.maxTokens = cfg.MaxPositionEmbeddings - cfg.PadTokenID - 1
	default:
		return nil, fmt.Errorf("bert: architecture %v is not supported", arch)
	}
	if m.maxTokens <= 0 {
		return nil, fmt.Errorf("bert: max_position_embeddings %d leaves no room for tokens (pad_token_id %d)", cfg.MaxPositionEmbeddings, cfg.PadTokenID)
	}

	// A checkpoint with the other architecture's head would otherwise fail
	// on a missing tensor with no hint why.
	if c, ok := src.(interface{ CheckHead(weights.Arch) error }); ok && arch.HasHead() {
		if err := c.CheckHead(arch); err != nil {
			return nil, err
		}
	}
	bd := &ml.Binder{
		Ctx:     ctx,
		Backend: b,
		Src:     src,
		Eps:     float32(cfg.LayerNormEps),
		Dims: map[string]int{
			"hidden":       cfg.HiddenSize,
			"intermediate": cfg.IntermediateSize,
			"vocab":        cfg.VocabSize,
			"positions":    cfg.MaxPositionEmbeddings,
			"types":        cfg.TypeVocabSize,
			"labels":       cfg.NumLabels,
		},
	}
	prefix := arch.Prefix() // "bert" or "roberta", as the checkpoint names the encoder
	headPrefix := ""
	if arch == weights.XLMRoberta {
		headPrefix = "classifier"
	}
	bindAll := func() error {
		if err := bd.Bind(prefix+".embeddings", &m.embeddings); err != nil {
			return err
		}
		if err := bd.Bind(prefix+".encoder", &m.encoder); err != nil {
			return err
		}
		if m.head == nil { // an encoder alone: no head to bind
			return nil
		}
		return bd.Bind(headPrefix, m.head)
	}
	// Binding reads the memory-mapped checkpoint: a file truncated on disk
	// while we read it must fail the load with an error, not kill the
	// process (weights.Checkpoint.Guard).
	if g, ok := src.(interface{ Guard(func() error) error }); ok {
		if err := g.Guard(bindAll); err != nil {
			return nil, fmt.Errorf("bert: %w", err)
		}
	} else if err := bindAll(); err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	if err := checkLayerCount(src, cfg.NumHiddenLayers); err != nil {
		return nil, err
	}
	return m, nil
}

// checkLayerCount rejects a checkpoint with more encoder layers than
// config.json's num_hidden_layers: every tensor the config asks for exists,
// so binding succeeds, but the model would silently skip the extra layers.
// (Other unused tensors, such as an MLM head or an old position_ids buffer,
// are harmless and ignored, as transformers ignores them.)
func checkLayerCount(src ml.TensorSource, layers int) error {
	lister, ok := src.(interface{ Names() []string })
	if !ok {
		return nil
	}
	for _, name := range lister.Names() {
		_, rest, found := strings.Cut(name, "encoder.layer.")
		if !found {
			continue
		}
		num, _, _ := strings.Cut(rest, ".")
		if i, err := strconv.Atoi(num); err == nil && i >= layers {
			return fmt.Errorf("bert: checkpoint has tensor %q but config.json has num_hidden_layers %d", name, layers)
		}
	}
	return nil
}

// Config is the model's config.json.
func (m *Model) Config() *weights.Config { return m.cfg }

// MaxTokens is the longest sequence the position table allows:
// max_position_embeddings for BERT, max_position_embeddings - pad_token_id
// - 1 for XLM-R (its positions start after the padding index).
func (m *Model) MaxTokens() int { return m.maxTokens }

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

// Forward returns the classification logits (num_labels of them) of each
// sequence. The sequences are packed into one batch with no padding, so a
// sequence's logits do not depend on the others.
func (m *Model) Forward(ctx context.Context, seqs []ml.Sequence) ([][]float32, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	if m.head == nil {
		return nil, fmt.Errorf("bert: %v has no classification head (an embedding model's encoder): it gives hidden states, not logits", m.cfg.Arch())
	}
	var logits []float32
	if _, err := m.run(ctx, seqs, func(r ml.Run, b *batch) {
		logits = r.Read(m.head.Forward(r, m.encode(r, b, b.first)))
	}); err != nil {
		return nil, err
	}

	labels := m.cfg.NumLabels
	if len(logits) != len(seqs)*labels {
		return nil, fmt.Errorf("bert: backend %s returned %d logits for %d sequences of %d labels", m.backend.Name(), len(logits), len(seqs), labels)
	}
	out := make([][]float32, len(seqs))
	for i := range out {
		out[i] = logits[i*labels : (i+1)*labels : (i+1)*labels]
	}
	return out, nil
}

// run packs seqs, calls fn with a new Run over the batch (fn reads what it
// needs before the Run closes) and reports the Run's first error.
func (m *Model) run(ctx context.Context, seqs []ml.Sequence, fn func(ml.Run, *batch)) (*batch, error) {
	b, err := m.pack(seqs)
	if err != nil {
		return nil, err
	}
	r, err := m.backend.NewRun(ctx, len(b.ids))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fn(r, b)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("bert: forward: %w", err)
	}
	return b, nil
}

// encode runs the embeddings and the encoder layers over a packed batch:
// the last hidden states, [tokens, hidden], or with rows (one per
// sequence) those rows alone, the last layer computing only them where the
// backend can (Encoder.Forward).
func (m *Model) encode(r ml.Run, b *batch, rows []int32) ml.Tensor {
	x := m.embeddings.Forward(r, b.ids, b.typeIDs, b.positions)
	var observe func(int, ml.Tensor)
	if m.observe != nil {
		observe = func(layer int, x ml.Tensor) { m.observe(layer, r.Read(x)) }
		observe(0, x)
	}
	if m.fullLastLayer && rows != nil {
		return r.Rows(m.encoder.Forward(r, x, b.offsets, nil, observe), rows)
	}
	return m.encoder.Forward(r, x, b.offsets, rows, observe)
}

// Hidden returns each sequence's last hidden states (transformers'
// last_hidden_state, what sentence-transformers pools): len(IDs) rows of
// hidden_size, row-major. It works with or without a head; the head is not
// run. Sequences are packed, so a sequence's states do not depend on the
// others.
func (m *Model) Hidden(ctx context.Context, seqs []ml.Sequence) ([][]float32, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	var h []float32
	b, err := m.run(ctx, seqs, func(r ml.Run, b *batch) { h = r.Read(m.encode(r, b, nil)) })
	if err != nil {
		return nil, err
	}
	d := m.cfg.HiddenSize
	if len(h) != len(b.ids)*d {
		return nil, fmt.Errorf("bert: backend %s returned %d values for %d tokens of %d", m.backend.Name(), len(h), len(b.ids), d)
	}
	out := make([][]float32, len(seqs))
	for i := range out {
		lo, hi := int(b.offsets[i])*d, int(b.offsets[i+1])*d
		out[i] = h[lo:hi:hi]
	}
	return out, nil
}

// HiddenRows is Hidden at one row per sequence: row rows[i] (counted from
// 0, the [CLS] / <s> token) of sequence i, hidden_size values each. It is
// what CLS pooling reads, and cheaper than Hidden: where the backend has
// ml.AttentionRowsRun the last layer computes only those rows (its keys and
// values for every token, the rest for the kept rows: Encoder.Forward);
// elsewhere it runs whole and the rows are taken after. Each value equals
// Hidden's at that row up to float32 rounding.
func (m *Model) HiddenRows(ctx context.Context, seqs []ml.Sequence, rows []int) ([][]float32, error) {
	if len(rows) != len(seqs) {
		return nil, fmt.Errorf("bert: %d rows for %d sequences", len(rows), len(seqs))
	}
	for i, row := range rows {
		if row < 0 || row >= len(seqs[i].IDs) {
			return nil, fmt.Errorf("bert: sequence %d has %d tokens, no row %d", i, len(seqs[i].IDs), row)
		}
	}
	if len(seqs) == 0 {
		return nil, nil
	}
	var h []float32
	_, err := m.run(ctx, seqs, func(r ml.Run, b *batch) {
		at := make([]int32, len(rows))
		for i, row := range rows {
			at[i] = b.offsets[i] + int32(row)
		}
		h = r.Read(m.encode(r, b, at))
	})
	if err != nil {
		return nil, err
	}
	d := m.cfg.HiddenSize
	if len(h) != len(seqs)*d {
		return nil, fmt.Errorf("bert: backend %s returned %d values for %d rows of %d", m.backend.Name(), len(h), len(seqs), d)
	}
	out := make([][]float32, len(seqs))
	for i := range out {
		out[i] = h[i*d : (i+1)*d : (i+1)*d]
	}
	return out, nil
}

// HiddenSize is the width of the hidden states (config.json's hidden_size).
func (m *Model) HiddenSize() int { return m.cfg.HiddenSize }

// batch is a packed batch: the tokens of every sequence one after another.
type batch struct {
	ids, typeIDs, positions []int32
	offsets                 []int32 // cu_seqlens: sequence i is rows offsets[i] to offsets[i+1]-1
	first                   []int32 // the row of each sequence's first token ([CLS] / <s>)
}

// pack checks the sequences against the model's tables and lays them out
// as one batch.
func (m *Model) pack(seqs []ml.Sequence) (*batch, error) {
	total := 0
	for i, s := range seqs {
		if err := m.check(i, s); err != nil {
			return nil, err
		}
		total += len(s.IDs)
	}
	b := &batch{
		ids:       make([]int32, 0, total),
		typeIDs:   make([]int32, 0, total),
		positions: make([]int32, 0, total),
		offsets:   make([]int32, 0, len(seqs)+1),
		first:     make([]int32, 0, len(seqs)),
	}
	for _, s := range seqs {
		start := len(b.ids)
		b.offsets = append(b.offsets, int32(start))
		b.first = append(b.first, int32(start))
		b.ids = append(b.ids, s.IDs...)
		if s.TypeIDs == nil {
			b.typeIDs = append(b.typeIDs, make([]int32, len(s.IDs))...)
		} else {
			b.typeIDs = append(b.typeIDs, s.TypeIDs...)
		}
		b.positions = m.embeddings.positionIDs(b.positions, s.IDs)
	}
	b.offsets = append(b.offsets, int32(len(b.ids)))
	return b, nil
}

// check rejects what would index outside the model's tables.
func (m *Model) check(i int, s ml.Sequence) error {
	n := len(s.IDs)
	switch {
	case n == 0:
		return fmt.Errorf("bert: sequence %d is empty", i)
	case n > m.maxTokens:
		return fmt.Errorf("bert: sequence %d has %d tokens, more than the %d the model's position table allows (max_position_embeddings %d)",
			i, n, m.maxTokens, m.cfg.MaxPositionEmbeddings)
	case s.TypeIDs != nil && len(s.TypeIDs) != n:
		return fmt.Errorf("bert: sequence %d has %d ids and %d type ids", i, n, len(s.TypeIDs))
	}
	for j, id := range s.IDs {
		if id < 0 || int(id) >= m.cfg.VocabSize {
			return fmt.Errorf("bert: sequence %d, token %d: id %d is outside the vocabulary [0, %d)", i, j, id, m.cfg.VocabSize)
		}
	}
	for j, t := range s.TypeIDs {
		if t < 0 || int(t) >= m.cfg.TypeVocabSize {
			return fmt.Errorf("bert: sequence %d, token %d: type id %d is outside [0, %d) (type_vocab_size)", i, j, t, m.cfg.TypeVocabSize)
		}
	}
	return nil
}

// String describes the model in one line.
func (m *Model) String() string {
	if m.head == nil {
		return fmt.Sprintf("%v: %d layers, hidden %d, %d heads, no head, on %s",
			m.cfg.Arch(), len(m.encoder.Layer), m.cfg.HiddenSize, m.cfg.NumAttentionHeads, m.backend.Name())
	}
	return fmt.Sprintf("%v: %d layers, hidden %d, %d heads, %d labels, on %s",
		m.cfg.Arch(), len(m.encoder.Layer), m.cfg.HiddenSize, m.cfg.NumAttentionHeads, m.cfg.NumLabels, m.backend.Name())
}

var _ ml.RowsEncoder = (*Model)(nil)
