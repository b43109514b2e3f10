//go:build amd64 && !purego

package gemm

import (
	"math"
	"math/rand"
	"runtime"
	"testing"
	"unsafe"
)

// TestAMXBF16Shapes runs the AMX bf16 product on the models' shapes and on
// ragged ones (m, k, n not multiples of 32, 32 and 32), with and without
// bias and an epilogue, on one and two threads, against ReferenceBF16: the
// products of bf16 values are exact in float32, so the kernel differs from
// the float64 reference only by its float32 additions, held to the same
// probabilistic bound as TestMatMulBF16RandomShapes (4·sqrt(k+1)·2^-24 of
// the sum of the products' magnitudes).
func TestAMXBF16Shapes(t *testing.T) {
	if ok, why := amxUsable(); !ok {
		t.Skip("no AMX here: " + why)
	}
	r := newRand(t)
	pools := []*Pool{NewPool(1), NewPool(2)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	for i, s := range amxTestShapes(r) {
		m, k, n := s[0], s[1], s[2]
		a, w := randSlice(r, m*k), randSlice(r, n*k)
		var bias []float32
		if i%2 == 0 {
			bias = randSlice(r, n)
		}
		pw := packBF16(amxBF16Set, n, k, func(o, q int) uint16 { return roundBF16(w[o*k+q]) })
		if pw.steps%amxKG != 0 {
			t.Fatalf("k=%d: %d steps, not whole AMX steps", k, pw.steps)
		}
		want := make([]float32, m*n)
		ReferenceBF16(want, a, m, k, n, w, bias)
		var epi Epilogue
		if i%3 == 1 {
			epi = doubleBlocks
			for x := range want {
				want[x] *= 2
			}
		}
		got := make([]float32, m*n)
		for x := range got {
			got[x] = float32(math.NaN())
		}
		pools[i%2].MatMulBF16(got, a, m, pw, bias, epi)
		const eps = 1.0 / (1 << 24)
		for ii := 0; ii < m; ii++ {
			for j := 0; j < n; j++ {
				var mag float64
				for q := 0; q < k; q++ {
					mag += math.Abs(float64(bf16ToF32(roundBF16(a[ii*k+q]))) * float64(bf16ToF32(roundBF16(w[j*k+q]))))
				}
				if bias != nil {
					mag += math.Abs(float64(bias[j]))
				}
				if epi != nil {
					mag *= 2
				}
				tol := 4*math.Sqrt(float64(k)+1)*eps*mag + 1e-30
				if g, e := float64(got[ii*n+j]), float64(want[ii*n+j]); !(math.Abs(g-e) <= tol) {
					t.Fatalf("m=%d k=%d n=%d bias=%v epi=%v: C[%d,%d] = %g, want %g (tolerance %g)", m, k, n, bias != nil, epi != nil, ii, j, g, e, tol)
				}
			}
		}
	}
}

// amxTestShapes are the models' shapes and ragged ones (m, k, n not
// multiples of 32, 32 or 64, and 32; k odd and not a multiple of four).
func amxTestShapes(r *rand.Rand) [][3]int {
	shapes := [][3]int{{64, 384, 1536}, {77, 768, 768}, {300, 1024, 96}, {33, 1001, 130}, {31, 3072, 64}, {1, 17, 5}, {96, 64, 33 * 32}}
	for range 6 {
		shapes = append(shapes, [3]int{1 + r.Intn(200), 1 + r.Intn(1200), 1 + r.Intn(300)})
	}
	return shapes
}

// doubleBlocks is an epilogue that doubles each block it is given: a block
// missed or seen twice shows in C.
func doubleBlocks(c []float32, ldc, r0, r1, c0, c1 int) {
	for i := r0; i < r1; i++ {
		for j := c0; j < c1; j++ {
			c[i*ldc+j] *= 2
		}
	}
}

// TestAMXConfig pins the tile configuration the kernels assume: palette 1,
// eight tiles of 16 rows x 64 bytes.
func TestAMXConfig(t *testing.T) {
	if amxCfg[0] != 1 {
		t.Fatalf("palette %d", amxCfg[0])
	}
	for tile := range 8 {
		if cb, rows := int(amxCfg[16+2*tile])|int(amxCfg[17+2*tile])<<8, amxCfg[48+tile]; cb != 64 || rows != 16 {
			t.Fatalf("tile %d: %d bytes x %d rows", tile, cb, rows)
		}
	}
}

// TestAMXInt8Shapes: the int8 product's sums are integers, so the AMX
// kernel must give ReferenceInt8's bits exactly, on the models' shapes and
// ragged ones, with and without bias and an epilogue, on one and two
// threads.
func TestAMXInt8Shapes(t *testing.T) {
	if ok, why := amxUsable(); !ok {
		t.Skip("no AMX here: " + why)
	}
	r := newRand(t)
	pools := []*Pool{NewPool(1), NewPool(2)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	for i, s := range amxTestShapes(r) {
		m, k, n := s[0], s[1], s[2]
		a, w := randSlice(r, m*k), randSlice(r, n*k)
		if i%4 == 3 { // rows of one sign: a zero point at an end of the range
			for x := range a {
				a[x] = float32(math.Abs(float64(a[x])))
			}
		}
		var bias []float32
		if i%2 == 0 {
			bias = randSlice(r, n)
		}
		pw := packInt8(amxInt8Set, w, n, k)
		if pw.steps%amxKG != 0 {
			t.Fatalf("k=%d: %d steps, not whole AMX steps", k, pw.steps)
		}
		want := make([]float32, m*n)
		ReferenceInt8(want, a, m, k, n, w, bias)
		var epi Epilogue
		if i%3 == 1 {
			epi = doubleBlocks
			for x := range want {
				want[x] *= 2
			}
		}
		got := make([]float32, m*n)
		for x := range got {
			got[x] = float32(math.NaN())
		}
		pools[i%2].MatMulInt8(got, a, m, pw, bias, epi)
		for x := range got {
			if math.Float32bits(got[x]) != math.Float32bits(want[x]) {
				t.Fatalf("m=%d k=%d n=%d bias=%v epi=%v: C[%d,%d] = %g, the reference %g", m, k, n, bias != nil, epi != nil, x/n, x%n, got[x], want[x])
			}
		}
	}
}

// BenchmarkAMXKernel is the AMX kernels alone, one thread, on data that
// stays in L1 (a k block of 32 rows of A and one panel's) or L2 (16
// panels): the ceiling MatMulBF16 and MatMulInt8 can approach on this
// machine (BenchmarkLowp gives theirs on the models' shapes).
func BenchmarkAMXKernel(b *testing.B) {
	if ok, why := amxUsable(); !ok {
		b.Skip("no AMX here: " + why)
	}
	for _, c := range []struct {
		name       string
		npan, mode int
	}{{"L1", 1, amxZero}, {"L1-acc", 1, amxAcc}, {"L2", 16, amxZero}, {"L2-acc", 16, amxAcc}} {
		for _, prec := range []string{"bf16", "int8"} {
			b.Run(prec+"/"+c.name, func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				const kg = amxKC
				lda := kg + lowAPad
				a := make([]uint32, amxMR*lda)
				w := make([]uint32, c.npan*kg*lowNR)
				out := make([]float32, amxMR*lowNR*c.npan)
				for i := range a {
					a[i] = 0x3f803f80 // bf16 pairs (1, 1); bytes 0x80 and 0x3f
				}
				copy(w, a[:min(len(a), len(w))])
				for i := len(a); i < len(w); i++ {
					w[i] = 0x3f803f80
				}
				ldc := 4 * lowNR * c.npan
				b.ResetTimer()
				t0 := cpuTime()
				for range b.N {
					if prec == "bf16" {
						amxBF16(&amxCfg, &a[0], 4*lda, &w[0], 4*kg*lowNR, &out[0], ldc, nil, 0, kg/amxKG, c.npan, c.mode)
					} else {
						amxU8S8(&amxCfg, &a[0], 4*lda, &w[0], 4*kg*lowNR, (*int32)(unsafe.Pointer(&out[0])), ldc, nil, 0, kg/amxKG, c.npan, c.mode)
					}
				}
				ops := 2 * float64(amxMR*lowNR*c.npan) * float64(kg) * float64(b.N)
				if prec == "bf16" {
					ops *= 2 // two values per group
				} else {
					ops *= 4
				}
				b.ReportMetric(ops/(cpuTime()-t0).Seconds()/1e9, "GOP/s")
			})
		}
	}
}
