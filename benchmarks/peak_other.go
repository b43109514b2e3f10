//go:build !amd64 || purego

package benchmarks

// fmaLoop is nil off amd64: no peak is measured and fractions of peak are
// left out rather than guessed.
func fmaLoop() (loop func(int), flopsPerIter float64, isa string) { return nil, 0, "" }
