//go:build !cuda

package cuda

import (
	"fmt"

	"github.com/crossrank/crossrank/ml"
)

var errNotBuilt = fmt.Errorf("%w: this binary was built without the cuda build tag (go build -tags cuda)", ErrNoDevice)

// New returns ErrNoDevice in a build without the cuda tag.
func New(opts Options) (ml.Backend, error) { return nil, errNotBuilt }

// Available returns ErrNoDevice in a build without the cuda tag.
func Available() (name string, err error) { return "", errNotBuilt }
