package cpu

import (
	"testing"

	"github.com/crossrank/crossrank/internal/testrand"
)

// BenchmarkAttentionHead is one global layer's attention (12 heads of 64:
// gte-reranker-modernbert-base) on one sequence of the long set's mean
// length, one head after another on one goroutine; GFLOP/s counts Q·Kᵀ
// and P·V on the real keys (4·L²·hd a head).
func BenchmarkAttentionHead(b *testing.B) {
	if !hasMM4 {
		b.Skip("no AVX-512 here")
	}
	const heads, hd, n = 12, 64, 1323
	rng := testrand.Fresh(b)
	dim := heads * hd
	q, k, v := testrand.Floats(rng, n*dim), testrand.Floats(rng, n*dim), testrand.Floats(rng, n*dim)
	out := make([]float32, n*dim)
	sc := &attnScratch{}
	for range b.N {
		for h := range heads {
			attentionHead(sc, out, q, k, v, dim, hd, h*hd, 0, n, true)
		}
	}
	b.ReportMetric(float64(b.N)*heads*4*n*n*hd/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
