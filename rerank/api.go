package rerank

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/crossrank/crossrank/ml"
)

// Options configure a Reranker when it is created. The zero value is ready
// to use: the model's own maximum length, longest_first truncation, the
// model's default activation, batches of 32 pairs, the backend chosen
// automatically.
type Options struct {
	// MaxLength is the most tokens of one (query, document) pair, special
	// tokens included. 0 means the model's limit (the tokenizer's
	// model_max_length, capped by the position embeddings: 512 for
	// bge-reranker-base, 8192 for bge-reranker-v2-m3).
	MaxLength int
	// Truncation is how a pair longer than MaxLength is cut. The zero value
	// is LongestFirst, as sentence-transformers does.
	Truncation Truncation
	// QueryBudget, if > 0, is the most tokens the query may take; the rest of
	// MaxLength goes to the document (the seed's query_budget, but counted
	// in the model's own tokens).
	QueryBudget int
	// Activation turns logits into Result.Score. The zero value, Default, is
	// what sentence-transformers' CrossEncoder.predict applies by default for
	// this model (the activation named in config.json, else sigmoid for one
	// label and none for more).
	Activation Activation
	// ScoreLabel is the label whose logit ranks documents. nil means the
	// only label, or label 1 of two (the "relevant" class of a binary
	// classifier); a model with more labels must name one.
	ScoreLabel *int
	// BatchSize is the most pairs in one forward pass (default 32).
	BatchSize int
	// MaxBatchTokens is the most tokens (all pairs together) in one forward
	// pass; 0 means BatchSize * MaxLength. Batches are packed, so short pairs
	// cost only their own tokens.
	MaxBatchTokens int
	// LongDocs, if not nil, scores a document that does not fit in
	// MaxLength window by window instead of truncating it; the document
	// gets its best window's score. nil means truncate.
	LongDocs *Windows
	// Backend runs the forward pass: a backend of the caller's (which the
	// Reranker leaves open), e.g. cpu.New(...) or reference.New(). nil
	// means the one BackendName names.
	Backend ml.Backend
	// BackendName chooses the backend when Backend is nil: "" or "auto"
	// (CUDA when the binary was built with the cuda tag and a GPU is
	// present, else CPU), "cpu", "cuda", or "reference": the plain-loop
	// oracle on gorgonia.org/tensor, fp32 only and slow (gonum's sgemm,
	// about 4% of the CPU's peak), there to check a surprising score
	// against the plain definition of the forward pass. See NewBackend.
	BackendName string
	// Precision is the arithmetic of the model's matrix products when
	// Backend is nil: "" or "fp32" (the default), "bf16" or "int8". On the
	// CPU, bf16 and int8 run the Linear layers on AVX512_BF16 / VNNI
	// kernels with everything else in fp32 (cpu.Options), and fall back
	// to fp32, with a warning, on a CPU without them. In a cuda build,
	// "bf16" (and "fp16") is the GPU's storage type, and "int8", which has
	// no GPU path, runs on the CPU. Info.Precision says what runs.
	Precision string
	// MaxDocuments, if > 0, is the most documents one call may carry; a
	// call with more fails with ErrTooManyDocuments.
	MaxDocuments int
	// BatchWait is how long a forward pass may wait for pairs from other
	// concurrent calls to fill its batch (dynamic batching). 0 means no
	// wait: a batch leaves as soon as the engine is free, with whatever is
	// queued then (which under load is already a full batch).
	BatchWait time.Duration
	// Workers is how many forward passes run at once (default 1: one pass
	// already uses every CPU core, or the whole GPU).
	Workers int
	// OnBatch, if not nil, is called after every forward pass (for metrics).
	// It must not block.
	OnBatch func(BatchStats)
	// Logger receives load and retry messages; nil means slog.Default().
	Logger *slog.Logger
	// Instruction is the task a decoder re-ranker (Qwen3-Reranker) is told
	// in its prompt ("<Instruct>: ..."); "" means the model card's,
	// DefaultInstruction. Other models take none: setting it is an error.
	Instruction string
	// Resolve turns a model reference that is not a local folder into one;
	// nil means weights.Resolve with its defaults (the Hugging Face cache,
	// downloading what is missing).
	Resolve ResolveFunc
}

