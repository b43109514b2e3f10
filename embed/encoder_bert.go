package embed

import (
	"context"
	"errors"
)

// openEncoder loads the transformer encoder of dir without its head.
func openEncoder(ctx context.Context, dir string, opts Options) (encoder, Info, error) {
	return nil, Info{}, errors.New("embed: the encoder path lands with the ml/ layout")
}
