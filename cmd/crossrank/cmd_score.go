package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/qwen3"
	"github.com/crossrank/crossrank/rerank"
	"github.com/crossrank/crossrank/tokenizer"
	"github.com/crossrank/crossrank/weights"
)

func init() {
	register(&command{
		name:  "score",
		short: "score query-document pairs read as JSON lines (like CrossEncoder.predict)",
		run:   runScore,
	})
}

const scoreUsage = `usage: crossrank score --model DIR [--max-length N] [--batch-size B] [--backend cpu|reference]

Reads JSON lines {"query": ..., "document": ...} on standard input and writes
one line {"logits": [...], "score": S} per pair, in input order. S is what
sentence-transformers' CrossEncoder.predict returns by default: the sigmoid of
the logit for a one-label model, the activation config.json names otherwise.
A model with several labels gets "scores" (one per label) instead of "score".
Blank lines are skipped. Pairs are truncated longest_first to --max-length.
A Qwen3-Reranker reads each pair in its model card's prompt (the document is
what is cut) and scores sigmoid(yes - no); its one logit is yes - no.

flags:
`

// scoreInput is one line of input. The fields are pointers so that a
// missing field is told apart from an empty string.
type scoreInput struct {
	Query    *string `json:"query"`
	Document *string `json:"document"`
}

type scoreOutput struct {
	Logits []float32 `json:"logits"`
	Score  *float64  `json:"score,omitempty"`
	Scores []float64 `json:"scores,omitempty"`
}

func runScore(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("score", stderr)
	modelDir := fs.String("model", "", "model folder: config.json, safetensors and tokenizer files (required)")
	maxLength := fs.Int("max-length", 0, "most tokens per pair, special tokens included (0: the tokenizer's model_max_length, capped by the model's positions)")
	batchSize := fs.Int("batch-size", 32, "pairs per forward pass")
	precision := fs.String("precision", "fp32", precisionUsage)
	backend := fs.String("backend", rerank.BackendCPU, backendUsage)
	fs.Usage = func() {
		fmt.Fprint(stderr, scoreUsage)
		fs.PrintDefaults()
	}
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "crossrank score: "+format+"\n", a...)
		return 1
	}
	switch {
	case *modelDir == "":
		fs.Usage()
		return 2
	case fs.NArg() > 0:
		return fail("unexpected argument %q", fs.Arg(0))
	case *batchSize < 1:
		return fail("--batch-size %d: want at least 1", *batchSize)
	case *maxLength < 0:
		return fail("--max-length %d: want 0 (the model's) or more", *maxLength)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := newScorer(ctx, *modelDir, *maxLength, *backend, *precision, stderr)
	if err != nil {
		return fail("%v", err)
	}
	defer s.close()
	if err := s.run(ctx, stdin, stdout, *batchSize); err != nil {
		return fail("%v", err)
	}
	return 0
}

// scorer turns pairs into scores with one model and its tokenizer.
type scorer struct {
	model    ml.Model // closes its backend
	tok      *tokenizer.Tokenizer
	trunc    tokenizer.Truncation
	activate func(logits []float32) scoreOutput

	// decoder is set instead of model and tok for a decoder re-ranker
	// (Qwen3-Reranker), whose prompt and yes/no score package rerank builds.
	decoder *rerank.Reranker
}

func (s *scorer) close() error {
	if s.decoder != nil {
		return s.decoder.Close()
	}
	return s.model.Close()
}

func newScorer(ctx context.Context, dir string, maxLength int, backend, precision string, stderr io.Writer) (*scorer, error) {
	if raw, err := os.ReadFile(filepath.Join(dir, weights.ConfigFile)); err == nil && qwen3.Handles(raw) {
		r, err := rerank.New(ctx, dir, rerank.Options{MaxLength: maxLength, BackendName: backend, Precision: precision,
			Logger: slog.New(slog.NewTextHandler(stderr, nil))})
		if err != nil {
			return nil, err
		}
		return &scorer{decoder: r}, nil
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, err
	}
	be, err := rerank.NewBackend(backend, precision, nil)
	if err != nil {
		return nil, err
	}
	m, err := ml.Load(ctx, dir, be)
	if err != nil {
		be.Close()
		return nil, err
	}
	m = closing{m, be}
	act, warning, err := scoreActivation(m.Config())
	if err != nil {
		m.Close()
		return nil, err
	}
	if warning != "" {
		fmt.Fprintln(stderr, "crossrank score:", warning)
	}
	// CrossEncoder truncates to the tokenizer's model_max_length unless
	// told otherwise; a longer sequence than the position table allows
	// cannot be run at all.
	if maxLength == 0 {
		maxLength = m.MaxTokens()
		if ml := tok.ModelMaxLength(); ml > 0 && ml < maxLength {
			maxLength = ml
		}
	} else if maxLength > m.MaxTokens() {
		m.Close()
		return nil, fmt.Errorf("--max-length %d: the model takes at most %d tokens", maxLength, m.MaxTokens())
	}
	return &scorer{
		model:    m,
		tok:      tok,
		trunc:    tokenizer.Truncation{MaxLength: maxLength, Strategy: tokenizer.LongestFirst},
		activate: act,
	}, nil
}

// closing is a model that closes its backend with it.
type closing struct {
	ml.Model
	be ml.Backend
}

