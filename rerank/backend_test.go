package rerank

import (
	"context"
	"math"
	"strings"
	"testing"
)

// TestBackendName: Options.BackendName chooses the backend, the reference
// one included, and both CPU backends give the fixture the same scores
// (the reference is the plain definition; the fast one agrees to 1e-4).
func TestBackendName(t *testing.T) {
	ctx := context.Background()
	docs := []string{"a cat is an animal", "the stock market fell", "cats purr"}
	scores := map[string][]float64{}
	for _, name := range []string{BackendCPU, BackendReference} {
		r, err := New(ctx, fixtureDir("bert"), Options{BackendName: name})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Info().Device; got != name {
			t.Errorf("BackendName %q: Info.Device %q", name, got)
		}
		pairs := make([]Pair, len(docs))
		for i, d := range docs {
			pairs[i] = Pair{Query: "what is a cat", Document: d}
		}
		res, err := r.Score(ctx, pairs)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range res {
			scores[name] = append(scores[name], x.Score)
		}
	}
	for i := range docs {
		if d := math.Abs(scores[BackendCPU][i] - scores[BackendReference][i]); d > 1e-4 {
			t.Errorf("document %d: cpu %v, reference %v", i, scores[BackendCPU][i], scores[BackendReference][i])
		}
	}
	for _, tc := range []struct{ name, prec, want string }{
		{"reference", "int8", "fp32 only"},
		{"gpu", "", `backend "gpu"`},
	} {
		if _, err := NewBackend(tc.name, tc.prec, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewBackend(%q, %q): %v, want an error containing %q", tc.name, tc.prec, err, tc.want)
		}
	}
}
