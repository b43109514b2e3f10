package reference

import (
	"testing"

	"github.com/crossrank/crossrank/ml"
)

// TestEveryActivationHasAFunction: ml.CheckActivation decides which
// activations the backends accept; each accepted one needs a function here
// (Activate and GLU call it unchecked).
func TestEveryActivationHasAFunction(t *testing.T) {
	for act := ml.ActNone; ml.CheckActivation(act) == nil; act++ {
		if activationFunc(act) == nil {
			t.Errorf("activation %d is accepted but has no function", act)
		}
	}
}