func (c closing) Close() error { return errors.Join(c.Model.Close(), c.be.Close()) }

// scoreActivation returns the activation CrossEncoder.predict applies by
// default: the one config.json names (sentence_transformers.activation_fn,
// or the older sbert_ce_default_activation_function), else sigmoid for one
// label and the identity for more. Like sentence-transformers without
// trust_remote_code, it ignores a name outside torch, with a warning.
func scoreActivation(cfg *weights.Config) (act func([]float32) scoreOutput, warning string, err error) {
	name := cfg.SbertCEDefaultActivationFunction
	if cfg.SentenceTransformers != nil && cfg.SentenceTransformers.ActivationFn != "" {
		name = cfg.SentenceTransformers.ActivationFn
	}
	if name != "" && !strings.HasPrefix(name, "torch.") {
		warning = fmt.Sprintf("config.json names activation %q, which is not torch's: using the default, as sentence-transformers does", name)
		name = ""
	}
	var f func(float64) float64
	switch name {
	case "":
		if cfg.NumLabels == 1 {
			f = sigmoid
		} else {
			f = func(x float64) float64 { return x }
		}
	case "torch.nn.modules.activation.Sigmoid", "torch.nn.Sigmoid":
		f = sigmoid
	case "torch.nn.modules.linear.Identity", "torch.nn.Identity":
		f = func(x float64) float64 { return x }
	case "torch.nn.modules.activation.Tanh", "torch.nn.Tanh":
		f = math.Tanh
	default:
		return nil, "", fmt.Errorf("config.json: activation_fn %q is not supported (Sigmoid, Identity, Tanh)", name)
	}
	return func(logits []float32) scoreOutput {
		out := scoreOutput{Logits: logits, Scores: make([]float64, len(logits))}
		for i, l := range logits {
			out.Scores[i] = f(float64(l))
		}
		if len(logits) == 1 {
			out.Score, out.Scores = &out.Scores[0], nil
		}
		return out
	}, warning, nil
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// run scores stdin in batches, writing each batch's lines as soon as it is
// done. A bad line stops the run with an error naming it, after the lines
// before it have been written.
func (s *scorer) run(ctx context.Context, stdin io.Reader, stdout io.Writer, batchSize int) error {
	in := bufio.NewReader(stdin)
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)

	batch := make([]ml.Sequence, 0, batchSize)
	var pairs []rerank.Pair // a decoder re-ranker's batch
	flush := func() error {
		if len(batch) == 0 && len(pairs) == 0 {
			return nil
		}
		var outs []scoreOutput
		if s.decoder != nil {
			scored, err := s.decoder.Score(ctx, pairs)
			if err != nil {
				return err
			}
			for _, sc := range scored {
				outs = append(outs, scoreOutput{Logits: sc.Logits, Score: &sc.Score})
			}
		} else {
			logits, err := s.model.Forward(ctx, batch)
			if err != nil {
				return err
			}
			for _, l := range logits {
				outs = append(outs, s.activate(l))
			}
		}
		for _, o := range outs {
			if err := enc.Encode(o); err != nil {
				return err
			}
		}
		batch, pairs = batch[:0], pairs[:0]
		return out.Flush()
	}

	for lineNo := 1; ; lineNo++ {
		line, readErr := in.ReadBytes('\n')
		if readErr != nil && readErr != io.EOF {
			return errors.Join(flush(), fmt.Errorf("reading line %d: %w", lineNo, readErr))
		}
		if len(bytes.TrimSpace(line)) > 0 {
			if s.decoder != nil {
				q, d, err := parseScoreLine(line)
				if err != nil {
					return errors.Join(flush(), fmt.Errorf("line %d: %w", lineNo, err))
				}
				pairs = append(pairs, rerank.Pair{Query: q, Document: d})
			} else {
				seq, err := s.encode(line)
				if err != nil {
					return errors.Join(flush(), fmt.Errorf("line %d: %w", lineNo, err))
				}
				batch = append(batch, seq)
			}
			if len(batch)+len(pairs) == batchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if readErr == io.EOF {
			return flush()
		}
	}
}

// parseScoreLine parses one input line into its pair.
func parseScoreLine(line []byte) (query, document string, err error) {
	var in scoreInput
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&in); err != nil {
		return "", "", fmt.Errorf("not a JSON object {\"query\": ..., \"document\": ...}: %v", err)
	}
	if dec.More() {
		return "", "", errors.New("more than one JSON value on the line")
	}
	var missing []string
	if in.Query == nil {
		missing = append(missing, `"query"`)
	}
	if in.Document == nil {
		missing = append(missing, `"document"`)
	}
	if len(missing) > 0 {
		return "", "", fmt.Errorf("missing %s (want {\"query\": ..., \"document\": ...})", strings.Join(missing, " and "))
	}
	return *in.Query, *in.Document, nil
}

// encode parses one input line and tokenizes its pair.
func (s *scorer) encode(line []byte) (ml.Sequence, error) {
	q, d, err := parseScoreLine(line)
	if err != nil {
		return ml.Sequence{}, err
	}
	e, err := s.tok.EncodePair(q, d, s.trunc)
	if err != nil {
		return ml.Sequence{}, err
	}
	return ml.Sequence{IDs: e.IDs, TypeIDs: e.TypeIDs}, nil
}
