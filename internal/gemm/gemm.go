// Package gemm is crossrank's float32 matrix multiply for the CPU: the
// product of a batch of activations with a torch.nn.Linear weight,
// C = A·Wᵀ + bias, which is where nearly all of a transformer's time goes.
//
// A weight is packed once, at load, by PackWeight into panels laid out the
// way the micro-kernel reads them; MatMul then multiplies by it on all cores
// of a small persistent worker pool. The micro-kernels are Go assembly
// (AVX-512 or AVX2+FMA, chosen at run time from the CPU's features) with a
// portable Go kernel for other machines. Reference is the plain triple loop
// the tests compare every kernel against.
package gemm

//go:generate go run gen.go

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// microKernel computes one tile of C: rows x nr, where rows is fixed by the
// kernel and nr by its kernel set. a points at A's first row of the tile
// (lda floats between rows, k floats used per row), b at a packed panel
// (k steps of nr floats), c at the tile (ldc floats between rows). init 0
// starts from zero, 1 from bias (nr floats), 2 adds the product to C's
// current values (a later k block of the same tile).
// mask says which of the nr columns exist, 16 bits per 16 columns; kernels
// without masking (masked false) always read and write all nr columns.
type microKernel func(k int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32, init int, mask int)

const (
	initZero = iota
	initBias
	initC
)

// kernelSet is one implementation of the micro-kernel: its tile shape and a
// kernel per number of live rows (byRows[r-1] handles r rows).
type kernelSet struct {
	name   string
	mr, nr int
	masked bool // handles a ragged right edge itself (AVX-512 opmasks)
	byRows []microKernel
}

// PackedB is a weight W of out x in (torch's Linear layout), packed for one
// kernel set: panel j holds output columns j*nr .. j*nr+nr-1 as `in` steps of
// nr contiguous floats, zero-padded past `out`. It is read-only after
// PackWeight and safe to share between goroutines.
type PackedB struct {
	Out, In int
	ks      *kernelSet
	data    []float32
}

// PackWeight packs w, a torch.nn.Linear weight stored [out, in] row-major,
// for MatMul on this machine's fastest kernel. It panics if len(w) is not
// out*in: weights are checked when they are loaded, before they get here.
func PackWeight(w []float32, out, in int) *PackedB {
	return packWeight(defaultKernels, w, out, in)
}

func packWeight(ks *kernelSet, w []float32, out, in int) *PackedB {
	if out <= 0 || in <= 0 || len(w) != out*in {
		panic(fmt.Sprintf("gemm: PackWeight: %d floats for a weight of [%d %d]", len(w), out, in))
	}
	nr := ks.nr
	panels := (out + nr - 1) / nr
	data := make([]float32, panels*in*nr)
	for j := 0; j < panels; j++ {
		dst := data[j*in*nr : (j+1)*in*nr]
		for c := 0; c < nr && j*nr+c < out; c++ {
			src := w[(j*nr+c)*in : (j*nr+c+1)*in]
			for kk, v := range src {
				dst[kk*nr+c] = v
			}
		}
	}
	return &PackedB{Out: out, In: in, ks: ks, data: data}
}

// Kernel names the micro-kernel b was packed for ("avx512", "avx2", "go").
func (b *PackedB) Kernel() string { return b.ks.name }

// Reference computes C = A·Wᵀ + bias with the plain triple loop, in float64
// for the sum: A is m x k, W is n x k (torch's Linear layout), C is m x n,
// all row-major; bias (n floats) may be nil. It is the oracle the fast path
// is tested against.
func Reference(c, a []float32, m, k, n int, w []float32, bias []float32) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			if bias != nil {
				s = float64(bias[j])
			}
			for p := 0; p < k; p++ {
				s += float64(a[i*k+p]) * float64(w[j*k+p])
			}
			c[i*n+j] = float32(s)
		}
	}
}

