package rerank

import (
	"errors"
	"fmt"

	"github.com/crossrank/crossrank/tokenizer"
	"github.com/crossrank/crossrank/weights"
)

// Decoder re-rankers read a pair as a chat prompt and answer with one token;
// the score is that token's logit minus its opposite's at the last position.
//
// Qwen3-Reranker (https://huggingface.co/Qwen/Qwen3-Reranker-0.6B) answers
// "yes" or "no" to its model card's prompt:
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
//
// mxbai-rerank-v2 (mixedbread-ai/mxbai-rerank, mxbai_rerank_v2.py) answers
// "1" or "0"; its own code tokenizes every piece apart and joins the ids:
//
//	prefix   <|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n
//	query    query: {query}     (instruction: {instruction}\nquery: {query} with one)
//	         \n
//	document document: {document}
//	suffix   \n, You are a search relevance expert ... \nRelevance:, <|im_end|>\n<|im_start|>assistant\n
//
// Its own truncation keeps at most 3/4 of its max_length for the query and
// 1/4 for the document; here the document takes what the query leaves
// (RerankOptions.MaxDocTokens gives its quarter rule).

// DefaultInstruction is the Qwen3-Reranker model card's instruction.
const DefaultInstruction = "Given a web search query, retrieve relevant passages that answer the query"

// decoderPrompts are the decoder re-rankers' prompts, by the architecture
// their model reports (ml.Model's Config): package qwen3 loads all three,
// and reads the logits of the answer tokens each prompt asks for (qwen3's
// Arch.ScoreTokens: "yes"/"no", "1"/"0").
var decoderPrompts = map[string]*promptSpec{
	"Qwen3ForCausalLM":               &qwen3Prompt,
	"Qwen3ForSequenceClassification": &qwen3Prompt, // its score row is lm_head[yes] - lm_head[no]
	"Qwen2ForCausalLM":               &mxbaiPrompt,
}

// decoderPrompt is the prompt of cfg's architecture, nil for a
// cross-encoder.
func decoderPrompt(cfg *weights.Config) *promptSpec {
	for _, a := range cfg.Architectures {
		if p, ok := decoderPrompts[a]; ok {
			return p
		}
	}
	return nil
}

// promptSpec is one decoder re-ranker's prompt. Each piece of prefix, mid
// and suffix is tokenized on its own and the ids joined, in order.
type promptSpec struct {
	prefix, mid, suffix []string
	query               func(instruction, query string) string // the query's piece
	document            func(doc string) string                // each document's piece
	defaultInstruction  string                                 // "" for none
	// maxLength is the pair limit when Options.MaxLength is 0: the
	// model's documented one, below its positions.
	maxLength int
}

var qwen3Prompt = promptSpec{
	prefix: []string{"<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. " +
		"Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n"},
	suffix:             []string{"<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"},
	query:              qwen3QueryText,
	document:           func(d string) string { return " " + d },
	defaultInstruction: DefaultInstruction,
	maxLength:          8192, // the card's max_length (the checkpoints allow 40,960 positions)
}

// qwen3QueryText is the Qwen3-Reranker query's piece of the prompt.
func qwen3QueryText(instruction, query string) string {
	return "<Instruct>: " + instruction + "\n<Query>: " + query + "\n<Document>:"
}

var mxbaiPrompt = promptSpec{
	prefix: []string{"<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n"},
	mid:    []string{"\n"},
	suffix: []string{"\n",
		"You are a search relevance expert who evaluates how well documents match search queries. For each query-document pair, " +
			"carefully analyze the semantic relationship between them, then provide your binary relevance judgment (0 for not relevant, 1 for relevant).\nRelevance:",
		"<|im_end|>\n<|im_start|>assistant\n"},
	query: func(instruction, query string) string {
		if instruction != "" {
			return "instruction: " + instruction + "\nquery: " + query
		}
		return "query: " + query
	},
	document:  func(d string) string { return "document: " + d },
	maxLength: 8192, // mxbai's max_length (the query and document tokens; the prompt's come on top)
}

// promptEncoder is a textEncoder for a decoder re-ranker's prompt.
type promptEncoder struct {
	tok                 *tokenizer.Tokenizer
	spec                *promptSpec
	prefix, mid, suffix []int32
	instruction         string // the Reranker's default
}

func newPromptEncoder(tok *tokenizer.Tokenizer, spec *promptSpec, instruction string) (*promptEncoder, error) {
	e := &promptEncoder{tok: tok, spec: spec, instruction: instruction}
	if e.instruction == "" {
		e.instruction = spec.defaultInstruction
	}
	// The prompt's ids come from the tokenizer's content alone: a
	// post-processor adding tokens around a text would be added twice.
	if ids, err := tok.Encode(""); err != nil || len(ids.IDs) != 0 {
		return nil, fmt.Errorf("tokenizer: a decoder re-ranker's tokenizer must add no special tokens (it adds %v, %v)", ids, err)
	}
	for _, p := range []struct {
		dst    *[]int32
		pieces []string
	}{{&e.prefix, spec.prefix}, {&e.mid, spec.mid}, {&e.suffix, spec.suffix}} {
		for _, s := range p.pieces {
			ids, err := tok.Tokenize(s)
			if err != nil {
				return nil, err
			}
			*p.dst = append(*p.dst, ids...)
		}
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
		return 0, fmt.Errorf("tokenizer: %q is %d tokens %v, not one: this is not the re-ranker's tokenizer", s, len(ids), ids)
	}
	return ids[0], nil
}

// tokenize is a document's piece.
func (e *promptEncoder) tokenize(text string) ([]int32, error) {
	return e.tok.Tokenize(e.spec.document(text))
}

// tokenizeQuery is the query's piece, with the instruction ("" for the
// Reranker's).
func (e *promptEncoder) tokenizeQuery(query, instruction string) ([]int32, error) {
	if instruction == "" {
		instruction = e.instruction
	}
	return e.tok.Tokenize(e.spec.query(instruction, query))
}

func (e *promptEncoder) pair(q, d []int32) seq {
	ids := make([]int32, 0, e.specials()+len(q)+len(d))
	ids = append(append(append(append(append(ids, e.prefix...), q...), e.mid...), d...), e.suffix...)
	return seq{ids: ids}
}

func (e *promptEncoder) specials() int  { return len(e.prefix) + len(e.mid) + len(e.suffix) }
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
