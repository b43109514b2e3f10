package gemm

import (
	"fmt"
	"math"
	"math/bits"
	"unsafe"
)

// The reduced-precision products (bf16.go, int8.go) share this driver. Their
// micro-tiles are 14 rows x 32 columns, like the AVX-512 fp32 kernel's, and
// each k step reads one 32-bit group of a row of A (two bf16 or four bytes)
// and 32 such groups of the packed weight (128 bytes). A is converted once
// per call, in parallel, into the pool's buffer (phase prepare); then the
// product runs as tasks of row blocks x panel groups (phase multiply).

// bf16Kernel computes a rows x 32 tile of C from k pairs; see gen_lowp.go.
type bf16Kernel func(k int, a *uint32, lda int, b *uint32, c *float32, ldc int, bias *float32, init int, mask int)

// int8Kernel computes a rows x 32 tile of C from k groups of four bytes;
// see gen_lowp.go for flags.
type int8Kernel func(k int, a *uint32, lda int, b *uint32, c *float32, ldc int, colsum *int32, sw *float32, bias *float32, rs *float32, rz *int32, flags int, mask int)

const (
	lowMR = 14 // rows per micro-tile, every implementation
	lowNR = 32 // columns per micro-tile and per weight panel

	// lowKC is the k block in 32-bit groups: a weight block is lowKC x 128
	// bytes = 16 KiB, half of Zen 4's L1, so that it stays there while
	// the row tiles of a block pass over it.
	lowKC = 128

	// lowAPad groups (64 bytes) pad each converted row of A, so that the
	// rows of a tile do not share L1 sets when k is a power of two.
	lowAPad = 16

	// lowABudget bytes of converted A rows per block: half of L2, so that
	// a block stays there while it is swept over a group of panels.
	lowABudget = 512 << 10

	amxMR    = 32  // rows per AMX block (two A tiles of 16)
	amxKG    = 16  // k groups per AMX step (the rows of a B tile)
	amxKC    = 128 // k groups per AMX k block (see doAMX)
	amxChunk = 32  // panels per AMX chunk: 32 k blocks of 16 KiB, in L2

	// how an AMX call starts its accumulators
	amxZero = 0
	amxBias = 1 // from the bias, every row the same
	amxAcc  = 2 // from C, the sums of the k blocks before

	// flags of the int8 kernels
	int8First = 1
	int8Last  = 2
)

// tasker is work the pool hands out as numbered tasks (see runTasks).
type tasker interface{ do(t int, s *scratch) }

// runTasks runs do(0..tasks-1) on up to threads of p's workers, the caller
// included; p.mu must be held.
func (p *Pool) runTasks(threads, tasks int, tk tasker) {
	if tasks <= 0 {
		return
	}
	j := &p.j
	j.tasker, j.tasks = tk, tasks
	j.next.Store(0)
	helpers := min(threads, tasks) - 1
	for w := 1; w <= helpers; w++ {
		p.start[w] <- j
	}
	j.run(p.bufs[0])
	for range helpers {
		<-p.done
	}
	j.tasker = nil
}

// lowpState is a pool's memory for the reduced-precision products, kept
// between calls so that a steady state allocates nothing.
type lowpState struct {
	a   []uint32  // A converted, rows lda groups apart
	rs  []float32 // int8: each row's scale
	rz  []int32   // int8: minus each row's zero point
	job lowpJob
}

// lowpJob is one MatMulBF16 or MatMulInt8.
type lowpJob struct {
	c, src []float32
	m      int
	bias   []float32
	epi    Epilogue
	bf     *PackedBF16 // one of bf, i8 is set
	i8     *PackedInt8
	st     *lowpState
	lda    int // groups per converted row of A
	steps  int // k groups per row (pairs or quads)
	n, k   int
	kc     int // k block, groups

	prepare  bool // phase: converting A (true) or multiplying
	prepStep int  // rows per prepare task

	rowStep, panStep, groups int
}