// Blocking. A worker copies kc columns of mc rows of A at a time into its
// own buffer (rows kc+aPad floats apart, so that rows do not alias in the L1
// cache when k is a multiple of 256) unless A's own rows do not alias, and
// sweeps its weight panels over that block while it sits in L2 (168 x 272
// floats = 180 KiB of a 1 MiB L2). kc = 256 makes one weight micro-panel
// (kc x 32 floats) 32 KiB, the size of Zen 4's L1, so that it stays there
// while the block's row tiles pass over it: in BenchmarkSweep (weights
// streamed from L3) kc 128-256 ran at 95-100% of the core's FMA peak and
// kc 384-512 at 88-90%. They are variables so that a benchmark can try
// others (pools allocate their buffers for the values current when they
// start).
var (
	kcMax = 256
	mcMax = 168 // a multiple of every kernel's mr (14, 6 and 4)
)

// aPad floats are added to each copied row of A: 16 floats (one cache line)
// put consecutive rows in different L1 sets even when kc is a power of two.
const aPad = 16

// Epilogue is called by a worker on a finished block of C, rows r0..r1-1 and
// columns c0..c1-1 (C is row-major with ldc floats per row), while the block
// is still in cache: the place to fuse an activation into the GEMM. It runs
// on several goroutines at once, on disjoint blocks.
type Epilogue func(c []float32, ldc, r0, r1, c0, c1 int)

// job is one MatMul split over the pool into tasks, each a block of rows
// times a group of weight panels; workers claim tasks in order from next, so
// a worker that the scheduler (or a neighbour on a shared machine) slows
// down takes fewer of them.
type job struct {
	c, a    []float32
	m       int
	b       *PackedB
	bias    []float32
	epi     Epilogue
	rowStep int // rows per task, a multiple of mr
	panStep int // panels per task
	groups  int // panel groups: task t is row block t/groups, group t%groups
	tasks   int
	next    atomic.Int64
}

// run claims and does tasks until none is left; s is the worker's memory.
func (j *job) run(s *scratch) {
	nr := j.b.ks.nr
	panels := (j.b.Out + nr - 1) / nr
	for {
		t := int(j.next.Add(1) - 1)
		if t >= j.tasks {
			return
		}
		r0 := (t / j.groups) * j.rowStep
		p0 := (t % j.groups) * j.panStep
		gemmBlock(j.c, j.a, r0, min(r0+j.rowStep, j.m), p0, min(p0+j.panStep, panels), j.b, j.bias, j.epi, s)
	}
}

// plan cuts the job into tasks for threads workers (finish has room for
// threads floats). It estimates the time of each cut by handing its tasks,
// in order, to whichever worker is free first, as run does, in units of one
// row tile swept over one panel; a task also pays for copying its rows of A
// (a quarter of a panel's sweep, unless A is read in place) and for
// fetching each of its weight panels from L3 (weightCost per panel), which
// favours fewer, larger tasks. Among near-equal cuts it takes the one with
// more tasks, which balances better when the threads do not run at equal
// speed (a shared machine, concurrent requests).
func (j *job) plan(threads int, finish []float64) {
	mr, nr := j.b.ks.mr, j.b.ks.nr
	panels := (j.b.Out + nr - 1) / nr
	rowTiles := (j.m + mr - 1) / mr
	_, _, rowCap := blocking(j.b.In, mr)
	mcTiles := rowCap / mr
	base := (rowTiles + mcTiles - 1) / mcTiles // row blocks that fit the A buffer
	if threads == 1 {
		j.rowStep, j.panStep, j.groups = mcTiles*mr, panels, 1
		j.tasks = base
		return
	}
	const weightCost = 0.3
	copyCost := 0.25
	if directA(j.b.In, mr) {
		copyCost = 0.02
	}
	maxTasks := max(base, 8*threads)
	best, prev := -1.0, 0
	for nrb := base; nrb <= min(rowTiles, maxTasks); nrb++ {
		tr := (rowTiles + nrb - 1) / nrb
		if tr == prev {
			continue // the same row blocks as the last nrb
		}
		prev = tr
		rb := (rowTiles + tr - 1) / tr
		for ng := 1; ng <= min(panels, 16) && (ng == 1 || rb*ng <= maxTasks); ng++ {
			g := (panels + ng - 1) / ng
			gs := (panels + g - 1) / g
			if ng > 1 && gs == (panels+((panels+ng-2)/(ng-1))-1)/((panels+ng-2)/(ng-1)) {
				continue // the same groups as ng-1
			}
			clear(finish)
			for t := 0; t < rb*gs; t++ {
				rows := min(tr, rowTiles-(t/gs)*tr)
				pans := min(g, panels-(t%gs)*g)
				w := 0
				for i := range finish {
					if finish[i] < finish[w] {
						w = i
					}
				}
				finish[w] += float64(rows)*(float64(pans)+copyCost) + weightCost*float64(pans)
			}
			span := 0.0
			for _, f := range finish {
				span = max(span, f)
			}
			if ratio := float64(rb*gs) / float64(threads); ratio < 3 {
				span *= 1 + 0.02*(3-ratio)
			}
			if best < 0 || span < best {
				best = span
				j.rowStep, j.panStep, j.groups, j.tasks = tr*mr, g, gs, rb*gs
			}
		}
	}
}

