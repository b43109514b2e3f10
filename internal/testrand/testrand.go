// Package testrand holds the random inputs the model and backend tests
// share (packages bert, cpu, reference): a generator seeded afresh each run
// with the seed logged, ragged sequence lengths for packed batches, and
// normal floats. It is imported by tests only.
package testrand

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// Fresh returns a generator with a new seed, logged so that a failure can
// be replayed: CROSSRANK_TEST_SEED=<the logged seed> go test -run ...
func Fresh(t testing.TB) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CROSSRANK_TEST_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CROSSRANK_TEST_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Lengths returns n sequence lengths in [1, longest] for a ragged packed
// batch: 1-token sequences, short ones and long ones, one of them exactly
// longest.
func Lengths(rng *rand.Rand, n, longest int) []int {
	lens := make([]int, n)
	for i := range lens {
		switch rng.IntN(4) {
		case 0:
			lens[i] = 1
		case 1:
			lens[i] = 1 + rng.IntN(longest)
		default:
			lens[i] = 1 + rng.IntN(min(40, longest))
		}
	}
	lens[rng.IntN(n)] = longest
	return lens
}

// Floats returns n standard normal float32s.
func Floats(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}
