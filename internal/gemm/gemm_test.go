package gemm

import (
	"fmt"
	"math"
	"math/rand"
	"sync"
	"testing"
	"time"
)

// newRand returns a generator with a fresh seed, logged so that a failure
// can be replayed.
func newRand(t testing.TB) *rand.Rand {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	return rand.New(rand.NewSource(seed))
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// check multiplies with ks on pool p and compares with Reference. The bound
// is Higham and Mary's probabilistic one for a float32 dot product of
// length k, summed in any order: |error| <= lambda * sqrt(k) * eps *
// sum|a_i*w_i|, here with the sum bounded by |a|*|w| (Cauchy-Schwarz) so
// that it costs O((m+n)k) rather than another O(mnk) pass.
func check(t *testing.T, ks *kernelSet, p *Pool, r *rand.Rand, m, k, n int, withBias bool) {
	t.Helper()
	a := randSlice(r, m*k)
	w := randSlice(r, n*k)
	var bias []float32
	if withBias {
		bias = randSlice(r, n)
	}
	want := make([]float32, m*n)
	Reference(want, a, m, k, n, w, bias)
	got := make([]float32, m*n)
	for i := range got {
		got[i] = float32(math.NaN()) // a cell the kernel forgets to write fails
	}
	b := packWeight(ks, w, n, k)
	p.MatMul(got, a, m, b, bias, nil)
	norms := func(x []float32, rows int) []float64 {
		s := make([]float64, rows)
		for i := range s {
			for _, v := range x[i*k : (i+1)*k] {
				s[i] += float64(v) * float64(v)
			}
			s[i] = math.Sqrt(s[i])
		}
		return s
	}
	an, wn := norms(a, m), norms(w, n)
	const eps = 1.0 / (1 << 24) // unit roundoff of float32
	const lambda = 4
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			// the bias adds one more rounding of a value the size of
			// the result: covered by the +1 term
			tol := lambda * math.Sqrt(float64(k)+1) * eps * (an[i]*wn[j] + 1)
			g, e := float64(got[i*n+j]), float64(want[i*n+j])
			if !(math.Abs(g-e) <= tol) {
				t.Fatalf("%s m=%d k=%d n=%d bias=%v: C[%d,%d] = %g, want %g (tolerance %g)",
					ks.name, m, k, n, withBias, i, j, g, e, tol)
			}
		}
	}
}

// TestMatMulRandomShapes compares every kernel the machine runs with the
// reference on fresh random shapes, most of them ragged in m, n and k.
func TestMatMulRandomShapes(t *testing.T) {
	r := newRand(t)
	pools := []*Pool{NewPool(1), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	for _, ks := range kernelSets() {
		t.Run(ks.name, func(t *testing.T) {
			for _, s := range [][3]int{{1, 1, 1}, {1, 1, 33}, {2, 3, 1}, {ks.mr, ks.nr, 1}, {ks.mr + 1, ks.nr + 1, 5}} {
				for _, p := range pools {
					check(t, ks, p, r, s[0], s[1], s[2], true)
					check(t, ks, p, r, s[0], s[1], s[2], false)
				}
			}
			for i := 0; i < 40; i++ {
				m := 1 + r.Intn(80)
				k := 1 + r.Intn(700) // crosses kcMax: several k blocks
				n := 1 + r.Intn(100)
				if i%8 == 0 {
					m = 1 + r.Intn(400) // crosses mcMax
				}
				check(t, ks, pools[i%2], r, m, k, n, i%3 != 0)
			}
		})
	}
}

// TestMatMulModelShapes covers the dense layers of the models crossrank
// runs: hidden 384/768/1024, their 4x intermediates, and token counts from a
// single token to a large batch.
func TestMatMulModelShapes(t *testing.T) {
	r := newRand(t)
	sizes := []int{384, 768, 1024, 1536, 3072, 4096}
	ms := []int{1, 7, 64, 333, 4096}
	if testing.Short() {
		ms = ms[:3]
	}
	p := NewPool(2)
	defer p.Close()
	for _, ks := range kernelSets() {
		t.Run(ks.name, func(t *testing.T) {
			for _, m := range ms {
				k := sizes[r.Intn(len(sizes))]
				n := sizes[r.Intn(len(sizes))]
				// The oracle costs m*k*n; past a budget, n shrinks to a
				// random ragged width so that the test stays quick.
				const budget = 1 << 28
				if m*k*n > budget {
					n = 1 + r.Intn(max(budget/(m*k), 1))
				}
				check(t, ks, p, r, m, k, n, m%2 == 1)
			}
		})
	}
}

// TestMatMulEpilogue checks that the epilogue sees every cell of C exactly
// once and after the last k block.
func TestMatMulEpilogue(t *testing.T) {
	r := newRand(t)
	p := NewPool(2)
	defer p.Close()
	for _, ks := range kernelSets() {
		m, k, n := 150, 600, 100
		a, w := randSlice(r, m*k), randSlice(r, n*k)
		want := make([]float32, m*n)
		Reference(want, a, m, k, n, w, nil)
		for i := range want {
			want[i] = 2*want[i] + 1
		}
		got := make([]float32, m*n)
		p.MatMul(got, a, m, packWeight(ks, w, n, k), nil, func(c []float32, ldc, r0, r1, c0, c1 int) {
			for i := r0; i < r1; i++ {
				for j := c0; j < c1; j++ {
					c[i*ldc+j] = 2*c[i*ldc+j] + 1
				}
			}
		})
		for i := range got {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-3*math.Max(1, math.Abs(float64(want[i]))) {
				t.Fatalf("%s: cell %d = %g, want %g", ks.name, i, got[i], want[i])
			}
		}
	}
}

func TestMatMulNoAllocs(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	m, k, n := 64, 384, 1536
	a, w := randSlice(r, m*k), randSlice(r, n*k)
	b, bias := PackWeight(w, n, k), randSlice(r, n)
	c := make([]float32, m*n)
	MatMul(c, a, m, b, bias) // starts the default pool
	if allocs := testing.AllocsPerRun(20, func() { MatMul(c, a, m, b, bias) }); allocs != 0 {
		t.Errorf("MatMul allocates %v times per call, want 0", allocs)
	}
}

func TestPackWeightBadShape(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("PackWeight accepted 5 floats for [2 3]")
		}
	}()
	PackWeight(make([]float32, 5), 2, 3)
}

