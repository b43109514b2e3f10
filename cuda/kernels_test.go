//go:build cuda

package cuda

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/reference"
)

// The kernels against the reference backend (package reference: plain loops
// over gorgonia.org/tensor, the oracle of every backend) on fresh random
// inputs, in every precision. For fp16 and bf16 the reference gets the same
// inputs rounded to the storage type, so what remains is the rounding of
// intermediates.
//
// Without a GPU these tests skip; CROSSRANK_REQUIRE_GPU=1 (set by
// gpu-check.sh) turns the skip into a failure so a device run cannot pass by
// skipping.

func testBackend(t *testing.T, p Precision) *backend {
	t.Helper()
	b, err := New(Options{Precision: p})
	if err != nil {
		if errors.Is(err, ErrNoDevice) && os.Getenv("CROSSRANK_REQUIRE_GPU") == "" {
			t.Skipf("no GPU: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	cb := b.(*backend)
	cb.poison = true
	return cb
}

var precisions = []Precision{FP32, FP16, BF16}

// tolerance is the relative error ‖got−want‖/‖want‖ allowed per precision,
// 3x the largest error cuda/NOTES.md records on the H200 (fp32 <= 1e-6,
// fp16 <= 5e-4, bf16 <= 3e-3, attention's mma kernel included: fp16
// 2.4e-4 to 4.8e-4, bf16 ~2.5e-3). Those runs compared with the fast CPU
// backend; the reference backend differs from it by fp32 summation order
// only (~1e-7 relative), well inside the margin.
func tolerance(p Precision) float64 {
	switch p {
	case FP16:
		return 1.5e-3
	case BF16:
		return 9e-3
	}
	return 3e-6
}

func randn(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}

// rounded is x as precision p stores it.
func rounded(p Precision, x []float32) []float32 {
	out := make([]float32, len(x))
	decode(p, encode(p, append([]float32(nil), x...)), out)
	return out
}

func relErr(got, want []float32) (rel float64, maxAbs float64, bad int) {
	var num, den float64
	bad = -1
	for i := range want {
		if i >= len(got) || math.IsNaN(float64(got[i])) || math.IsInf(float64(got[i]), 0) {
			if bad < 0 {
				bad = i
			}
			continue
		}
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
		maxAbs = max(maxAbs, math.Abs(d))
	}
	return math.Sqrt(num / max(den, 1e-30)), maxAbs, bad
}

func compare(t *testing.T, what string, p Precision, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	rel, maxAbs, bad := relErr(got, want)
	if bad >= 0 {
		t.Fatalf("%s: element %d is %v (unwritten or overflow), want %v", what, bad, got[bad], want[bad])
	}
	if rel > tolerance(p) {
		t.Fatalf("%s: relative error %.3g (max abs %.3g), tolerance %.3g", what, rel, maxAbs, tolerance(p))
	}
	t.Logf("%s: relative error %.3g, max abs %.3g", what, rel, maxAbs)
}

// pair runs the same operations on the GPU backend and on the CPU reference.
type pair struct {
	t      *testing.T
	p      Precision
	gb     *backend
	cb     ml.Backend
	gr, cr ml.Run
}

func newPair(t *testing.T, p Precision, tokens int) *pair {
	gb := testBackend(t, p)
	cb := reference.New()
	gr, err := gb.NewRun(context.Background(), tokens)
	if err != nil {
		t.Fatal(err)
	}
	cr, err := cb.NewRun(context.Background(), tokens)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gr.Close(); cr.Close() })
	return &pair{t: t, p: p, gb: gb, cb: cb, gr: gr, cr: cr}
}

type w2 struct{ g, c ml.Weight }
type t2 struct{ g, c ml.Tensor }

func (q *pair) matrix(data []float32, out, in int) w2 {
	data = rounded(q.p, data)
	g, err := q.gb.Matrix("m", data, out, in)
	if err != nil {
		q.t.Fatal(err)
	}
	c, err := q.cb.Matrix("m", data, out, in)
	if err != nil {
		q.t.Fatal(err)
	}
	return w2{g, c}
}

func (q *pair) vector(data []float32) w2 {
	data = rounded(q.p, data)
	g, err := q.gb.Vector("v", data)
	if err != nil {
		q.t.Fatal(err)
	}
	c, err := q.cb.Vector("v", data)
	if err != nil {
		q.t.Fatal(err)
	}
	return w2{g, c}
}

func (q *pair) table(data []float32, rows, cols int) w2 {
	data = rounded(q.p, data)
	g, err := q.gb.Table("t", data, rows, cols)
	if err != nil {
		q.t.Fatal(err)
	}
	c, err := q.cb.Table("t", data, rows, cols)
	if err != nil {
		q.t.Fatal(err)
	}
	return w2{g, c}
}

// input makes a tensor from data on both sides (a Gather from a table of
// its rows, the only way in through the seam).
func (q *pair) input(data []float32, rows, cols int) t2 {
	tb := q.table(data, rows, cols)
	ids := make([]int32, rows)
	for i := range ids {
		ids[i] = int32(i)
	}
	return t2{q.gr.Gather(tb.g, ids), q.cr.Gather(tb.c, ids)}
}

func (q *pair) check(what string, x t2) {
	q.t.Helper()
	got, want := q.gr.Read(x.g), q.cr.Read(x.c)
	if err := q.gr.Err(); err != nil {
		q.t.Fatalf("%s: GPU: %v", what, err)
	}
	if err := q.cr.Err(); err != nil {
		q.t.Fatalf("%s: CPU: %v", what, err)
	}
	compare(q.t, what, q.p, got, want)
}

func forPrecisions(t *testing.T, f func(t *testing.T, p Precision)) {
	for _, p := range precisions {
		t.Run(p.String(), func(t *testing.T) { f(t, p) })
	}
}

func TestGather(t *testing.T) {
	forPrecisions(t, func(t *testing.T, p Precision) {
		rng := rand.New(rand.NewPCG(1, uint64(p)))
		const rows, cols, n = 1000, 384, 300
		q := newPair(t, p, n)
		tb, tb2 := q.table(randn(rng, rows*cols, 1), rows, cols), q.table(randn(rng, 8*cols, 1), 8, cols)
		ids, ids2 := make([]int32, n), make([]int32, n)
		for i := range ids {
			ids[i], ids2[i] = int32(rng.IntN(rows)), int32(rng.IntN(8))
		}
		x := t2{q.gr.Gather(tb.g, ids), q.cr.Gather(tb.c, ids)}
		q.check("gather", x)
		q.gr.AddGather(x.g, tb2.g, ids2)
		q.cr.AddGather(x.c, tb2.c, ids2)
		q.check("add-gather", x)
	})
}

func TestLinearActivate(t *testing.T) {
	acts := []ml.Activation{ml.ActNone, ml.ActGELU, ml.ActGELUNew, ml.ActReLU, ml.ActTanh}
	forPrecisions(t, func(t *testing.T, p Precision) {
		rng := rand.New(rand.NewPCG(2, uint64(p)))
		for _, shape := range [][3]int{{37, 384, 1536}, {300, 768, 768}, {5, 64, 1}, {3, 16, 7}} { // even and odd widths
			rows, in, out := shape[0], shape[1], shape[2]
			for _, act := range acts {
				q := newPair(t, p, rows)
				x := q.input(randn(rng, rows*in, 1), rows, in)
				w := q.matrix(randn(rng, out*in, 1/math.Sqrt(float64(in))), out, in)
				b := q.vector(randn(rng, out, 0.5))
				y := t2{q.gr.Linear(x.g, w.g, b.g), q.cr.Linear(x.c, w.c, b.c)}
				q.gr.Activate(y.g, act)
				q.cr.Activate(y.c, act)
				q.check(fmt.Sprintf("linear %dx%dx%d + bias, activation %d", rows, in, out, act), y)
			}
		}
	})
}

func TestLinearBiasRead(t *testing.T) {
	forPrecisions(t, func(t *testing.T, p Precision) {
		rng := rand.New(rand.NewPCG(3, uint64(p)))
		q := newPair(t, p, 50)
		x := q.input(randn(rng, 50*96, 1), 50, 96)
		w, b := q.matrix(randn(rng, 80*96, 0.1), 80, 96), q.vector(randn(rng, 80, 1))
		y := t2{q.gr.Linear(x.g, w.g, b.g), q.cr.Linear(x.c, w.c, b.c)}
		w2, b2 := q.matrix(randn(rng, 24*80, 0.1), 24, 80), q.vector(randn(rng, 24, 1))
		z := t2{q.gr.Linear(y.g, w2.g, b2.g), q.cr.Linear(y.c, w2.c, b2.c)} // y's bias settled first
		q.check("linear, pending bias read", y)
		sel := []int32{3, 0, 49, 3}
		q.check("rows of a pending-bias tensor", t2{q.gr.Rows(z.g, sel), q.cr.Rows(z.c, sel)})
		q.check("linear of linear", z)
	})
}

func TestAddLayerNorm(t *testing.T) {
	forPrecisions(t, func(t *testing.T, p Precision) {
		rng := rand.New(rand.NewPCG(4, uint64(p)))
		for _, cols := range []int{384, 768, 1000, 33, 1024, 1536} { // warp kernel up to 1024 even, block kernel beyond and odd
			const rows = 70
			q := newPair(t, p, rows)
			x := q.input(randn(rng, rows*cols, 2), rows, cols)
			res := q.input(randn(rng, rows*cols, 1), rows, cols)
			g, b := q.vector(randn(rng, cols, 1)), q.vector(randn(rng, cols, 0.2))
			q.check(fmt.Sprintf("layernorm %d cols, no residual", cols),
				t2{q.gr.AddLayerNorm(x.g, nil, g.g, b.g, 1e-12), q.cr.AddLayerNorm(x.c, nil, g.c, b.c, 1e-12)})
			// A Linear's output with its bias pending, plus a residual.
			w, wb := q.matrix(randn(rng, cols*cols, 1/math.Sqrt(float64(cols))), cols, cols), q.vector(randn(rng, cols, 1))
			y := t2{q.gr.Linear(x.g, w.g, wb.g), q.cr.Linear(x.c, w.c, wb.c)}
			q.check(fmt.Sprintf("layernorm %d cols, pending bias + residual", cols),
				t2{q.gr.AddLayerNorm(y.g, res.g, g.g, b.g, 1e-5), q.cr.AddLayerNorm(y.c, res.c, g.c, b.c, 1e-5)})
		}
	})
}

func TestAttention(t *testing.T) {
	cases := []attentionCase{
		{12, 32, []int{1, 7, 64, 65, 200, 33}}, // MiniLM-L6 heads
		{12, 64, []int{140, 12, 268, 1}},       // bge-reranker-base heads
		{4, 48, []int{5, 100}},                 // a head size between compiled sizes
		{2, 128, []int{96, 31}},                // the largest compiled size
		{2, 64, []int{2000}},                   // a long sequence: many key tiles
		{1, 16, []int{0, 3, 0}},                // empty sequences
		{3, 20, []int{17, 70}},                 // rows not 16-byte aligned: element loads
		{2, 7, []int{9, 1, 130}},               // odd head size and row stride: element stores
	}
	forPrecisions(t, func(t *testing.T, p Precision) {
		for _, k := range []attnKernel{attnMMA, attnWMMA, attnSimple} {
			if p == FP32 && k != attnSimple {
				continue // fp32 has only the CUDA-core kernel
			}
			name := map[attnKernel]string{attnMMA: "mma", attnWMMA: "wmma", attnSimple: "CUDA cores"}[k]
			t.Run(name, func(t *testing.T) { testAttention(t, p, k, cases) })
		}
	})
	// The mma kernel against the CUDA-core one on the same device, on the
	// shapes of the two benchmark models, packed as a request would be.
	for _, p := range []Precision{FP16, BF16} {
		t.Run("mma=simple/"+p.String(), func(t *testing.T) { testAttentionKernelsAgree(t, p) })
	}
}

type attentionCase struct {
	heads, headDim int
	lens           []int
}

func testAttention(t *testing.T, p Precision, kernel attnKernel, cases []attentionCase) {
	{
		rng := rand.New(rand.NewPCG(5, uint64(p)))
		for _, c := range cases {
			offsets := []int32{0}
			for _, l := range c.lens {
				offsets = append(offsets, offsets[len(offsets)-1]+int32(l))
			}
			tokens := int(offsets[len(offsets)-1])
			cols := c.heads * c.headDim
			q := newPair(t, p, tokens)
			q.gb.attention = kernel
			x := q.input(randn(rng, tokens*cols, 1), tokens, cols)
			mk := func() t2 {
				w, b := q.matrix(randn(rng, cols*cols, 1/math.Sqrt(float64(cols))), cols, cols), q.vector(randn(rng, cols, 0.5))
				return t2{q.gr.Linear(x.g, w.g, b.g), q.cr.Linear(x.c, w.c, b.c)} // biases pending
			}
			qq, kk, vv := mk(), mk(), mk()
			a := t2{q.gr.Attention(qq.g, kk.g, vv.g, c.heads, offsets), q.cr.Attention(qq.c, kk.c, vv.c, c.heads, offsets)}
			q.check(fmt.Sprintf("attention heads %d x %d, lengths %v", c.heads, c.headDim, c.lens), a)
		}
	}
}

func testAttentionKernelsAgree(t *testing.T, p Precision) {
	rng := rand.New(rand.NewPCG(8, uint64(p)))
	for _, c := range []attentionCase{
		{12, 32, []int{46, 143, 240, 81, 178, 1, 275, 112}},
		{12, 64, []int{46, 143, 240, 81, 178, 1, 275, 112}},
	} {
		offsets := []int32{0}
		for _, l := range c.lens {
			offsets = append(offsets, offsets[len(offsets)-1]+int32(l))
		}
		tokens, cols := int(offsets[len(offsets)-1]), c.heads*c.headDim
		b := testBackend(t, p)
		r, err := b.NewRun(context.Background(), tokens)
		if err != nil {
			t.Fatal(err)
		}
		in := func() ml.Tensor {
			tb, err := b.Table("x", randn(rng, tokens*cols, 1.5), tokens, cols)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]int32, tokens)
			for i := range ids {
				ids[i] = int32(i)
			}
			return r.Gather(tb, ids)
		}
		qq, kk, vv := in(), in(), in()
		b.attention = attnMMA
		fast := r.Read(r.Attention(qq, kk, vv, c.heads, offsets))
		b.attention = attnSimple
		ref := r.Read(r.Attention(qq, kk, vv, c.heads, offsets))
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		r.Close()
		compare(t, fmt.Sprintf("mma vs CUDA-core attention, heads %d x %d", c.heads, c.headDim), p, fast, ref)
	}
}