// ResolveFunc turns a model reference (org/name[@revision]) into a local
// folder, e.g. a closure over weights.Resolve with chosen options.
type ResolveFunc func(ctx context.Context, ref string) (dir string, err error)

// Truncation says how a pair longer than the maximum length is cut, in the
// model's tokens.
type Truncation int

const (
	// LongestFirst removes tokens one at a time from whichever of query and
	// document is longer (Hugging Face's longest_first; sentence-transformers'
	// behaviour).
	LongestFirst Truncation = iota
	// OnlyDocument cuts only the document (Hugging Face's only_second).
	OnlyDocument
	// OnlyQuery cuts only the query (Hugging Face's only_first).
	OnlyQuery
	// NoTruncation refuses a pair that does not fit: the call fails with
	// ErrTooLong naming the document.
	NoTruncation
)

// Activation turns a model's logits into a score.
type Activation int

const (
	// Default is CrossEncoder.predict's default for the model.
	Default Activation = iota
	// None returns the raw logit (bge-reranker's "-10 to +10" scale).
	None
	// Sigmoid maps the logit to (0, 1).
	Sigmoid
	// Softmax normalises over the labels and takes ScoreLabel's probability.
	Softmax
)

// Windows configure long-document scoring: a document whose tokens do not
// fit beside the query is split into overlapping windows of its tokens, each
// window is scored with the query, and the document takes the best window's
// score. The windows are those of Hugging Face tokenizers'
// return_overflowing_tokens with truncation="only_second".
type Windows struct {
	// Size is the most document tokens in a window; 0 means as many as fit
	// beside the query in MaxLength.
	Size int
	// Stride is how many tokens consecutive windows share (Hugging Face's
	// stride); 0 means a quarter of the window, a negative value none. It
	// must be less than the window.
	Stride int
	// MaxWindows, if > 0, bounds the windows per document; the tail after the
	// last window is reported as truncated. 0 means no bound.
	MaxWindows int
}

// Document is one candidate for re-ranking. Metadata is carried to the
// result untouched (the same map, not a copy).
type Document struct {
	ID       string
	Text     string
	Metadata map[string]any
}

// Result is one re-ranked document.
type Result struct {
	Document Document
	// Index is the document's position in the input.
	Index int
	// Logits are the model's raw outputs for the scored pair (for a long
	// document, its best window), one per label.
	Logits []float32
	// Logit is the logit of the label that ranks documents (the raw score).
	Logit float32
	// Score is the activated score that the results are sorted by.
	Score float64
	// Tokens is how many tokens the scored pair had, special tokens included
	// (for windows: the sum over all windows).
	Tokens int
	// Truncated is how many of the document's tokens were cut to fit (0 if
	// none). With long-document windows it counts only the tail beyond
	// MaxWindows.
	Truncated int
	// QueryTruncated is how many of the query's tokens were cut.
	QueryTruncated int
	// Window is the index of the best window (0-based), or -1 when the
	// document was scored in one piece.
	Window int
	// Windows is how many windows the document was split into (0 when it
	// was scored in one piece).
	Windows int
}

// Scale names the scale a score threshold applies to.
type Scale int

const (
	// ScaleScore compares against Result.Score (after the activation).
	ScaleScore Scale = iota
	// ScaleLogit compares against the raw logit, as the seed's comment on
	// bge-reranker assumes ("typically -10 to +10, 0.0 is a reasonable
	// starting threshold").
	ScaleLogit
)

