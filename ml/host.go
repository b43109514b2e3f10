package ml

import "fmt"

// Helpers for backends. Every Run receives the seam's interface values
// (Tensor, Weight) and must check that they are its own before it trusts
// them; the CPU backends also keep vectors the same way.

// Own returns v as P, a backend's own type for a seam value (a pointer
// type), or an error saying what it got: the check a Run makes on every
// Tensor and Weight it is given. A nil P counts as not its own. what names
// the kind expected ("matrix", "activation") in the error.
func Own[P comparable](v any, what string) (P, error) {
	var zero P
	p, ok := v.(P)
	if !ok || p == zero {
		return zero, fmt.Errorf("got a %T %s, want a %T", v, what, zero)
	}
	return p, nil
}

// HostVector is a bias or norm weight kept in host memory: what a CPU
// backend's Vector returns.
type HostVector struct {
	Name string
	Data []float32
}

// NewHostVector copies data (a view of the checkpoint, valid only during
// Backend.Vector) into a HostVector.
func NewHostVector(name string, data []float32) (*HostVector, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("vector %q is empty", name)
	}
	return &HostVector{Name: name, Data: append([]float32(nil), data...)}, nil
}

// HostValues returns w's values when w is a *HostVector of n values, else
// an error saying what is wrong.
func HostValues(w Weight, n int) ([]float32, error) {
	v, err := Own[*HostVector](w, "vector")
	if err != nil {
		return nil, err
	}
	if len(v.Data) != n {
		return nil, fmt.Errorf("vector %q has %d values, want %d", v.Name, len(v.Data), n)
	}
	return v.Data, nil
}
