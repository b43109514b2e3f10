package rerank

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/cuda"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/reference"
	"github.com/crossrank/crossrank/tokenizer"
	"github.com/crossrank/crossrank/weights"
)

// loadEngine loads the tokenizer and the model in dir. Every architecture
// loads through ml's registry (models.go imports them); what differs is the
// framing: a decoder re-ranker (decoderPrompts) reads each pair as its
// prompt and is scored by the sigmoid of its one logit, a cross-encoder
// reads the tokenizer's pair encoding, scored as sentence-transformers does.
func loadEngine(ctx context.Context, dir string, opts Options) (engine, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg, err := weights.LoadConfig(dir); err == nil && !cfg.Arch().HasHead() {
		return engine{}, fmt.Errorf("%w: %s is %v, an encoder without a classification head (an embedding model); load it with package embed (crossrank embed, the /v1/embeddings route)", ErrNotReranker, dir, cfg.Arch())
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return engine{}, err
	}
	backend, owned := opts.Backend, false
	if backend == nil {
		if backend, err = newBackend(opts.BackendName, opts.Precision, log); err != nil {
			return engine{}, fmt.Errorf("rerank: %w", err)
		}
		owned = true
	}
	// A decoder re-ranker's score reads the logits of its answer tokens,
	// which the architecture names and the tokenizer knows.
	lo := ml.LoadOptions{TokenID: func(text string) (int32, error) { return singleToken(tok, text) }}
	m, err := ml.LoadWith(ctx, dir, backend, lo)
	if err != nil && errors.Is(err, ml.ErrUnsupported) && owned && isAuto(opts.BackendName) && backend.Name() != "cpu" {
		// auto chose the GPU, whose backend lacks an operation this
		// architecture needs (the error names it): the CPU runs it.
		log.Warn("falling back to the CPU backend", "model", dir, "reason", err.Error())
		backend.Close()
		prec := opts.Precision
		if strings.EqualFold(prec, "fp16") {
			prec = "fp32" // no fp16 CPU kernel; fp32 is exact where fp16 would round
		}
		if backend, err = cpu.New(cpu.Options{Precision: prec, Logger: log}); err != nil {
			return engine{}, fmt.Errorf("rerank: %w", err)
		}
		m, err = ml.LoadWith(ctx, dir, backend, lo)
	}
	if err != nil {
		if owned {
			backend.Close()
		}
		return engine{}, err
	}
	bm := &mlModel{m: m}
	if owned {
		bm.backend = backend
	}
	cfg := m.Config()
	info := Info{
		Device:    backend.Name(),
		Precision: cfg.DType(),
		Labels:    cfg.Labels(),
	}
	if p, ok := backend.(interface{ Precision() string }); ok {
		info.Precision = p.Precision()
	}
	if len(cfg.Architectures) > 0 {
		info.Architecture = cfg.Architectures[0]
	}
	eng := engine{mdl: bm, info: info}
	if spec := decoderPrompt(cfg); spec != nil {
		err = eng.framePrompt(tok, spec, opts.Instruction, cfg)
	} else {
		err = eng.framePairs(tok, cfg)
	}
	if err != nil {
		bm.close()
		return engine{}, err
	}
	return eng, nil
}

// framePairs frames a cross-encoder's pairs as its tokenizer encodes them
// and scores them with the activation config.json names.
func (e *engine) framePairs(tok *tokenizer.Tokenizer, cfg *weights.Config) error {
	enc, err := newTokEncoder(tok)
	if err != nil {
		return err
	}
	if e.act, err = configActivation(cfg); err != nil {
		return err
	}
	e.enc = enc
	return nil
}

// framePrompt frames a decoder re-ranker's pairs in its prompt; the score
// is the sigmoid of its one logit (yes - no), the card's softmax over the
// two answers.
func (e *engine) framePrompt(tok *tokenizer.Tokenizer, spec *promptSpec, instruction string, cfg *weights.Config) error {
	enc, err := newPromptEncoder(tok, spec, instruction)
	if err != nil {
		return err
	}
	if cfg.VocabSize < tok.VocabSize() {
		return fmt.Errorf("rerank: the tokenizer has %d tokens, the model's vocab_size is %d", tok.VocabSize(), cfg.VocabSize)
	}
	e.enc, e.act, e.defaultMaxLength = enc, Sigmoid, spec.maxLength
	return nil
}

// Backend names for Options.BackendName, NewBackend and the command's
// --backend flag.
const (
	BackendAuto      = "auto"      // CUDA in a cuda build with a GPU present, else CPU (also "")
	BackendCPU       = "cpu"       // package cpu: the fast CPU backend
	BackendReference = "reference" // package reference: plain loops, the oracle; slow
	BackendCUDA      = "cuda"      // package cuda: the GPU, or an error
)

