package embed

import (
	"fmt"

	"github.com/crossrank/crossrank/tokenizer"
)

// tokEncoder is package tokenizer's Tokenizer as a textEncoder. The frame
// (how many special tokens a single text gets before and after it) is learnt
// at load from the encoding of the empty text and checked on a probe, so a
// post-processor that does not frame texts that way fails the load instead
// of truncating wrongly.
type tokEncoder struct {
	tok       *tokenizer.Tokenizer
	pre, post int
}

func newTokEncoder(tok *tokenizer.Tokenizer) (*tokEncoder, error) {
	empty, err := tok.Encode("")
	if err != nil {
		return nil, err
	}
	probe, err := tok.Encode("hello world")
	if err != nil {
		return nil, err
	}
	pre := 0
	for pre < len(empty.IDs) && pre < len(probe.IDs) && empty.IDs[pre] == probe.IDs[pre] {
		pre++
	}
	e := &tokEncoder{tok: tok, pre: pre, post: len(empty.IDs) - pre}
	if e.pre+e.post != tok.NumSpecialTokens(false) || len(probe.IDs) <= e.pre+e.post {
		return nil, fmt.Errorf("tokenizer: unsupported post-processor: a single text is framed by %d+%d tokens, the tokenizer says %d special tokens", e.pre, e.post, tok.NumSpecialTokens(false))
	}
	return e, nil
}

func (e *tokEncoder) encode(text string) ([]int32, []int32, error) {
	enc, err := e.tok.Encode(text)
	if err != nil {
		return nil, nil, err
	}
	types := enc.TypeIDs
	if len(types) != len(enc.IDs) {
		types = make([]int32, len(enc.IDs))
	}
	return enc.IDs, types, nil
}

func (e *tokEncoder) frame() (int, int) { return e.pre, e.post }
func (e *tokEncoder) maxLength() int    { return e.tok.ModelMaxLength() }
