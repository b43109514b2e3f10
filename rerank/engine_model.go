package rerank

import (
	"context"
	"fmt"
)

// loadEngine loads the tokenizer and the model in dir.
func loadEngine(ctx context.Context, dir string, opts Options) (engine, error) {
	return engine{}, errNotImplemented
}

// defaultResolve resolves Hub references.
func defaultResolve(ctx context.Context, ref string) (string, error) {
	return "", fmt.Errorf("%q is not a local folder", ref)
}