// NewBackend makes the backend named name (BackendAuto when "") in
// precision prec (Options.Precision); log, when not nil, hears which one
// auto chose and why. The caller closes it. The reference backend runs
// fp32 only: it exists to check a surprising score against the plain
// definition of the forward pass, at about 4% of the CPU's peak (gonum's
// sgemm), not to be fast.
func NewBackend(name, prec string, log *slog.Logger) (ml.Backend, error) {
	if log == nil {
		log = slog.Default()
	}
	switch strings.ToLower(name) {
	case "", BackendAuto:
		return autoBackend(log, prec)
	case BackendCPU:
		return cpu.New(cpu.Options{Precision: prec, Logger: log})
	case BackendReference:
		if p := strings.ToLower(prec); p != "" && p != "fp32" {
			return nil, fmt.Errorf("the reference backend runs fp32 only, not %s", prec)
		}
		return reference.New(), nil
	case BackendCUDA:
		cp, err := cuda.ParsePrecision(prec)
		if err != nil {
			return nil, err
		}
		return cuda.New(cuda.Options{Precision: cp})
	}
	return nil, fmt.Errorf("backend %q: want auto, cpu, reference or cuda", name)
}

// newBackend is NewBackend; tests replace it with a backend that lacks
// operations.
var newBackend = NewBackend

func isAuto(name string) bool { return name == "" || strings.EqualFold(name, BackendAuto) }

// autoBackend is CUDA when this binary was built with it and a GPU is
// present, else the CPU; prec is Options.Precision.
func autoBackend(log *slog.Logger, prec string) (ml.Backend, error) {
	if cudaBuilt && !strings.EqualFold(prec, "int8") {
		cp, err := cuda.ParsePrecision(prec)
		if err != nil {
			return nil, err
		}
		b, err := cuda.New(cuda.Options{Precision: cp})
		if err == nil {
			log.Info("cuda: using the GPU backend", "backend", b.Name())
			return b, nil
		}
		log.Warn("cuda: falling back to the CPU backend", "reason", err.Error())
		if cp == cuda.FP16 {
			// fp16 has no CPU kernel; fp32 is exact where fp16 would round.
			prec = "fp32"
		}
	}
	return cpu.New(cpu.Options{Precision: prec, Logger: log})
}

// defaultResolve resolves Hub references through the Hugging Face cache.
func defaultResolve(ctx context.Context, ref string) (string, error) {
	return weights.Resolve(ctx, ref, weights.ResolveOptions{})
}

// configActivation is the activation sentence-transformers reads from
// config.json (CrossEncoder.get_default_activation_fn); Default when the
// config names none.
func configActivation(cfg *weights.Config) (Activation, error) {
	path := cfg.SbertCEDefaultActivationFunction
	if st := cfg.SentenceTransformers; st != nil && st.ActivationFn != "" {
		path = st.ActivationFn
	}
	switch path {
	case "":
		return Default, nil
	case "torch.nn.modules.activation.Sigmoid", "torch.nn.Sigmoid":
		return Sigmoid, nil
	case "torch.nn.modules.linear.Identity", "torch.nn.Identity":
		return None, nil
	case "torch.nn.modules.activation.Softmax", "torch.nn.Softmax":
		return Softmax, nil
	}
	return Default, fmt.Errorf("config.json names the activation %q, which crossrank does not implement; set Options.Activation", path)
}

// mlModel is a registered architecture's model (ml.Model) as the
// batcher's model.
type mlModel struct {
	m       ml.Model
	backend ml.Backend // closed with the model when the Reranker made it
}

func (b *mlModel) forward(ctx context.Context, batch []seq) ([][]float32, error) {
	seqs := make([]ml.Sequence, len(batch))
	for i, s := range batch {
		seqs[i] = ml.Sequence{IDs: s.ids, TypeIDs: s.typeIDs}
	}
	return b.m.Forward(ctx, seqs)
}

func (b *mlModel) maxTokens() int { return b.m.MaxTokens() }
func (b *mlModel) numLabels() int { return b.m.Config().NumLabels }

func (b *mlModel) close() error {
	err := b.m.Close()
	if b.backend != nil {
		err = errors.Join(err, b.backend.Close())
	}
	return err
}

// tokEncoder is package tokenizer's Tokenizer as a textEncoder. The
// tokenizer frames texts with its post-processor; re-ranking also needs the
// ids without the frame (for windows and query reuse) and the frame around
// ids it cut itself. The frame is learnt at load from encodings of probe
// texts and checked against EncodePair, so a post-processor it cannot
// reproduce is an error at load, not wrong scores later.
type tokEncoder struct {
	tok *tokenizer.Tokenizer
	// Single text: pre1 + text + len(single)-pre1 special tokens.
	pre1, post1 int
	// Pair: pre + a + mid + b + post, with these type ids; a and b take
	// typeA and typeB.
	pre, mid, post    []int32
	preT, midT, postT []int32
	typeA, typeB      int32
}

