package cpu

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/crossrank/crossrank/internal/testrand"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/reference"
)

// Tests of the fast CPU backend against the reference backend (package reference) and
// the float64 library functions, on fresh random data each run (the seed
// is logged, so that a failure can be replayed with -seed... by editing
// testrand.Fresh).

func TestErf32(t *testing.T) {
	worst, at := 0.0, 0.0
	check := func(x float64) {
		got := float64(erf32(float32(x)))
		want := math.Erf(float64(float32(x)))
		if d := math.Abs(got - want); d > worst {
			worst, at = d, x
		}
	}
	for x := -7.0; x <= 7; x += 1.0 / 4096 {
		check(x)
	}
	rng := testrand.Fresh(t)
	for range 100000 {
		check(rng.NormFloat64() * 3)
	}
	t.Logf("erf32: max |error| %.3g at %v", worst, at)
	if worst > 5e-7 {
		t.Errorf("erf32: max |error| %.3g at %v, want <= 5e-7", worst, at)
	}
	// GELU with erf32 against the float64 reference gelu.
	worst = 0
	for x := float32(-10); x <= 10; x += 1.0 / 1024 {
		y := []float32{x}
		geluSlice(y)
		worst = max(worst, math.Abs(float64(y[0])-float64(gelu(x)))/max(1, math.Abs(float64(x))))
	}
	if worst > 1e-6 {
		t.Errorf("gelu with erf32: max error %.3g relative to max(1, |x|), want <= 1e-6", worst)
	}
}

func TestExp32(t *testing.T) {
	worst, at := 0.0, 0.0
	for x := -87.0; x <= 0; x += 1.0 / 2048 {
		got := float64(exp32(float32(x)))
		want := math.Exp(float64(float32(x)))
		if d := math.Abs(got-want) / want; d > worst {
			worst, at = d, x
		}
	}
	t.Logf("exp32: max relative error %.3g at %v", worst, at)
	if worst > 2.5e-7 { // 2 ulp
		t.Errorf("exp32: max relative error %.3g at %v", worst, at)
	}
	if exp32(-100) != 0 || exp32(0) != 1 {
		t.Errorf("exp32(-100), exp32(0) = %v, %v", exp32(-100), exp32(0))
	}
}

// TestMM4 compares the micro-kernels (assembly when this CPU runs it, and
// the Go one) with the product written out in float64, on random shapes and
// strides.
func TestMM4(t *testing.T) {
	rng := testrand.Fresh(t)
	for range 200 {
		k := 1 + rng.IntN(300)
		w := 16 * (1 + rng.IntN(12))
		lda, ldb, ldc := k+rng.IntN(5), w+rng.IntN(40), w+rng.IntN(40)
		a, b := testrand.Floats(rng, 3*lda+k), testrand.Floats(rng, (k-1)*ldb+w)
		want := make([]float64, 4*w)
		for i := range 4 {
			for j := range w {
				for p := range k {
					want[i*w+j] += float64(a[i*lda+p]) * float64(b[p*ldb+j])
				}
			}
		}
		// mm4s: the rows times their own factors (one of them 0, as the
		// rows past a sequence), which the kernels apply before the store.
		s := [attnRows]float32{float32(0.5 + rng.Float64()), float32(0.01 + rng.Float64()), 0, float32(1 + 3*rng.Float64())}
		for _, asm := range []bool{false, true} {
			if asm && !hasMM4 {
				continue
			}
			for _, scaled := range []bool{false, true} {
				c := testrand.Floats(rng, 3*ldc+w) // garbage in: the kernel overwrites
				f := [attnRows]float64{1, 1, 1, 1}
				if scaled {
					mm4s(asm, k, a, lda, b, ldb, c, ldc, w, &s)
					for i, x := range s {
						f[i] = float64(x)
					}
				} else {
					mm4(asm, k, a, lda, b, ldb, c, ldc, w)
				}
				for i := range 4 {
					for j := range w {
						if d := math.Abs(float64(c[i*ldc+j]) - f[i]*want[i*w+j]); d > 1e-4*math.Sqrt(float64(k))*f[i] {
							t.Fatalf("asm %v, scaled %v, k %d w %d: c[%d][%d] = %v, want %v", asm, scaled, k, w, i, j, c[i*ldc+j], f[i]*want[i*w+j])
						}
					}
				}
			}
		}
	}
	if !hasMM4 {
		t.Log("no AVX-512 here: only the Go kernel was tested")
	}
}