func (j *lowpJob) do(t int, s *scratch) {
	if j.prepare {
		r0 := t * j.prepStep
		r1 := min(r0+j.prepStep, j.m)
		if j.bf != nil {
			for i := r0; i < r1; i++ {
				row := j.st.a[i*j.lda : i*j.lda+j.steps]
				j.bf.kern.cvt(row, j.src[i*j.k:(i+1)*j.k])
				clear(row[(j.k+1)/2:]) // the AMX steps' zero padding
			}
		} else {
			for i := r0; i < r1; i++ {
				j.st.rs[i], j.st.rz[i] = j.i8.kern.quant(j.st.a[i*j.lda:i*j.lda+j.steps], j.src[i*j.k:(i+1)*j.k])
			}
		}
		return
	}
	if j.onAMX() {
		j.doAMX(t, s)
		return
	}
	panels := (j.n + lowNR - 1) / lowNR
	r0 := (t / j.groups) * j.rowStep
	r1 := min(r0+j.rowStep, j.m)
	p0 := (t % j.groups) * j.panStep
	p1 := min(p0+j.panStep, panels)
	a, c, n, lda := j.st.a, j.c, j.n, j.lda
	for jp := p0; jp < p1; jp++ {
		col := jp * lowNR
		mask := 1<<min(lowNR, n-col) - 1
		panel := jp * j.steps * lowNR
		for pc := 0; pc < j.steps; pc += j.kc {
			kc := min(j.kc, j.steps-pc)
			if j.bf != nil {
				w := j.bf
				init := initC
				var bp *float32
				if pc == 0 {
					init = initZero
					if j.bias != nil {
						init, bp = initBias, &j.bias[col]
					}
				}
				for ir := r0; ir < r1; ir += lowMR {
					w.kern.byRows[min(lowMR, r1-ir)-1](kc, &a[ir*lda+pc], lda, &w.data[panel+pc*lowNR], &c[ir*n+col], n, bp, init, mask)
				}
			} else {
				w := j.i8
				flags := 0
				if pc == 0 {
					flags |= int8First
				}
				if pc+kc == j.steps {
					flags |= int8Last
				}
				bias := &w.zero[col]
				if j.bias != nil {
					bias = &j.bias[col]
				}
				for ir := r0; ir < r1; ir += lowMR {
					w.kern.byRows[min(lowMR, r1-ir)-1](kc, &a[ir*lda+pc], lda, &w.data[panel+pc*lowNR], &c[ir*n+col], n,
						&w.colsum[col], &w.scale[col], bias, &j.st.rs[ir], &j.st.rz[ir], flags, mask)
				}
			}
		}
		if j.epi != nil {
			j.epi(c, n, r0, r1, col, min(col+lowNR, n))
		}
	}
}

// onAMX says whether the job's weight was packed for an AMX set.
func (j *lowpJob) onAMX() bool {
	return (j.bf != nil && j.bf.kern.amx) || (j.i8 != nil && j.i8.kern.amx)
}

