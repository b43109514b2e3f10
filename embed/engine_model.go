package embed

import (
	"context"

	"github.com/crossrank/crossrank/tokenizer"
	"github.com/crossrank/crossrank/weights"
)

// loadEngine loads the tokenizer, the sentence-transformers module stack and
// the encoder in dir.
func loadEngine(ctx context.Context, dir string, opts Options) (engine, error) {
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return engine{}, err
	}
	enc, err := newTokEncoder(tok)
	if err != nil {
		return engine{}, err
	}
	mdl, info, err := openEncoder(ctx, dir, opts)
	if err != nil {
		return engine{}, err
	}
	st, err := weights.LoadSentenceTransformer(dir, mdl.hiddenSize())
	if err != nil {
		mdl.close()
		return engine{}, err
	}
	return engine{st: st, enc: enc, mdl: mdl, info: info}, nil
}