// opPair runs the same operations on the fast and the reference backend.
type opPair struct {
	t      *testing.T
	fb, rb ml.Backend
	fr, rr ml.Run
}

func newOpPair(t *testing.T, tokens int) *opPair {
	q := &opPair{t: t, fb: Default(), rb: reference.New()}
	var err error
	if q.fr, err = q.fb.NewRun(context.Background(), tokens); err != nil {
		t.Fatal(err)
	}
	if q.rr, err = q.rb.NewRun(context.Background(), tokens); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.fr.Close(); q.rr.Close() })
	return q
}

type w2 struct{ f, r ml.Weight }
type t2 struct{ f, r ml.Tensor }

func (q *opPair) matrix(data []float32, out, in int) w2 {
	f, err := q.fb.Matrix("m", data, out, in)
	if err != nil {
		q.t.Fatal(err)
	}
	r, _ := q.rb.Matrix("m", data, out, in)
	return w2{f, r}
}

func (q *opPair) vector(data []float32) w2 {
	f, err := q.fb.Vector("v", data)
	if err != nil {
		q.t.Fatal(err)
	}
	r, _ := q.rb.Vector("v", data)
	return w2{f, r}
}

// input makes a tensor on both sides through the seam (a Gather of every
// row of a table).
func (q *opPair) input(data []float32, rows, cols int) t2 {
	f, err := q.fb.Table("t", data, rows, cols)
	if err != nil {
		q.t.Fatal(err)
	}
	r, _ := q.rb.Table("t", data, rows, cols)
	ids := make([]int32, rows)
	for i := range ids {
		ids[i] = int32(i)
	}
	return t2{q.fr.Gather(f, ids), q.rr.Gather(r, ids)}
}

