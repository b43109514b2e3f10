package gemm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
	"unsafe"
)

// nearestBF16 is an independent oracle of roundBF16 for finite normal
// floats: the nearer of the two bf16 values around x, computed in float64,
// ties to the even one.
func nearestBF16(x float32) float32 {
	u := math.Float32bits(x)
	down := math.Float32frombits(u &^ 0xffff)
	up := math.Float32frombits((u &^ 0xffff) + 0x10000)
	dd := math.Abs(float64(x) - float64(down))
	du := math.Abs(float64(up) - float64(x))
	switch {
	case dd < du:
		return down
	case du < dd:
		return up
	case (u>>16)&1 == 0:
		return down
	}
	return up
}

func TestRoundBF16(t *testing.T) {
	r := newRand(t)
	for range 200000 {
		x := math.Float32frombits(r.Uint32())
		if u := math.Float32bits(x) & 0x7f800000; u == 0 || u == 0x7f800000 || math.Float32bits(x)&0x7fffffff > 0x7f7f0000 {
			continue // denormals, NaN, Inf and rounding to Inf: TestCvtBF16
		}
		if r.Intn(4) == 0 { // a tie
			x = math.Float32frombits(math.Float32bits(x)&^0xffff | 0x8000)
		}
		want := nearestBF16(x)
		if got := bf16ToF32(roundBF16(x)); got != want {
			t.Fatalf("roundBF16(%x) = %x, want %x", math.Float32bits(x), math.Float32bits(got), math.Float32bits(want))
		}
	}
}

// TestCvtBF16 compares every row converter with roundBF16 bit for bit, on
// random bit patterns (denormals, NaNs, infinities and ties included) and
// every tail length.
func TestCvtBF16(t *testing.T) {
	r := newRand(t)
	specials := []uint32{0, 0x80000000, 1, 0x807fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffbfffff,
		0x3f808000, 0x3f818000, 0x7f7fffff, 0x00800000}
	for _, ks := range bf16Sets() {
		for n := 0; n < 100; n++ {
			x := make([]float32, n)
			for i := range x {
				if r.Intn(3) == 0 {
					x[i] = math.Float32frombits(specials[r.Intn(len(specials))])
				} else {
					x[i] = math.Float32frombits(r.Uint32())
				}
			}
			dst := make([]uint32, (n+1)/2+1)
			for i := range dst {
				dst[i] = 0xdeadbeef
			}
			ks.cvt(dst, x)
			for i := 0; i < n; i++ {
				got := uint16(dst[i/2] >> (16 * (i % 2)))
				if want := roundBF16(x[i]); got != want {
					t.Fatalf("%s n=%d: element %d (%08x) = %04x, want %04x", ks.name, n, i, math.Float32bits(x[i]), got, want)
				}
			}
			if n%2 == 1 && dst[n/2]>>16 != 0 {
				t.Fatalf("%s n=%d: odd tail's high half %04x, want 0", ks.name, n, dst[n/2]>>16)
			}
			if dst[(n+1)/2] != 0xdeadbeef {
				t.Fatalf("%s n=%d: wrote past the row", ks.name, n)
			}
		}
	}
}

// TestQuantRow compares every activation quantiser with the scalar
// definition (quantRowGo) bit for bit, on rows of every tail length and of
// every sign pattern.
func TestQuantRow(t *testing.T) {
	r := newRand(t)
	for _, ks := range int8Sets() {
		for n := 1; n < 150; n++ {
			x := make([]float32, n)
			kind := n % 4
			for i := range x {
				switch kind {
				case 0:
					x[i] = float32(r.NormFloat64())
				case 1:
					x[i] = float32(math.Abs(r.NormFloat64())) * 3 // >= 0, like GELU's output
				case 2:
					x[i] = -float32(r.ExpFloat64())
				}
			}
			groups := (n + 3) / 4
			got, want := make([]uint32, groups+1), make([]uint32, groups+1)
			got[groups], want[groups] = 0xdeadbeef, 0xdeadbeef
			gs, gz := ks.quant(got, x)
			ws, wz := quantRowGo(want, x)
			gb := unsafe.Slice((*uint8)(unsafe.Pointer(&got[0])), n)
			wb := unsafe.Slice((*uint8)(unsafe.Pointer(&want[0])), n)
			if gs != ws || gz != wz {
				t.Fatalf("%s n=%d: scale, -zp = %g, %d, want %g, %d", ks.name, n, gs, gz, ws, wz)
			}
			for i := range gb {
				if gb[i] != wb[i] {
					t.Fatalf("%s n=%d: code %d = %d, want %d (x=%g)", ks.name, n, i, gb[i], wb[i], x[i])
				}
			}
			if got[groups] != 0xdeadbeef {
				t.Fatalf("%s n=%d: wrote past the row", ks.name, n)
			}
		}
	}
}