// TestAttentionLong is the longest sequence the design names (8192 tokens).
func TestAttentionLong(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	p := FP16
	rng := rand.New(rand.NewPCG(6, 0))
	const tokens, heads, hd = 8192, 1, 64
	q := newPair(t, p, tokens)
	qq := q.input(randn(rng, tokens*heads*hd, 1), tokens, heads*hd)
	kk := q.input(randn(rng, tokens*heads*hd, 1), tokens, heads*hd)
	vv := q.input(randn(rng, tokens*heads*hd, 1), tokens, heads*hd)
	offsets := []int32{0, tokens}
	q.check("attention over 8192 tokens", t2{q.gr.Attention(qq.g, kk.g, vv.g, heads, offsets), q.cr.Attention(qq.c, kk.c, vv.c, heads, offsets)})
}

func TestErrorsAreErrors(t *testing.T) {
	b := testBackend(t, FP32)
	tb, err := b.Table("t", make([]float32, 8*4), 8, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Matrix("m", make([]float32, 5), 2, 3); err == nil {
		t.Fatal("a matrix of 5 values for [2 3] was accepted")
	}
	r, _ := b.NewRun(context.Background(), 3)
	x := r.Gather(tb, []int32{0, 9, 1})
	if r.Err() == nil {
		t.Fatal("id 9 into a table of 8 rows: no error")
	}
	r.Activate(x, ml.ActGELU) // no-op after the error, no panic
	if got := r.Read(x); got != nil {
		t.Fatalf("Read after an error returned %v", got)
	}
	r.Close()

	r, _ = b.NewRun(context.Background(), 3)
	x = r.Gather(tb, []int32{0, 1, 2})
	r.Attention(x, x, x, 2, []int32{0, 2}) // offsets end at 2, not 3
	if r.Err() == nil {
		t.Fatal("offsets not covering the tokens: no error")
	}
	r.Close()

	ctx, cancel := context.WithCancel(context.Background())
	r, _ = b.NewRun(ctx, 3)
	cancel()
	r.Gather(tb, []int32{0, 1, 2})
	if !errors.Is(r.Err(), context.Canceled) {
		t.Fatalf("cancelled run: Err() = %v", r.Err())
	}
	r.Close()
}

func TestOutOfMemory(t *testing.T) {
	b := testBackend(t, FP32)
	free, total, err := memInfo()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("device memory: %d MiB free of %d MiB", free>>20, total>>20)
	if _, err := b.devAlloc(total * 4); !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("allocating 4x the device's memory: %v, want ErrOutOfMemory", err)
	}
	r, _ := b.NewRun(context.Background(), 1)
	rr := r.(*run)
	rr.alloc(total * 4)
	if !errors.Is(r.Err(), ErrOutOfMemory) {
		t.Fatalf("run allocating 4x the device's memory: Err() = %v, want ErrOutOfMemory", r.Err())
	}
	r.Close()
	// The backend still works after it.
	tb, _ := b.Table("t", []float32{1, 2, 3, 4}, 2, 2)
	r, _ = b.NewRun(context.Background(), 1)
	got := r.Read(r.Gather(tb, []int32{1}))
	if r.Err() != nil || len(got) != 2 || got[0] != 3 || got[1] != 4 {
		t.Fatalf("after OOM: %v, %v", got, r.Err())
	}
	r.Close()
}