// check compares x on both sides: |fast - reference| <= tol·max(1, |reference|).
func (q *opPair) check(what string, x t2, tol float64) {
	q.t.Helper()
	got, want := q.fr.Read(x.f), q.rr.Read(x.r)
	if err := q.fr.Err(); err != nil {
		q.t.Fatalf("%s: fast: %v", what, err)
	}
	if err := q.rr.Err(); err != nil {
		q.t.Fatalf("%s: reference: %v", what, err)
	}
	if len(got) != len(want) {
		q.t.Fatalf("%s: %d values, reference %d", what, len(got), len(want))
	}
	worst, at := 0.0, 0
	for i := range got {
		d := math.Abs(float64(got[i])-float64(want[i])) / max(1, math.Abs(float64(want[i])))
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	if !(worst <= tol) {
		q.t.Fatalf("%s: element %d: fast %v, reference %v (error %.3g > %g)", what, at, got[at], want[at], worst, tol)
	}
}

func TestFastLinearMatchesReference(t *testing.T) {
	rng := testrand.Fresh(t)
	acts := []ml.Activation{ml.ActNone, ml.ActGELU, ml.ActGELUNew, ml.ActReLU, ml.ActTanh}
	for range 12 {
		rows, in, out := 1+rng.IntN(300), 1+rng.IntN(700), 1+rng.IntN(700)
		act := acts[rng.IntN(len(acts))]
		q := newOpPair(t, rows)
		x := q.input(testrand.Floats(rng, rows*in), rows, in)
		w := q.matrix(testrand.Floats(rng, out*in), out, in)
		var b w2
		if rng.IntN(4) > 0 {
			b = q.vector(testrand.Floats(rng, out))
		}
		var y t2
		if b.f == nil {
			y = t2{ml.LinearAct(q.fr, x.f, w.f, nil, act), ml.LinearAct(q.rr, x.r, w.r, nil, act)}
		} else {
			y = t2{ml.LinearAct(q.fr, x.f, w.f, b.f, act), ml.LinearAct(q.rr, x.r, w.r, b.r, act)}
		}
		// The sum of `in` products of N(0,1) values is ~sqrt(in) in size.
		q.check(fmt.Sprintf("linear %dx%dx%d act %d", rows, in, out, act), y, 2e-5*math.Sqrt(float64(in)))
		q.fr.Activate(y.f, ml.ActGELU)
		q.rr.Activate(y.r, ml.ActGELU)
		q.check("activate gelu", y, 2e-5*math.Sqrt(float64(in)))
	}
}

func TestFastLayerNormMatchesReference(t *testing.T) {
	rng := testrand.Fresh(t)
	for _, cols := range []int{1, 7, 384, 768, 1024} {
		rows := 1 + rng.IntN(200)
		q := newOpPair(t, rows)
		x := q.input(testrand.Floats(rng, rows*cols), rows, cols)
		res := q.input(testrand.Floats(rng, rows*cols), rows, cols)
		g, b := q.vector(testrand.Floats(rng, cols)), q.vector(testrand.Floats(rng, cols))
		q.check(fmt.Sprintf("layernorm %d cols", cols),
			t2{q.fr.AddLayerNorm(x.f, nil, g.f, b.f, 1e-12), q.rr.AddLayerNorm(x.r, nil, g.r, b.r, 1e-12)}, 1e-6)
		q.check(fmt.Sprintf("layernorm %d cols + residual", cols),
			t2{q.fr.AddLayerNorm(x.f, res.f, g.f, b.f, 1e-5), q.rr.AddLayerNorm(x.r, res.r, g.r, b.r, 1e-5)}, 1e-6)
	}
}

func offsetsOf(lens []int) ([]int32, int) {
	offsets := []int32{0}
	total := 0
	for _, n := range lens {
		total += n
		offsets = append(offsets, int32(total))
	}
	return offsets, total
}

func TestFastAttentionMatchesReference(t *testing.T) {
	rng := testrand.Fresh(t)
	for _, c := range []struct{ heads, headDim, longest int }{
		{12, 32, 300}, {12, 64, 300}, {2, 128, 300}, {4, 48, 300}, {3, 16, 300}, {1, 96, 300},
		{2, 64, 1500}, // a long document: scratch of many key blocks
	} {
		lens := testrand.Lengths(rng, 1+rng.IntN(9), 1+rng.IntN(c.longest))
		if c.longest > 300 {
			lens[0] = c.longest
		}
		offsets, total := offsetsOf(lens)
		dim := c.heads * c.headDim
		q := newOpPair(t, total)
		// Scores of a realistic size: q and k scaled so that q·k/sqrt(d) is ~N(0, 4).
		qq := q.input(randScaled(rng, total*dim, 2/math.Sqrt(math.Sqrt(float64(c.headDim)))), total, dim)
		kk := q.input(randScaled(rng, total*dim, 1/math.Sqrt(math.Sqrt(float64(c.headDim)))), total, dim)
		vv := q.input(testrand.Floats(rng, total*dim), total, dim)
		q.check(fmt.Sprintf("attention %d heads x %d, lengths %v", c.heads, c.headDim, lens),
			t2{q.fr.Attention(qq.f, kk.f, vv.f, c.heads, offsets), q.rr.Attention(qq.r, kk.r, vv.r, c.heads, offsets)}, 1e-5)
	}
}

func randScaled(rng *rand.Rand, n int, s float64) []float32 {
	out := testrand.Floats(rng, n)
	for i := range out {
		out[i] *= float32(s)
	}
	return out
}

func TestFastGatherRows(t *testing.T) {
	rng := testrand.Fresh(t)
	q := newOpPair(t, 5)
	tab := testrand.Floats(rng, 10*6)
	x := q.input(tab, 10, 6)
	ft, _ := q.fb.Table("t2", tab[:4*6], 4, 6)
	rt, _ := q.rb.Table("t2", tab[:4*6], 4, 6)
	ids := []int32{3, 0, 0, 2, 1, 3, 3, 0, 1, 2}
	q.fr.AddGather(x.f, ft, ids)
	q.rr.AddGather(x.r, rt, ids)
	q.check("add gather", x, 0)
	sel := []int32{9, 0, 4, 4}
	q.check("rows", t2{q.fr.Rows(x.f, sel), q.rr.Rows(x.r, sel)}, 0)
}

func TestFastRunErrors(t *testing.T) {
	be := Default()
	w, _ := be.Matrix("w", make([]float32, 6), 2, 3)
	tab, _ := be.Table("t", make([]float32, 12), 3, 4)
	r, _ := be.NewRun(context.Background(), 2)
	x := r.Gather(tab, []int32{0, 1}) // 4 columns, the weight wants 3
	y := r.Linear(x, w, nil)
	if r.Err() == nil {
		t.Fatal("Linear with the wrong width: no error")
	}
	first := r.Err()
	r.Activate(y, ml.ActGELU)
	r.Rows(y, []int32{5})
	if r.Err() != first {
		t.Errorf("error changed from %v to %v", first, r.Err())
	}
	if got := r.Read(y); got != nil {
		t.Errorf("Read after an error = %v, want nil", got)
	}
	r.Close()

	// A released tensor is refused, not read.
	r2, _ := be.NewRun(context.Background(), 2)
	x2 := r2.Gather(tab, []int32{0, 1})
	ml.Release(r2, x2)
	r2.Rows(x2, []int32{0})
	if r2.Err() == nil {
		t.Error("Rows of a released tensor: no error")
	}
	r2.Close()

	// A tensor of another run is refused.
	r3, _ := be.NewRun(context.Background(), 2)
	r4, _ := be.NewRun(context.Background(), 2)
	x3 := r3.Gather(tab, []int32{0, 1})
	r4.Rows(x3, []int32{0})
	if r4.Err() == nil {
		t.Error("Rows of another run's tensor: no error")
	}
	r3.Close()
	r4.Close()

	ctx, cancel := context.WithCancel(context.Background())
	r5, _ := be.NewRun(ctx, 2)
	cancel()
	r5.Gather(tab, []int32{0})
	if r5.Err() != context.Canceled {
		t.Errorf("cancelled run: Err() = %v, want context.Canceled", r5.Err())
	}
	r5.Close()

	r6, _ := be.NewRun(context.Background(), 1)
	r6.Gather(tab, []int32{3})
	if r6.Err() == nil {
		t.Error("Gather of row 3 of a 3-row table: no error")
	}
	r6.Close()
	if _, err := be.Matrix("m", make([]float32, 5), 2, 3); err == nil {
		t.Error("Matrix of 5 values for [2 3]: no error")
	}
}

// TestReleaseReusesMemory checks that a released buffer serves the next
// tensor of its size, and that the reused memory gives right answers.
func TestReleaseReusesMemory(t *testing.T) {
	rng := testrand.Fresh(t)
	q := newOpPair(t, 50)
	x := q.input(testrand.Floats(rng, 50*64), 50, 64)
	w := q.matrix(testrand.Floats(rng, 64*64), 64, 64)
	y := t2{q.fr.Linear(x.f, w.f, nil), q.rr.Linear(x.r, w.r, nil)}
	fr := q.fr.(*fastRun)
	ml.Release(q.fr, y.f)
	if y.f.(*fastTensor).data != nil {
		t.Fatal("Release left the tensor its buffer")
	}
	// The arena may hold buffers of earlier runs too: whichever fits, the
	// new tensor must come from the free list, not from make.
	free := map[*float32]bool{}
	for _, b := range fr.free {
		free[&b[:1][0]] = true
	}
	z := t2{q.fr.Linear(x.f, w.f, nil), q.rr.Linear(x.r, w.r, nil)}
	if !free[&z.f.(*fastTensor).data[0]] {
		t.Error("the new tensor did not reuse a released buffer")
	}
	q.check("linear into a reused buffer", z, 2e-4)
}

func TestRowClass(t *testing.T) {
	prev := 0
	for rows := 1; rows < 100000; rows++ {
		c := rowClass(rows)
		if c < rows || c > rows+rows/2+1 || c < prev {
			t.Fatalf("rowClass(%d) = %d", rows, c)
		}
		if runPoolIndex(rows) >= len(runPools) {
			t.Fatalf("runPoolIndex(%d) = %d", rows, runPoolIndex(rows))
		}
		prev = c
	}
}

// TestAsmSoftmaxGELU compares softmax16 and gelu16 with their Go versions
// on random rows of every length up to 100 (all tail masks).
func TestAsmSoftmaxGELU(t *testing.T) {
	if !hasMM4 {
		t.Skip("no AVX-512 here")
	}
	rng := testrand.Fresh(t)
	for n := 1; n <= 100; n++ {
		x := randScaled(rng, n+16, 4)
		guard := x[n]
		a, b := append([]float32(nil), x[:n]...), append([]float32(nil), x[:n]...)
		scale := float32(0.1 + rng.Float64())
		softmaxRow(a, scale)
		softmaxAsm(x[:n], scale)
		copy(b, x[:n])
		if x[n] != guard {
			t.Fatalf("softmax16 of %d floats wrote past them", n)
		}
		for i := range a {
			if d := math.Abs(float64(a[i] - b[i])); d > 1e-6 {
				t.Fatalf("softmax of %d: [%d] asm %v, Go %v", n, i, b[i], a[i])
			}
		}
		// softexp16 and softexpRow against float64's softmax, each
		// exponential times the 1/sum it returns. The bound, per element, in
		// float32 ulps (2^-24 relative): exp32's 2 ulps (TestExp32); the
		// argument's roundings, which move e by its own relative error,
		// |x·scale| (the product, where it is not fused) plus |x·scale - m|
		// (the difference); the sum's n roundings and 1/sum's one. The
		// rounding of m itself shifts every exponential by the same factor
		// and cancels in the product with 1/sum.
		x = randScaled(rng, n+16, 4)
		guard = x[n]
		in := append([]float32(nil), x[:n]...)
		a = append(a[:0], in...)
		scale = float32(0.1 + rng.Float64())
		if rng.IntN(2) == 0 {
			scale = 0.125 // attention's at head size 64: exact products
		}
		invGo, invAsm := softexpRow(a, scale), softexpAsm(x[:n], scale)
		if x[n] != guard {
			t.Fatalf("softexp16 of %d floats wrote past them", n)
		}
		m := math.Inf(-1)
		for _, v := range in {
			m = max(m, float64(v)*float64(scale))
		}
		var sum float64
		for _, v := range in {
			sum += math.Exp(float64(v)*float64(scale) - m)
		}
		for i, v := range in {
			xs := float64(v) * float64(scale)
			want := math.Exp(xs-m) / sum
			bound := 0x1p-24 * (2 + math.Abs(xs) + math.Abs(xs-m) + float64(n) + 2)
			for _, got := range []struct {
				name string
				p    float64
			}{{"Go", float64(a[i]) * float64(invGo)}, {"asm", float64(x[i]) * float64(invAsm)}} {
				if d := math.Abs(got.p-want) / want; d > bound {
					t.Fatalf("softexp of %d, scale %v: [%d] %s %v, float64 %v: relative error %.3g > %.3g", n, scale, i, got.name, got.p, want, d, bound)
				}
			}
		}
		x = randScaled(rng, n+16, 5)
		guard = x[n]
		a = append(a[:0], x[:n]...)
		in = append(in[:0], x[:n]...)
		geluSliceGo(a)
		geluAsm(x[:n])
		if x[n] != guard {
			t.Fatalf("gelu16 of %d floats wrote past them", n)
		}
		// Both are float32 erf approximations whose error near x = -5 (where
		// 1+erf cancels) is about 1e-6 each, so they can differ by twice
		// that: hold each to the float64 definition instead of to the other.
		for i := range a {
			v := float64(in[i])
			exact := 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
			for _, got := range []struct {
				name string
				v    float32
			}{{"asm", x[i]}, {"Go", a[i]}} {
				if d := math.Abs(float64(got.v)-exact) / max(1, math.Abs(exact)); d > 1.5e-6 {
					t.Fatalf("gelu of %d: [%d] gelu(%v): %s %v, float64 %v", n, i, in[i], got.name, got.v, exact)
				}
			}
		}
	}
	// Extremes: a row with one dominant score, and GELU far out.
	row := []float32{-1000, 0, 1000, 3}
	softmaxAsm(row, 1)
	if row[2] != 1 || row[0] != 0 || row[1] > 1e-38 {
		t.Errorf("softmax of [-1000 0 1000 3] = %v", row)
	}
	// softexp's maximum is of the scaled scores: unscaled, every
	// exponential here would underflow to 0 and the sum with it.
	for name, f := range map[string]func([]float32, float32) float32{"asm": softexpAsm, "Go": softexpRow} {
		row = []float32{-1000, 0, 1000, 3}
		inv := f(row, 0.125)
		if inv != 1 || row[2] != 1 || row[0] != 0 || row[1] > 1e-38 {
			t.Errorf("softexp (%s) of [-1000 0 1000 3]·1/8 = %v, 1/sum %v", name, row, inv)
		}
	}
	g := []float32{-100, -10, 10, 100, float32(math.Inf(1))}
	geluAsm(g)
	if g[0] != 0 || g[1] != 0 || g[2] != 10 || g[3] != 100 {
		t.Errorf("gelu of [-100 -10 10 100] = %v", g[:4])
	}
}

// TestAsmLayerNorm compares layerNorm16 with addLayerNormRow on random rows
// of every length up to 100 (all tail masks) and the models' widths.
func TestAsmLayerNorm(t *testing.T) {
	if !hasMM4 {
		t.Skip("no AVX-512 here")
	}
	rng := testrand.Fresh(t)
	sizes := []int{384, 768, 1024}
	for n := 1; n <= 100; n++ {
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		x, res := randScaled(rng, n, 3), testrand.Floats(rng, n)
		g, b := testrand.Floats(rng, n), testrand.Floats(rng, n)
		for _, r := range [][]float32{nil, res} {
			want := make([]float32, n)
			got := make([]float32, n+16)
			guard := got[n]
			addLayerNormRow(want, x, r, g, b, 1e-12)
			layerNormAsm(got[:n], x, r, g, b, 1e-12)
			if got[n] != guard {
				t.Fatalf("layerNorm16 of %d floats wrote past them", n)
			}
			// Both sum in float32 in different orders; subtracting the mean
			// amplifies their rounding by max|x+r| / std (a row of two nearly
			// equal values is ill-conditioned), so the bound scales with it.
			tol := 2e-6 * layerNormCondition(x, r)
			for i := range want {
				if d := math.Abs(float64(got[i]-want[i])) / max(1, math.Abs(float64(want[i]))); d > tol {
					t.Fatalf("n %d, residual %v: [%d] asm %v, Go %v", n, r != nil, i, got[i], want[i])
				}
			}
		}
	}
}

// layerNormCondition is max|x+r| / std(x+r) in float64 (at least 1): how
// much the rounding of a float32 LayerNorm is magnified by its centring.
func layerNormCondition(x, r []float32) float64 {
	v := make([]float64, len(x))
	var mean float64
	for i := range x {
		v[i] = float64(x[i])
		if r != nil {
			v[i] += float64(r[i])
		}
		mean += v[i]
	}
	mean /= float64(len(v))
	var vr, mx float64
	for _, e := range v {
		vr += (e - mean) * (e - mean)
		mx = max(mx, math.Abs(e))
	}
	std := math.Sqrt(vr / float64(len(v)))
	if std == 0 {
		return 1
	}
	return max(1, mx/std)
}

// gelu is the exact GELU in float64, 0.5·x·(1 + erf(x/√2)): the definition
// erf32 is checked against.
func gelu(x float32) float32 {
	v := float64(x)
	return float32(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
}

// TestTransposeHead holds transposeHead (transpose16's blocks and
// transposeGo's edges) and transposeGo alone to the plain loop
// kt[d*lp+j] = k[j*dim+d], to the bit, on random sizes (whole 16 x 16
// blocks, edges, and neither), and checks that nothing else in kt changed.
func TestTransposeHead(t *testing.T) {
	rng := testrand.Fresh(t)
	const untouched = 12345
	for range 300 {
		n, hd := 1+rng.IntN(80), 1+rng.IntN(80)
		dim := hd + rng.IntN(20)
		lp := n + rng.IntN(40)
		k := testrand.Floats(rng, (n-1)*dim+hd)
		want := make([]float32, hd*lp)
		for i := range want {
			want[i] = untouched
		}
		for j := range n {
			for d := range hd {
				want[d*lp+j] = k[j*dim+d]
			}
		}
		for _, name := range []string{"transposeHead", "transposeGo"} {
			kt := make([]float32, hd*lp)
			for i := range kt {
				kt[i] = untouched
			}
			if name == "transposeHead" {
				transposeHead(kt, lp, k, dim, n, hd)
			} else {
				transposeGo(kt, lp, k, dim, 0, n, 0, hd)
			}
			for i := range want {
				if math.Float32bits(kt[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s of %d keys x %d (dim %d, lp %d): kt[%d] = %v, want %v", name, n, hd, dim, lp, i, kt[i], want[i])
				}
			}
		}
	}
	if !hasMM4 {
		t.Log("no AVX-512 here: only the Go kernel was tested")
	}
}

// BenchmarkTransposeHead compares, in one process, transposeGo and
// transposeHead on one head's keys (2,048 tokens, 64 of 768 columns).
func BenchmarkTransposeHead(b *testing.B) {
	const n, hd, dim = 2048, 64, 768
	rng := testrand.Fresh(b)
	k := testrand.Floats(rng, n*dim)
	kt := make([]float32, hd*n)
	for _, name := range []string{"go", "head"} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				if name == "go" {
					transposeGo(kt, n, k, dim, 0, n, 0, hd)
				} else {
					transposeHead(kt, n, k, dim, n, hd)
				}
			}
		})
	}
}

// BenchmarkSoftmax is softmax16 on rows of 1,344 scores (a long
// document's global attention row).
func BenchmarkSoftmax(b *testing.B) {
	if !hasMM4 {
		b.Skip("no AVX-512 here")
	}
	rng := testrand.Fresh(b)
	src := randScaled(rng, 1344, 4)
	row := make([]float32, len(src))
	for range b.N {
		copy(row, src)
		softmaxAsm(row, 0.125)
	}
}