// doAMX is task t of a bf16 or int8 product on AMX tiles. Whole blocks (32
// rows, 32 live columns) are computed in place in C, k block by k block:
// a k block of 32 rows of A (amxKC groups, 16 KiB) stays in L1 while one
// call sweeps it over a chunk of panels, and the chunk's k blocks stay in
// L2 while the row strips pass over them. Ragged blocks (the last rows of
// the task, the last panel's columns) take the whole k in one call through
// s.tile. int8 sums are int32 in C's memory until amxDequant turns them
// into floats, as the VNNI kernels' last k block does.
func (j *lowpJob) doAMX(t int, s *scratch) {
	panels := (j.n + lowNR - 1) / lowNR
	r0 := (t / j.groups) * j.rowStep
	r1 := min(r0+j.rowStep, j.m)
	p0 := (t % j.groups) * j.panStep
	p1 := min(p0+j.panStep, panels)
	n, lda, steps, i8 := j.n, j.lda, j.steps, j.i8
	var data []uint32
	if i8 != nil {
		data = i8.data
	} else {
		data = j.bf.data
	}
	full := p1 // panels [p0, full) have 32 live columns
	if p1*lowNR > n {
		full = p1 - 1
	}
	strips := r0 + (r1-r0)/amxMR*amxMR // rows [r0, strips) are whole strips
	pstride := 4 * steps * lowNR
	call := func(a, b *uint32, c unsafe.Pointer, ldc int, bias *float32, k16, npan, mode int) {
		if i8 != nil {
			amxU8S8(&amxCfg, a, 4*lda, b, pstride, (*int32)(c), ldc, nil, 0, k16, npan, mode)
		} else {
			amxBF16(&amxCfg, a, 4*lda, b, pstride, (*float32)(c), ldc, bias, 4*lowNR, k16, npan, mode)
		}
	}
	for q0 := p0; q0 < full; q0 += amxChunk {
		q1 := min(q0+amxChunk, full)
		for pc := 0; pc < steps; pc += amxKC {
			mode := amxAcc
			var bp *float32
			if pc == 0 {
				mode = amxZero
				if i8 == nil && j.bias != nil {
					mode, bp = amxBias, &j.bias[q0*lowNR]
				}
			}
			k16 := min(amxKC, steps-pc) / amxKG
			for ir := r0; ir < strips; ir += amxMR {
				call(&j.st.a[ir*lda+pc], &data[q0*steps*lowNR+pc*lowNR], unsafe.Pointer(&j.c[ir*n+q0*lowNR]), 4*n, bp, k16, q1-q0, mode)
			}
		}
	}
	// int8's bias where there is none, and a ragged panel's padded to 32
	biasAt := func(col, cols int) *float32 {
		switch {
		case j.bias == nil:
			return &i8.zero[col]
		case cols == lowNR:
			return &j.bias[col]
		}
		copy(s.bias[:cols], j.bias[col:col+cols])
		clear(s.bias[cols:lowNR])
		return &s.bias[0]
	}
	tile := unsafe.Pointer(&s.tile[0])
	for ir := r0; ir < r1; ir += amxMR {
		rows := min(amxMR, r1-ir)
		if i8 != nil && rows == amxMR {
			for jp := p0; jp < full; jp++ {
				cp := &j.c[ir*n+jp*lowNR]
				amxDequant((*int32)(unsafe.Pointer(cp)), 4*n, cp, 4*n, amxMR, &i8.colsum[jp*lowNR], &i8.scale[jp*lowNR], biasAt(jp*lowNR, lowNR), &j.st.rs[ir], &j.st.rz[ir], 1<<lowNR-1)
			}
		}
		from := full
		if rows < amxMR {
			from = p0
		}
		for jp := from; jp < p1; jp++ {
			col := jp * lowNR
			cols := min(lowNR, n-col)
			b := &data[jp*steps*lowNR]
			if i8 != nil {
				call(&j.st.a[ir*lda], b, tile, 4*lowNR, nil, steps/amxKG, 1, amxZero)
				amxDequant((*int32)(tile), 4*lowNR, &j.c[ir*n+col], 4*n, rows, &i8.colsum[col], &i8.scale[col], biasAt(col, cols), &j.st.rs[ir], &j.st.rz[ir], 1<<cols-1)
				continue
			}
			mode := amxZero
			var bp *float32
			if j.bias != nil {
				mode, bp = amxBias, biasAt(col, cols)
			}
			call(&j.st.a[ir*lda], b, tile, 4*lowNR, bp, steps/amxKG, 1, mode)
			for i := range rows {
				copy(j.c[(ir+i)*n+col:(ir+i)*n+col+cols], s.tile[i*lowNR:i*lowNR+cols])
			}
		}
		if j.epi != nil {
			j.epi(j.c, n, ir, ir+rows, p0*lowNR, min(p1*lowNR, n))
		}
	}
}

