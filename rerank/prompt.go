package rerank

import (
	"errors"
	"fmt"

	"github.com/crossrank/crossrank/tokenizer"
)

// Decoder re-rankers (Qwen3-Reranker) read a pair as a chat prompt and
// answer "yes" or "no". The prompt is the model card's
// (https://huggingface.co/Qwen/Qwen3-Reranker-0.6B):
//
//	prefix   <|im_start|>system\nJudge whether ... "yes" or "no".<|im_end|>\n<|im_start|>user\n
//	query    <Instruct>: {instruction}\n<Query>: {query}\n<Document>:
//	document  {document}        (with its leading space)
//	suffix   <|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n
//
// The card tokenizes the middle three as one text; they are tokenized here
// in two pieces, cut where Qwen2's pre-tokenizer always cuts (after the
// ":" of "<Document>:", before the space that starts the document), so the
// ids are the card's and a query's ids serve all its documents. The
// prefix and suffix are never truncated; the card cuts the formatted text
// from its end, so the document is what loses tokens (OnlyDocument).

// DefaultInstruction is the Qwen3-Reranker model card's instruction.
const DefaultInstruction = "Given a web search query, retrieve relevant passages that answer the query"

const (
	qwen3Prefix = "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. " +
		"Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n"
	qwen3Suffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
	// qwen3CardMaxLength is the card's max_length: the default pair limit
	// (the checkpoints allow 40,960 positions).
	qwen3CardMaxLength = 8192
)

// qwen3QueryText is the query's piece of the prompt.
func qwen3QueryText(instruction, query string) string {
	return "<Instruct>: " + instruction + "\n<Query>: " + query + "\n<Document>:"
}

// promptEncoder is a textEncoder for a decoder re-ranker's prompt.
type promptEncoder struct {
	tok            *tokenizer.Tokenizer
	prefix, suffix []int32
	instruction    string // the Reranker's default
	yes, no        int32
}

func newPromptEncoder(tok *tokenizer.Tokenizer, instruction string) (*promptEncoder, error) {
	e := &promptEncoder{tok: tok, instruction: instruction}
	if e.instruction == "" {
		e.instruction = DefaultInstruction
	}
	// The prompt's ids come from the tokenizer's content alone: a
	// post-processor adding tokens around a text would be added twice.
	if ids, err := tok.Encode(""); err != nil || len(ids.IDs) != 0 {
		return nil, fmt.Errorf("tokenizer: a decoder re-ranker's tokenizer must add no special tokens (it adds %v, %v)", ids, err)
	}
	var err error
	if e.prefix, err = tok.Tokenize(qwen3Prefix); err != nil {
		return nil, err
	}
	if e.suffix, err = tok.Tokenize(qwen3Suffix); err != nil {
		return nil, err
	}
	if e.yes, err = singleToken(tok, "yes"); err != nil {
		return nil, err
	}
	if e.no, err = singleToken(tok, "no"); err != nil {
		return nil, err
	}
	for _, s := range []string{"<|im_start|>", "<|im_end|>"} {
		if _, err := singleToken(tok, s); err != nil {
			return nil, fmt.Errorf("%w: the prompt needs the chat tokens", err)
		}
	}
	return e, nil
}

// singleToken is the id of a text the tokenizer must encode as one token.
func singleToken(tok *tokenizer.Tokenizer, s string) (int32, error) {
	ids, err := tok.Tokenize(s)
	if err != nil {
		return 0, err
	}
	if len(ids) != 1 {
		return 0, fmt.Errorf("tokenizer: %q is %d tokens %v, not one: this is not a Qwen3-Reranker tokenizer", s, len(ids), ids)
	}
	return ids[0], nil
}

// tokenize is the document's piece: its text after the template's space.
func (e *promptEncoder) tokenize(text string) ([]int32, error) { return e.tok.Tokenize(" " + text) }

// tokenizeQuery is the query's piece, with the instruction ("" for the
// Reranker's).
func (e *promptEncoder) tokenizeQuery(query, instruction string) ([]int32, error) {
	if instruction == "" {
		instruction = e.instruction
	}
	return e.tok.Tokenize(qwen3QueryText(instruction, query))
}

func (e *promptEncoder) pair(q, d []int32) seq {
	ids := make([]int32, 0, len(e.prefix)+len(q)+len(d)+len(e.suffix))
	ids = append(append(append(append(ids, e.prefix...), q...), d...), e.suffix...)
	return seq{ids: ids}
}

func (e *promptEncoder) specials() int  { return len(e.prefix) + len(e.suffix) }
func (e *promptEncoder) maxLength() int { return e.tok.ModelMaxLength() }

// instructed is a textEncoder whose query side is a prompt with an
// instruction (promptEncoder).
type instructed interface {
	tokenizeQuery(query, instruction string) ([]int32, error)
}

// ErrNoInstruction is what an instruction given to a model without one gets.
var ErrNoInstruction = errors.New("rerank: this model takes no instruction (only decoder re-rankers such as Qwen3-Reranker do)")

// queryIDs tokenizes a call's query: with the instruction for a prompt
// model, alone otherwise.
func (r *Reranker) queryIDs(query, instruction string) ([]int32, error) {
	if p, ok := r.enc.(instructed); ok {
		return p.tokenizeQuery(query, instruction)
	}
	if instruction != "" {
		return nil, ErrNoInstruction
	}
	return r.enc.tokenize(query)
}