// lowpShapes are fresh random shapes, ragged in m, n and k, some with k
// over several k blocks (lowKC groups = 256 bf16 or 512 int8 values) and m
// over several row blocks.
func lowpShapes(r *rand.Rand, kc int) [][3]int {
	s := [][3]int{{1, 1, 1}, {1, 3, 33}, {2, 5, 1}, {lowMR, 2, lowNR}, {lowMR + 1, 7, lowNR + 1}}
	for i := 0; i < 24; i++ {
		m, k, n := 1+r.Intn(60), 1+r.Intn(3*kc), 1+r.Intn(100)
		if i%6 == 0 {
			m = 1 + r.Intn(400)
		}
		s = append(s, [3]int{m, k, n})
	}
	return s
}

func TestMatMulBF16RandomShapes(t *testing.T) {
	r := newRand(t)
	pools := []*Pool{NewPool(1), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	for _, ks := range bf16Sets() {
		for i, s := range lowpShapes(r, 2*lowKC) {
			m, k, n := s[0], s[1], s[2]
			a, w := randSlice(r, m*k), randSlice(r, n*k)
			var bias []float32
			if i%3 != 0 {
				bias = randSlice(r, n)
			}
			want := make([]float32, m*n)
			ReferenceBF16(want, a, m, k, n, w, bias)
			got := make([]float32, m*n)
			for i := range got {
				got[i] = float32(math.NaN())
			}
			pw := packBF16(ks, n, k, func(o, p int) uint16 { return roundBF16(w[o*k+p]) })
			pools[i%2].MatMulBF16(got, a, m, pw, bias, nil)
			// Only the fp32 additions differ from the reference: Higham
			// and Mary's probabilistic bound as in check, on the sum of
			// the rounded products' magnitudes.
			const eps = 1.0 / (1 << 24)
			for ii := 0; ii < m; ii++ {
				for j := 0; j < n; j++ {
					var mag float64
					for p := 0; p < k; p++ {
						mag += math.Abs(float64(bf16ToF32(roundBF16(a[ii*k+p]))) * float64(bf16ToF32(roundBF16(w[j*k+p]))))
					}
					if bias != nil {
						mag += math.Abs(float64(bias[j]))
					}
					tol := 4*math.Sqrt(float64(k)+1)*eps*mag + 1e-30
					if g, e := float64(got[ii*n+j]), float64(want[ii*n+j]); !(math.Abs(g-e) <= tol) {
						t.Fatalf("%s m=%d k=%d n=%d bias=%v: C[%d,%d] = %g, want %g (tolerance %g)", ks.name, m, k, n, bias != nil, ii, j, g, e, tol)
					}
				}
			}
		}
	}
}

func TestMatMulInt8RandomShapes(t *testing.T) {
	r := newRand(t)
	pools := []*Pool{NewPool(1), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	for _, ks := range int8Sets() {
		for i, s := range lowpShapes(r, 4*lowKC) {
			m, k, n := s[0], s[1], s[2]
			a, w := randSlice(r, m*k), randSlice(r, n*k)
			if i%4 == 1 {
				for p := range a { // rows >= 0: zero point 0
					a[p] = float32(math.Abs(float64(a[p])))
				}
			}
			if i%5 == 2 && m > 1 { // a row of zeros
				clear(a[:k])
			}
			var bias []float32
			if i%3 != 0 {
				bias = randSlice(r, n)
			}
			want := make([]float32, m*n)
			ReferenceInt8(want, a, m, k, n, w, bias)
			got := make([]float32, m*n)
			for i := range got {
				got[i] = float32(math.NaN())
			}
			pools[i%2].MatMulInt8(got, a, m, packInt8(ks, w, n, k), bias, nil)
			for p := range got {
				if math.Float32bits(got[p]) != math.Float32bits(want[p]) {
					t.Fatalf("%s m=%d k=%d n=%d bias=%v: C[%d,%d] = %g, want %g (bit for bit)", ks.name, m, k, n, bias != nil, p/n, p%n, got[p], want[p])
				}
			}
		}
	}
}

// TestLowpEpilogue checks that the epilogue sees every cell of C once, after
// its last k block.
func TestLowpEpilogue(t *testing.T) {
	r := newRand(t)
	p := NewPool(2)
	defer p.Close()
	m, k, n := 150, 1100, 100
	a, w := randSlice(r, m*k), randSlice(r, n*k)
	epi := func(c []float32, ldc, r0, r1, c0, c1 int) {
		for i := r0; i < r1; i++ {
			for j := c0; j < c1; j++ {
				c[i*ldc+j] = 2*c[i*ldc+j] + 1
			}
		}
	}
	for _, ks := range int8Sets() {
		want := make([]float32, m*n)
		ReferenceInt8(want, a, m, k, n, w, nil)
		got := make([]float32, m*n)
		p.MatMulInt8(got, a, m, packInt8(ks, w, n, k), nil, epi)
		for i := range got {
			if got[i] != 2*want[i]+1 {
				t.Fatalf("int8 %s: cell %d = %g, want %g", ks.name, i, got[i], 2*want[i]+1)
			}
		}
	}
	for _, ks := range bf16Sets() {
		want := make([]float32, m*n)
		ReferenceBF16(want, a, m, k, n, w, nil)
		got := make([]float32, m*n)
		p.MatMulBF16(got, a, m, packBF16(ks, n, k, func(o, q int) uint16 { return roundBF16(w[o*k+q]) }), nil, epi)
		for i := range got {
			if d := math.Abs(float64(got[i] - (2*want[i] + 1))); d > 1e-3*math.Max(1, math.Abs(float64(want[i]))) {
				t.Fatalf("bf16 %s: cell %d = %g, want %g", ks.name, i, got[i], 2*want[i]+1)
			}
		}
	}
}

func TestLowpNoAllocs(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	m, k, n := 64, 384, 1536
	a, w, bias := randSlice(r, m*k), randSlice(r, n*k), randSlice(r, n)
	c := make([]float32, m*n)
	pb, pi := PackWeightBF16(w, n, k), PackWeightInt8(w, n, k)
	MatMulBF16(c, a, m, pb, bias)
	MatMulInt8(c, a, m, pi, bias)
	if allocs := testing.AllocsPerRun(20, func() { MatMulBF16(c, a, m, pb, bias) }); allocs != 0 {
		t.Errorf("MatMulBF16 allocates %v times per call, want 0", allocs)
	}
	if allocs := testing.AllocsPerRun(20, func() { MatMulInt8(c, a, m, pi, bias) }); allocs != 0 {
		t.Errorf("MatMulInt8 allocates %v times per call, want 0", allocs)
	}
}

func TestLowpKernelsListed(t *testing.T) {
	if PackWeightBF16([]float32{1}, 1, 1).Kernel() != bf16Sets()[0].name || PackWeightInt8([]float32{1}, 1, 1).Kernel() != int8Sets()[0].name {
		t.Fatal("PackWeightBF16 or PackWeightInt8 does not pack for the fastest kernel")
	}
	for _, s := range bf16Sets() {
		t.Logf("bf16 kernel: %s", s.name)
	}
	for _, s := range int8Sets() {
		t.Logf("int8 kernel: %s", s.name)
	}
}

func TestPackLowpBadShape(t *testing.T) {
	for name, f := range map[string]func(){
		"bf16":      func() { PackWeightBF16(make([]float32, 5), 2, 3) },
		"bf16 bits": func() { PackWeightBF16Bits(make([]uint16, 5), 2, 3) },
		"int8":      func() { PackWeightInt8(make([]float32, 5), 2, 3) },
		"matmul": func() {
			MatMulInt8(make([]float32, 3), make([]float32, 6), 2, PackWeightInt8(make([]float32, 6), 2, 3), nil)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: a bad shape was accepted", name)
				}
			}()
			f()
		}()
	}
}