func newTokEncoder(tok *tokenizer.Tokenizer) (*tokEncoder, error) {
	e := &tokEncoder{tok: tok}
	fail := func(why string) error {
		return fmt.Errorf("tokenizer: unsupported post-processor: %s", why)
	}
	empty, err := tok.Encode("")
	if err != nil {
		return nil, err
	}
	probeA, probeB := "hello world", "the 2nd text"
	single, err := tok.Encode(probeA)
	if err != nil {
		return nil, err
	}
	e.pre1 = commonPrefix(empty.IDs, single.IDs)
	e.post1 = len(empty.IDs) - e.pre1
	if e.pre1+e.post1 >= len(single.IDs) {
		return nil, fail("a probe text encodes to no tokens")
	}
	a := single.IDs[e.pre1 : len(single.IDs)-e.post1]
	sb, err := tok.Encode(probeB)
	if err != nil {
		return nil, err
	}
	b := sb.IDs[e.pre1 : len(sb.IDs)-e.post1]

	full := tokenizer.Truncation{Strategy: tokenizer.DoNotTruncate}
	pair, err := tok.EncodePair(probeA, probeB, full)
	if err != nil {
		return nil, err
	}
	ia := index(pair.IDs, a, 0)
	ib := index(pair.IDs, b, ia+len(a))
	if ia < 0 || ib < 0 {
		return nil, fail("the texts of a pair are not where they are alone")
	}
	e.pre, e.preT = pair.IDs[:ia], pair.TypeIDs[:ia]
	e.mid, e.midT = pair.IDs[ia+len(a):ib], pair.TypeIDs[ia+len(a):ib]
	e.post, e.postT = pair.IDs[ib+len(b):], pair.TypeIDs[ib+len(b):]
	e.typeA, e.typeB = pair.TypeIDs[ia], pair.TypeIDs[ib]
	if len(e.pre)+len(e.mid)+len(e.post) != tok.NumSpecialTokens(true) {
		return nil, fail("the special tokens found do not add up")
	}
	// Check the frame on texts unlike the probes (empty sides, specials in
	// the text) against the tokenizer's own pair encoding.
	for _, c := range [][2]string{{"", ""}, {"q", ""}, {"", "d"}, {"Ünïcode query?", "a longer document, with punctuation; and numbers 12345."}} {
		want, err := tok.EncodePair(c[0], c[1], full)
		if err != nil {
			return nil, err
		}
		qa, err := e.tokenize(c[0])
		if err != nil {
			return nil, err
		}
		db, err := e.tokenize(c[1])
		if err != nil {
			return nil, err
		}
		got := e.pair(qa, db)
		if !slices.Equal(got.ids, want.IDs) || !slices.Equal(got.typeIDs, want.TypeIDs) {
			return nil, fail(fmt.Sprintf("pair %q framed as %v, the tokenizer says %v", c, got.ids, want.IDs))
		}
	}
	return e, nil
}

func (e *tokEncoder) tokenize(text string) ([]int32, error) {
	enc, err := e.tok.Encode(text)
	if err != nil {
		return nil, err
	}
	return enc.IDs[e.pre1 : len(enc.IDs)-e.post1], nil
}

func (e *tokEncoder) pair(q, d []int32) seq {
	n := len(e.pre) + len(q) + len(e.mid) + len(d) + len(e.post)
	s := seq{ids: make([]int32, 0, n), typeIDs: make([]int32, 0, n)}
	s.ids = append(append(append(append(append(s.ids, e.pre...), q...), e.mid...), d...), e.post...)
	s.typeIDs = append(s.typeIDs, e.preT...)
	for range q {
		s.typeIDs = append(s.typeIDs, e.typeA)
	}
	s.typeIDs = append(s.typeIDs, e.midT...)
	for range d {
		s.typeIDs = append(s.typeIDs, e.typeB)
	}
	s.typeIDs = append(s.typeIDs, e.postT...)
	return s
}

func (e *tokEncoder) specials() int  { return len(e.pre) + len(e.mid) + len(e.post) }
func (e *tokEncoder) maxLength() int { return e.tok.ModelMaxLength() }

func commonPrefix(a, b []int32) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// index returns where sub starts in s at or after from, or -1.
func index(s, sub []int32, from int) int {
	if from < 0 {
		return -1
	}
	for i := from; i+len(sub) <= len(s); i++ {
		if slices.Equal(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}