// matMulLowp checks the shapes of job and runs it on p: MatMulBF16 and
// MatMulInt8.
func (p *Pool) matMulLowp(job lowpJob) {
	fn := "MatMulBF16"
	if job.i8 != nil {
		fn = "MatMulInt8"
	}
	if m := job.m; m < 0 || len(job.src) < m*job.k || len(job.c) < m*job.n || (job.bias != nil && len(job.bias) < job.n) {
		panic(fmt.Sprintf("gemm: %s: m=%d W=[%d %d]: len(a)=%d len(c)=%d len(bias)=%d",
			fn, m, job.n, job.k, len(job.src), len(job.c), len(job.bias)))
	}
	if job.m == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.threads == 0 {
		panic("gemm: " + fn + " on a closed Pool")
	}
	j := &p.low.job
	*j = job
	st := &p.low
	j.st = st
	j.lda = j.steps + lowAPad
	mr := lowMR
	if j.onAMX() {
		mr = amxMR // the tiles read whole blocks of 32 rows
	}
	if need := (j.m + mr - 1) / mr * mr * j.lda; len(st.a) < need {
		st.a = make([]uint32, need+need/4) // grows a few times, then never
	}
	if j.i8 != nil && len(st.rs) < j.m {
		st.rs = make([]float32, j.m+j.m/4+lowMR)
		st.rz = make([]int32, len(st.rs))
	}
	threads := p.threads
	if 2*j.m*j.k*j.n < minParallelFlops {
		threads = 1
	}
	// Phase 1: A, converted row by row. Below a few thousand elements
	// per worker, waking one costs more than it saves.
	j.prepare = true
	prepThreads := threads
	if j.m*j.k < 1<<14 {
		prepThreads = 1
	}
	j.prepStep = max(1, (j.m+4*prepThreads-1)/(4*prepThreads))
	p.runTasks(prepThreads, (j.m+j.prepStep-1)/j.prepStep, j)
	// Phase 2: the product.
	j.prepare = false
	nb := (j.steps + lowKC - 1) / lowKC
	j.kc = (j.steps + nb - 1) / nb
	tasks := j.plan(threads, mr)
	p.runTasks(threads, tasks, j)
	j.c, j.src, j.bias, j.epi, j.bf, j.i8, j.st = nil, nil, nil, nil, nil, nil, nil
}

// plan cuts the product into row blocks (whose converted A fits half of L2)
// of whole tiles of mr rows times panel groups, enough tasks for every
// thread to take a few (a shared machine runs threads at unequal speeds),
// and returns their number.
func (j *lowpJob) plan(threads, mr int) int {
	panels := (j.n + lowNR - 1) / lowNR
	rowTiles := (j.m + mr - 1) / mr
	budget := lowABudget
	if mr == amxMR {
		budget *= 2 // AMX: longer strips over each chunk of weights (see doAMX)
	}
	capTiles := min(max(budget/(4*j.lda)/mr, 1), 12)
	rb := (rowTiles + capTiles - 1) / capTiles
	ng := 1
	if threads > 1 {
		want := 4 * threads
		ng = min(panels, max(1, (want+rb-1)/rb))
		for rb*ng < want && rb < rowTiles {
			rb++
		}
	}
	tr := (rowTiles + rb - 1) / rb
	j.rowStep = tr * mr
	rb = (rowTiles + tr - 1) / tr
	j.panStep = (panels + ng - 1) / ng
	j.groups = (panels + j.panStep - 1) / j.panStep
	return rb * j.groups
}

// cvtPS2DQ converts x to int32 as VCVTPS2DQ does under the default MXCSR:
// round to nearest even, and the "integer indefinite" MinInt32 for NaN and
// values out of range.
func cvtPS2DQ(x float32) int32 {
	r := math.RoundToEven(float64(x))
	if !(r >= math.MinInt32 && r <= math.MaxInt32) {
		return math.MinInt32
	}
	return int32(r)
}

// liveCols is the number of columns a kernel mask covers (its low bits).
func liveCols(mask int) int { return bits.OnesCount32(uint32(mask)) }