// directA reports whether the kernel can read A in place, k floats per row:
// when no L1 set holds more than two of a micro-tile's mr rows. Otherwise
// (k a multiple of 256 floats, say) the rows would evict each other, and
// gemmBlock copies them to a padded buffer first.
func directA(k, mr int) bool {
	var perSet [64]int
	for r := 0; r < mr; r++ {
		s := (r * k * 4 / 64) % 64
		if perSet[s]++; perSet[s] > 2 {
			return false
		}
	}
	return true
}

// gemmBlock computes rows r0..r1-1 and panels p0..p1-1 of C.
//
// Every k block of a C tile reads and writes the tile once, so the k loop
// runs innermost where it can: k is cut into chunks whose rows of A, for a
// block of at least 8 row tiles, fit the worker's buffer (half of L2), and
// within a chunk each tile runs through all its k blocks while it stays in
// cache. Layers with k up to about 1150 are one chunk, and a tile is done
// (and handed to the epilogue) in one go; wider ones make a pass over C per
// chunk rather than per k block.
func gemmBlock(c, a []float32, r0, r1, p0, p1 int, b *PackedB, bias []float32, epi Epilogue, s *scratch) {
	k, mr, nr := b.In, b.ks.mr, b.ks.nr
	kc, chunk, rowCap := blocking(k, mr)
	direct := directA(k, mr)
	for c0 := 0; c0 < k; c0 += chunk {
		cl := min(chunk, k-c0)
		last := c0+cl == k
		for ic := r0; ic < r1; ic += rowCap {
			mc := min(rowCap, r1-ic)
			ab, lda := a[ic*k+c0:], k
			if !direct {
				lda = cl + aPad
				for i := 0; i < mc; i++ {
					copy(s.a[i*lda:i*lda+cl], a[(ic+i)*k+c0:(ic+i)*k+c0+cl])
				}
				ab = s.a
			}
			for jp := p0; jp < p1; jp++ {
				for pc := c0; pc < c0+cl; pc += kc {
					sweep(c, ab[pc-c0:], lda, ic, mc, jp, pc, min(kc, c0+cl-pc), b, bias, s)
				}
				if last && epi != nil {
					col := jp * nr
					epi(c, b.Out, ic, ic+mc, col, min(col+nr, b.Out))
				}
			}
		}
	}
}