// RerankOptions apply to one call.
type RerankOptions struct {
	// TopK, if > 0, keeps only the best TopK results.
	TopK int
	// MinScore, if not nil, drops results below it, on the scale MinScoreScale
	// names. It applies before TopK. Write new(0.5) for a literal.
	MinScore *float64
	// MinScoreScale is the scale of MinScore (default ScaleScore).
	MinScoreScale Scale
	// MaxLength, if > 0, lowers the pair limit for this call (it never
	// raises it above the Reranker's).
	MaxLength int
	// MaxDocTokens, if > 0, cuts each document to at most this many tokens
	// before pairing (Cohere's max_tokens_per_doc).
	MaxDocTokens int
	// Truncation, if set, overrides the Reranker's strategy for this call
	// (TEI's truncate=false is NoTruncation).
	Truncation *Truncation
	// Instruction, if not "", replaces Options.Instruction for this call
	// (decoder re-rankers only).
	Instruction string
	// TruncateLeft cuts tokens from the beginning of the query and the
	// document instead of their end (Hugging Face's truncation_side="left",
	// TEI's truncation_direction="Left"). Windows of long documents and
	// MaxDocTokens are not affected.
	TruncateLeft bool
}

// Pair is one (query, document) input to Score.
type Pair struct {
	Query    string
	Document string
}

// Scored is the score of one Pair.
type Scored struct {
	Logits         []float32
	Logit          float32
	Score          float64
	Tokens         int
	Truncated      int
	QueryTruncated int
	Window         int // as in Result
	Windows        int
}

// Info describes a loaded Reranker.
type Info struct {
	Model        string // the reference it was created with
	Dir          string // the local folder the weights came from
	Device       string // the backend's name, e.g. "cpu" or "cuda:0 (NVIDIA H100)"
	Precision    string // what the products run in: "fp32", "bf16" or "int8" on the CPU; for a backend that does not say (CUDA, a caller's own), the dtype config.json gives the checkpoint ("float32", "float16", "bfloat16"), "" if none
	MaxLength    int    // the pair limit in tokens
	NumLabels    int
	Labels       []string // id2label, in label order
	Architecture string   // e.g. "BertForSequenceClassification"
	Activation   Activation
}

// BatchStats describe one forward pass, for Options.OnBatch.
type BatchStats struct {
	Pairs    int           // sequences in the pass
	Tokens   int           // packed tokens in the pass
	Callers  int           // distinct calls whose pairs were in the pass
	Wait     time.Duration // longest time a pair waited in the queue
	Duration time.Duration // the forward pass itself
	Retried  bool          // the pass was split after running out of device memory
}

// Errors a caller can test for with errors.Is.
var (
	ErrEmptyQuery       = errors.New("rerank: empty query")
	ErrTooManyDocuments = errors.New("rerank: too many documents")
	ErrTooLong          = errors.New("rerank: pair longer than the maximum length")
	ErrInvalidUTF8      = errors.New("rerank: invalid UTF-8")
	ErrClosed           = errors.New("rerank: reranker is closed")
	// ErrNotReranker is an embedding model (an encoder without a
	// classification head) given to the re-ranker.
	ErrNotReranker = errors.New("rerank: not a re-ranking model")
)

// DocumentError says which input document a failure is about.
type DocumentError struct {
	Index int
	Err   error
}

func (e *DocumentError) Error() string {
	return fmt.Sprintf("rerank: document %d: %s", e.Index, strings.TrimPrefix(e.Err.Error(), "rerank: "))
}

func (e *DocumentError) Unwrap() error { return e.Err }

// Retriever is a first-stage retriever: the pipeline asks it for the k best
// candidates for a query within a tenant ("" when there are none).
type Retriever interface {
	Retrieve(ctx context.Context, query, tenant string, k int) ([]Document, error)
}

// PipelineConfig configures retrieve-then-rerank (the seed's PipelineConfig).
// The zero value is the seed's default.
type PipelineConfig struct {
	// RetrievalK is how many candidates to retrieve (default 20).
	RetrievalK int
	// SkipRerank returns the retrieved candidates as they are (the seed's
	// rerank=False).
	SkipRerank bool
	// RerankK is how many re-ranked results to return (default 5).
	// Re-ranking is skipped when there are no more candidates than RerankK.
	RerankK int
	// Rerank are the options of the re-ranking call (MinScore, truncation);
	// its TopK is RerankK.
	Rerank RerankOptions
}

var errNotImplemented = errors.New("rerank: not implemented yet")