func TestKernelSetsFirstIsDefault(t *testing.T) {
	if PackWeight([]float32{1}, 1, 1).Kernel() != kernelSets()[0].name {
		t.Fatal("PackWeight does not pack for the fastest kernel")
	}
	t.Logf("kernels on this machine: %v", func() (s []string) {
		for _, ks := range kernelSets() {
			s = append(s, fmt.Sprintf("%s (%dx%d)", ks.name, ks.mr, ks.nr))
		}
		return
	}())
}

// TestMatMulConcurrent calls one pool from several goroutines at once, as
// concurrent requests do.
func TestMatMulConcurrent(t *testing.T) {
	r := newRand(t)
	m, k, n := 100, 300, 200
	w := randSlice(r, n*k)
	b := PackWeight(w, n, k)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		a := randSlice(r, m*k)
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := make([]float32, m*n)
			Reference(want, a, m, k, n, w, nil)
			got := make([]float32, m*n)
			for range 5 {
				MatMul(got, a, m, b, nil)
				for i := range got {
					if d := math.Abs(float64(got[i] - want[i])); d > 1e-3*(1+math.Abs(float64(want[i]))) {
						errs <- fmt.Sprintf("cell %d = %g, want %g", i, got[i], want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestPlanCoversEveryTileOnce checks the task cuts directly: every cell of C
// belongs to exactly one task, for any number of threads.
func TestPlanCoversEveryTileOnce(t *testing.T) {
	r := newRand(t)
	for range 300 {
		m, k, n := 1+r.Intn(3000), 1+r.Intn(5000), 1+r.Intn(3000)
		threads := 1 + r.Intn(9)
		ks := kernelSets()[r.Intn(len(kernelSets()))]
		j := &job{m: m, b: &PackedB{Out: n, In: k, ks: ks}}
		j.plan(threads, make([]float64, threads))
		panels := (n + ks.nr - 1) / ks.nr
		seen := make([]int, m*panels)
		for task := 0; task < j.tasks; task++ {
			r0, p0 := (task/j.groups)*j.rowStep, (task%j.groups)*j.panStep
			for i := r0; i < min(r0+j.rowStep, m); i++ {
				for p := p0; p < min(p0+j.panStep, panels); p++ {
					seen[i*panels+p]++
				}
			}
		}
		for cell, s := range seen {
			if s != 1 {
				t.Fatalf("%s m=%d k=%d n=%d threads=%d (rows %d, panels %d, groups %d, tasks %d): row %d panel %d in %d tasks",
					ks.name, m, k, n, threads, j.rowStep, j.panStep, j.groups, j.tasks, cell/panels, cell%panels, s)
			}
		}
	}
}
