package embed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/weights"
)

// Options configure an Embedder when it is created. The zero value is ready
// to use: the model's own maximum length (sentence_bert_config.json's
// max_seq_length, else the tokenizer's, capped by the position table),
// batches of 32 texts, the backend chosen automatically.
type Options struct {
	// MaxLength is the most tokens of one text, special tokens and prompt
	// included; 0 means the model's.
	MaxLength int
	// BatchSize is the most texts in one forward pass (default 32).
	BatchSize int
	// MaxBatchTokens is the most tokens in one forward pass; 0 means
	// BatchSize * MaxLength. Batches are packed: short texts cost only
	// their own tokens.
	MaxBatchTokens int
	// MaxInputs, if > 0, is the most texts one call may carry; a call with
	// more fails with ErrTooManyInputs.
	MaxInputs int
	// BatchWait is how long a forward pass may wait for texts of other
	// concurrent calls to fill its batch (0: no wait).
	BatchWait time.Duration
	// Workers is how many forward passes run at once (default 1).
	Workers int
	// Backend runs the encoder: a backend of the caller's (left open), or
	// nil for the one BackendName names ("" or "auto", "cpu", "cuda",
	// "reference"), as rerank.Options.
	Backend     ml.Backend
	BackendName string
	// Precision is the arithmetic of the matrix products when Backend is
	// nil: "" or "fp32", "bf16" or "int8" (as rerank.Options.Precision).
	Precision string
	// OnBatch, if not nil, is called after every forward pass (for metrics).
	OnBatch func(BatchStats)
	// Logger receives load notes and warnings; nil means slog.Default().
	Logger *slog.Logger
	// Resolve turns a model reference that is not a local folder into one;
	// nil means weights.Resolve with its defaults.
	Resolve func(ctx context.Context, ref string) (string, error)
}

// Truncation says what happens to a text longer than the maximum length.
type Truncation int

const (
	// TruncateEnd cuts the end of the text, keeping the special tokens
	// (Hugging Face's truncation, sentence-transformers' behaviour).
	TruncateEnd Truncation = iota
	// TruncateStart cuts the start of the text instead (TEI's
	// truncation_direction "left").
	TruncateStart
	// NoTruncation refuses a text that does not fit: ErrTooLong.
	NoTruncation
)

// EmbedOptions configure one call.
type EmbedOptions struct {
	// PromptName picks one of the model's prompts
	// (config_sentence_transformers.json), e.g. "query" for e5 or bge.
	// "" means the model's default_prompt_name, if it has one.
	PromptName string
	// Prompt, if not nil, is prepended to every text instead of a named
	// prompt (sentence-transformers' prompt=...). An empty string means
	// no prompt, overriding a default one.
	Prompt *string
	// Normalize scales every vector to unit length, whatever the model's
	// module stack does (TEI's normalize, sentence-transformers'
	// normalize_embeddings).
	Normalize bool
	// Dimensions, if > 0, keeps the first Dimensions components
	// (Matryoshka truncation, OpenAI's dimensions); a vector that was unit
	// length before is scaled to unit length again.
	Dimensions int
	// Truncation is how a text longer than the maximum length is cut.
	Truncation Truncation
}

// Embedding is one text's vector.
type Embedding struct {
	Vector    []float32
	Tokens    int  // tokens the model read, special tokens and prompt included
	Truncated bool // the text was cut to the maximum length
}

// Info describes a loaded embedder.
type Info struct {
	Model             string   // the reference it was loaded by
	Dir               string   // the folder it was loaded from
	Architecture      string   // config.json's architectures[0], e.g. "BertModel"
	Device            string   // the backend, e.g. "cpu"
	Precision         string   // "fp32", "bf16", "int8"
	Dim               int      // length of the vectors
	MaxLength         int      // the text limit in tokens
	Pooling           []string // pooling modes, concatenated in this order
	Normalized        bool     // the model's own stack ends in Normalize
	Prompts           map[string]string
	DefaultPromptName string
	Similarity        string // "cosine" unless config_sentence_transformers.json says otherwise
	Notes             []string
}

// BatchStats describe one forward pass, for Options.OnBatch.
type BatchStats struct {
	Texts    int           // sequences in the pass
	Tokens   int           // packed tokens in the pass
	Callers  int           // distinct calls whose texts were in the pass
	Wait     time.Duration // longest time a text waited in the queue
	Duration time.Duration // the forward pass itself
	Retried  bool          // the pass was split after running out of device memory
}

// Errors a caller can test for with errors.Is.
var (
	ErrNoInput       = errors.New("embed: no input texts")
	ErrTooManyInputs = errors.New("embed: too many input texts")
	ErrTooLong       = errors.New("embed: text longer than the maximum length")
	ErrInvalidUTF8   = errors.New("embed: invalid UTF-8")
	ErrUnknownPrompt = errors.New("embed: unknown prompt name")
	ErrDimensions    = errors.New("embed: dimensions out of range")
	ErrClosed        = errors.New("embed: embedder is closed")
	// ErrNotEmbedder is a checkpoint with a classification head (a
	// cross-encoder) given to the embedder.
	ErrNotEmbedder = errors.New("embed: not an embedding model")
)

// InputError says which input text a failure is about.
type InputError struct {
	Index int
	Err   error
}

func (e *InputError) Error() string {
	return fmt.Sprintf("embed: input %d: %s", e.Index, strings.TrimPrefix(e.Err.Error(), "embed: "))
}

func (e *InputError) Unwrap() error { return e.Err }

// IsEmbedder reports whether the model folder dir holds an embedding model
// rather than a cross-encoder: a sentence-transformers layout whose
// modules.json has a Pooling module, or an encoder without a classification
// head (BertModel, XLMRobertaModel). sentence-transformers >= 5 also saves
// cross-encoders with a modules.json (a Transformer module alone, model_type
// CrossEncoder): those are not embedders.
func IsEmbedder(dir string) bool {
	if raw, err := os.ReadFile(filepath.Join(dir, weights.ModulesFile)); err == nil {
		if mods, err := weights.ParseModules(raw); err == nil {
			for _, m := range mods {
				if m.Kind() == "Pooling" {
					return true
				}
			}
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, weights.ConfigFile))
	if err != nil {
		return false
	}
	var cfg struct {
		Architectures []string `json:"architectures"`
	}
	if json.Unmarshal(raw, &cfg) != nil {
		return false
	}
	for _, a := range cfg.Architectures {
		if a == "BertModel" || a == "XLMRobertaModel" {
			return true
		}
	}
	return false
}