// TestConcurrentRuns: runs on several goroutines (streams) at once give what
// one run alone gives, and reuse cached buffers afterwards.
func TestConcurrentRuns(t *testing.T) {
	b := testBackend(t, FP16)
	rng := rand.New(rand.NewPCG(7, 0))
	const rows, cols = 200, 256
	tb, _ := b.Table("t", randn(rng, rows*cols, 1), rows, cols)
	w, _ := b.Matrix("w", randn(rng, cols*cols, 0.06), cols, cols)
	bias, _ := b.Vector("b", randn(rng, cols, 1))
	g, _ := b.Vector("g", randn(rng, cols, 1))
	beta, _ := b.Vector("beta", randn(rng, cols, 1))
	ids := make([]int32, rows)
	for i := range ids {
		ids[i] = int32(rng.IntN(rows))
	}
	forward := func() ([]float32, error) {
		r, err := b.NewRun(context.Background(), rows)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		x := r.Gather(tb, ids)
		for range 4 {
			y := r.Linear(x, w, bias)
			r.Activate(y, ml.ActGELU)
			a := r.Attention(y, y, y, 4, []int32{0, 50, 51, rows})
			x = r.AddLayerNorm(a, x, g, beta, 1e-5)
		}
		return r.Read(x), r.Err()
	}
	want, err := forward()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 5 {
				got, err := forward()
				if err != nil {
					errs <- err
					return
				}
				for i := range want {
					if got[i] != want[i] {
						errs <- fmt.Errorf("element %d: %v, alone %v", i, got[i], want[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestAvailable(t *testing.T) {
	name, err := Available()
	if err != nil {
		if errors.Is(err, ErrNoDevice) && os.Getenv("CROSSRANK_REQUIRE_GPU") == "" {
			t.Skipf("no GPU: %v", err)
		}
		t.Fatal(err)
	}
	t.Logf("device: %s", name)
}

func TestSizeClass(t *testing.T) {
	for _, n := range []int64{1, 255, 256, 257, 1000, 1 << 20, 1<<20 + 1, 123456789} {
		c := sizeClass(n)
		if c < n || float64(c) > math.Max(256, 1.25*float64(n)) {
			t.Errorf("sizeClass(%d) = %d", n, c)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	in := []float32{0, 1, -2.5, 65504, 1e-8, 3.14159265, float32(math.Inf(-1))}
	for _, p := range precisions {
		out := make([]float32, len(in))
		decode(p, encode(p, append([]float32(nil), in...)), out)
		for i := range in {
			if math.Abs(float64(out[i]-in[i])) > math.Abs(float64(in[i]))*1e-2+1e-7 && !(math.IsInf(float64(in[i]), 0) && out[i] == in[i]) {
				t.Errorf("%v: %v -> %v", p, in[i], out[i])
			}
		}
	}
	// bf16 rounds to nearest even: 1 + 2^-8 is halfway between 1 and 1 + 2^-7.
	if got := bf16FromFloat32(1 + 1.0/256); got != 0x3f80 {
		t.Errorf("bf16(1+2^-8) = %#x, want 0x3f80", got)
	}
	if got := bf16FromFloat32(1 + 3.0/256); got != 0x3f82 {
		t.Errorf("bf16(1+3*2^-8) = %#x, want 0x3f82", got)
	}
}
