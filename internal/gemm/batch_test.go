package gemm

import (
	"math"
	"testing"
)

// TestMatMulRowIndependentOfBatch checks that a row of C is the same, bit for
// bit, whatever other rows are multiplied with it: alone (m = 1), and at
// another position in a batch of another size, so that it falls in a full
// micro-tile in one run and in the ragged bottom edge (another kernel) in the
// other. The models pack every sequence of a batch into one matrix, so this
// is what makes a pair's logits independent of its batch. It runs every
// kernel set the machine has, the portable Go ones included (the only ones
// on arm64, where Go fuses x*y+z into one FMA, and with -tags purego).
// The property is exact: no tolerance, no seed it can depend on.
func TestMatMulRowIndependentOfBatch(t *testing.T) {
	r := newRand(t)
	pools := []*Pool{NewPool(1), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	type product struct {
		name string
		mul  func(p *Pool, c, a []float32, m int, w, bias []float32, k, n int)
	}
	var products []product
	for _, ks := range kernelSets() {
		products = append(products, product{"fp32 " + ks.name, func(p *Pool, c, a []float32, m int, w, bias []float32, k, n int) {
			p.MatMul(c, a, m, packWeight(ks, w, n, k), bias, nil)
		}})
	}
	for _, ks := range bf16Sets() {
		products = append(products, product{"bf16 " + ks.name, func(p *Pool, c, a []float32, m int, w, bias []float32, k, n int) {
			p.MatMulBF16(c, a, m, packBF16(ks, n, k, func(o, q int) uint16 { return roundBF16(w[o*k+q]) }), bias, nil)
		}})
	}
	for _, ks := range int8Sets() {
		products = append(products, product{"int8 " + ks.name, func(p *Pool, c, a []float32, m int, w, bias []float32, k, n int) {
			p.MatMulInt8(c, a, m, packInt8(ks, w, n, k), bias, nil)
		}})
	}
	for _, pr := range products {
		t.Run(pr.name, func(t *testing.T) {
			for i := range 12 {
				m := 2 + r.Intn(40)
				k := 1 + r.Intn(900) // several k blocks (initC) for most
				if i == 0 {
					k = 3*kcMax + 1
				}
				n := 1 + r.Intn(70)
				a, w := randSlice(r, m*k), randSlice(r, n*k)
				var bias []float32
				if i%3 != 0 {
					bias = randSlice(r, n)
				}
				p := pools[i%2]
				all := make([]float32, m*n)
				pr.mul(p, all, a, m, w, bias, k, n)
				one := make([]float32, n)
				for row := range m {
					pr.mul(p, one, a[row*k:(row+1)*k], 1, w, bias, k, n)
					same(t, pr.name, "alone", m, k, n, row, one, all[row*n:(row+1)*n])
				}
				// The rows from 1 on, in a batch one shorter: each moves
				// up one place in its tile, and the last tile's rows change.
				rest := make([]float32, (m-1)*n)
				pr.mul(pools[1-i%2], rest, a[k:], m-1, w, bias, k, n)
				for row := 1; row < m; row++ {
					same(t, pr.name, "one row shorter", m, k, n, row, rest[(row-1)*n:row*n], all[row*n:(row+1)*n])
				}
			}
		})
	}
}

func same(t *testing.T, name, how string, m, k, n, row int, got, want []float32) {
	t.Helper()
	for j := range want {
		if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
			t.Fatalf("%s m=%d k=%d n=%d: row %d column %d %s = %g, in the batch %g", name, m, k, n, row, j, how, got[j], want[j])
		}
	}
}