// sweep runs the micro-kernel down rows ic..ic+mc-1 of panel jp for the k
// block pc..pc+kc-1; ab holds those rows of A from column pc on, lda apart.
func sweep(c, ab []float32, lda, ic, mc, jp, pc, kc int, b *PackedB, bias []float32, s *scratch) {
	ks := b.ks
	k, n, nr, mr := b.In, b.Out, ks.nr, ks.mr
	col := jp * nr
	cols := min(nr, n-col)
	panel := b.data[jp*k*nr+pc*nr:]
	init := initC
	var bp *float32
	if pc == 0 {
		init = initZero
		if bias != nil {
			init = initBias
			bp = &bias[col]
		}
	}
	mask := 1<<cols - 1
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		kern := ks.byRows[rows-1]
		if cols == nr || ks.masked {
			kern(kc, &ab[ir*lda], lda, &panel[0], &c[(ic+ir)*n+col], n, bp, init, mask)
			continue
		}
		// Ragged right edge on a kernel that writes whole tiles: go
		// through a full-width tile and copy the live columns.
		tile := s.tile[:]
		tbias := bp
		if init == initBias {
			copy(s.bias[:], bias[col:col+cols])
			tbias = &s.bias[0]
		}
		if init == initC {
			for i := 0; i < rows; i++ {
				copy(tile[i*nr:i*nr+cols], c[(ic+ir+i)*n+col:(ic+ir+i)*n+col+cols])
			}
		}
		kern(kc, &ab[ir*lda], lda, &panel[0], &tile[0], nr, tbias, init, mask)
		for i := 0; i < rows; i++ {
			copy(c[(ic+ir+i)*n+col:(ic+ir+i)*n+col+cols], tile[i*nr:i*nr+cols])
		}
	}
}

// aBudget is the size of a worker's A buffer in floats (512 KiB, half of
// L2).
const aBudget = 128 << 10

// blocking returns the k block kc (k cut into equal blocks of at most
// kcMax, so that none is a short remainder), the chunk of k whose A rows a
// block holds (a whole number of k blocks, chunks as equal as they can be),
// and the rows in a block: at least 8 row tiles, so that each weight
// micro-panel brought in from L3 serves 8 tiles, and at most mcMax.
func blocking(k, mr int) (kc, chunk, rows int) {
	nb := (k + kcMax - 1) / kcMax
	kc = (k + nb - 1) / nb
	perChunk := max((aBudget/(8*mr)-aPad)/kc, 1) // k blocks a chunk may hold
	chunks := (nb + perChunk - 1) / perChunk
	chunk = (nb + chunks - 1) / chunks * kc
	rows = min(mcMax, aBudget/(min(chunk, k)+aPad)/mr*mr)
	return kc, chunk, max(rows, mr)
}

// scratch is a worker's memory, allocated once with the pool.
type scratch struct {
	a    []float32        // the copied block of A (see blocking)
	tile [16 * 64]float32 // a ragged tile for kernels without masks (mr*nr <= 16*64)
	bias [64]float32      // its bias, padded to nr
}

func newScratch() *scratch {
	return &scratch{a: make([]float32, max(aBudget, mcMax*(kcMax+aPad)))}
}

// MatMul computes C = A·Wᵀ + bias on the default pool (all of GOMAXPROCS):
// A is m x b.In, C is m x b.Out, both row-major; bias (b.Out floats) may be
// nil. It panics if a slice is shorter than its shape says.
func MatMul(c, a []float32, m int, b *PackedB, bias []float32) {
	Default().MatMul(c, a, m, b, bias, nil)
}

func checkShapes(c, a []float32, m int, b *PackedB, bias []float32) {
	if m < 0 || len(a) < m*b.In || len(c) < m*b.Out || (bias != nil && len(bias) < b.Out) {
		panic(fmt.Sprintf("gemm: MatMul: m=%d W=[%d %d]: len(a)=%d len(c)=%d len(bias)=%d",
			m, b.Out, b.In, len(a), len(c), len(bias)))
	}
}

// f32ptr is &s[0] for a slice known not to be empty.
func f32ptr(s []float32) *float32 { return (*float32)(unsafe.Pointer(unsafe.SliceData(s))) }