// TestPackWeightBF16Bits: a weight stored as bf16 packs to what the float32
// weight holding the same values packs to.
func TestPackWeightBF16Bits(t *testing.T) {
	r := newRand(t)
	out, in := 40, 37
	bits := make([]uint16, out*in)
	w := make([]float32, out*in)
	for i := range bits {
		bits[i] = roundBF16(float32(r.NormFloat64()))
		w[i] = bf16ToF32(bits[i])
	}
	a, b := PackWeightBF16Bits(bits, out, in), PackWeightBF16(w, out, in)
	for i := range a.data {
		if a.data[i] != b.data[i] {
			t.Fatalf("packed word %d: %08x from bits, %08x from float32", i, a.data[i], b.data[i])
		}
	}
}

// TestLowpConcurrent calls one pool from several goroutines at once, each
// precision in turn, as concurrent requests of different models do: the
// pool's shared A buffer must not leak between calls.
func TestLowpConcurrent(t *testing.T) {
	r := newRand(t)
	m, k, n := 90, 700, 130
	w := randSlice(r, n*k)
	pf, pb, pi := PackWeight(w, n, k), PackWeightBF16(w, n, k), PackWeightInt8(w, n, k)
	errs := make(chan string, 9)
	done := make(chan struct{})
	for g := 0; g < 9; g++ {
		a := randSlice(r, m*k)
		go func() {
			defer func() { done <- struct{}{} }()
			wantB, wantI := make([]float32, m*n), make([]float32, m*n)
			ReferenceBF16(wantB, a, m, k, n, w, nil)
			ReferenceInt8(wantI, a, m, k, n, w, nil)
			got := make([]float32, m*n)
			for range 4 {
				switch g % 3 {
				case 0:
					MatMul(got, a, m, pf, nil)
				case 1:
					MatMulBF16(got, a, m, pb, nil)
					for i := range got {
						if d := math.Abs(float64(got[i] - wantB[i])); d > 1e-3*(1+math.Abs(float64(wantB[i]))) {
							errs <- fmt.Sprintf("bf16: cell %d = %g, want %g", i, got[i], wantB[i])
							return
						}
					}
				case 2:
					MatMulInt8(got, a, m, pi, nil)
					for i := range got {
						if got[i] != wantI[i] {
							errs <- fmt.Sprintf("int8: cell %d = %g, want %g", i, got[i], wantI[i])
							return
						}
					}
				}
			}
		}()
	}
	for range 9 {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestBF16KernelsAgree: the ISA defines VDPBF16PS's arithmetic exactly (the
// odd pair's product added first, then the even one's, each addition
// rounded to float32; the products are exact), and the Go kernel follows
// it, so on data without denormals (which VDPBF16PS flushes) every bf16
// implementation gives the same bits, k blocks and threads included.
func TestBF16KernelsAgree(t *testing.T) {
	r := newRand(t)
	p := NewPool(2)
	defer p.Close()
	for _, ks := range bf16Sets()[:len(bf16Sets())-1] {
		if ks.amx {
			// TDPBF16PS sums in its own order (it differs from the Go
			// kernel in the last bit); TestMatMulBF16RandomShapes and
			// TestAMXBF16Shapes hold it to the reference's bound.
			continue
		}
		for i, s := range lowpShapes(r, 2*lowKC)[:12] {
			m, k, n := s[0], s[1], s[2]
			a, w := randSlice(r, m*k), randSlice(r, n*k)
			var bias []float32
			if i%2 == 0 {
				bias = randSlice(r, n)
			}
			at := func(o, q int) uint16 { return roundBF16(w[o*k+q]) }
			got, want := make([]float32, m*n), make([]float32, m*n)
			p.MatMulBF16(got, a, m, packBF16(ks, n, k, at), bias, nil)
			p.MatMulBF16(want, a, m, packBF16(goBF16, n, k, at), bias, nil)
			for c := range got {
				if math.Float32bits(got[c]) != math.Float32bits(want[c]) {
					t.Fatalf("%s m=%d k=%d n=%d: C[%d,%d] = %g, the Go kernel %g", ks.name, m, k, n, c/n, c%n, got[c], want[c])
				}
			}
		}
	}
}

// TestLowpPlanCoversEveryTileOnce checks the task cuts of the bf16/int8
// products directly: every row of every panel belongs to exactly one task.
func TestLowpPlanCoversEveryTileOnce(t *testing.T) {
	r := newRand(t)
	for i := range 300 {
		m, steps, n := 1+r.Intn(3000), 1+r.Intn(2000), 1+r.Intn(3000)
		threads := 1 + r.Intn(9)
		mr := lowMR // the AVX-512 kernels' tiles, or AMX's blocks
		if i%2 == 1 {
			mr = amxMR
		}
		j := &lowpJob{m: m, n: n, steps: steps, lda: steps + lowAPad}
		tasks := j.plan(threads, mr)
		panels := (n + lowNR - 1) / lowNR
		seen := make([]int, m*panels)
		for task := 0; task < tasks; task++ {
			r0, p0 := (task/j.groups)*j.rowStep, (task%j.groups)*j.panStep
			if j.rowStep%mr != 0 {
				t.Fatalf("rows per task %d: not whole tiles", j.rowStep)
			}
			for i := r0; i < min(r0+j.rowStep, m); i++ {
				for p := p0; p < min(p0+j.panStep, panels); p++ {
					seen[i*panels+p]++
				}
			}
		}
		for cell, s := range seen {
			if s != 1 {
				t.Fatalf("m=%d steps=%d n=%d threads=%d (rows %d, panels %d, groups %d, tasks %d): row %d panel %d in %d tasks",
					m, steps, n, threads, j.rowStep, j.panStep, j.groups, tasks, cell/panels, cell%panels, s)
			}
		}
	}
}
