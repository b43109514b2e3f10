package gemm

import (
	"runtime"
	"sync"
)

// Pool is a set of worker goroutines that share each MatMul: the caller's
// goroutine works too, so a pool of n threads wakes n-1 workers per call.
// Workers are started once and wait on a channel between calls, so a MatMul
// spawns nothing and allocates nothing. Calls on one Pool run one at a time
// (each already uses every thread); a Pool is safe for concurrent use.
type Pool struct {
	mu      sync.Mutex
	threads int
	bufs    []*scratch  // each worker's memory; bufs[0] is the caller's
	start   []chan *job // start[w] wakes worker w (w >= 1)
	done    chan struct{}
	j       job
}

// minParallelFlops is the smallest product worth splitting: below it, waking
// a worker (a few microseconds) costs more than the second core saves.
const minParallelFlops = 1 << 21

// NewPool starts a pool of threads workers (including the caller), at least 1.
func NewPool(threads int) *Pool {
	threads = max(threads, 1)
	p := &Pool{threads: threads, done: make(chan struct{}, threads)}
	p.bufs = make([]*scratch, threads)
	p.start = make([]chan *job, threads)
	for w := range threads {
		p.bufs[w] = newScratch()
		if w > 0 {
			p.start[w] = make(chan *job, 1)
			go p.worker(w)
		}
	}
	return p
}

func (p *Pool) worker(w int) {
	for j := range p.start[w] {
		j.run(w, p.bufs[w])
		p.done <- struct{}{}
	}
}

// Close stops the pool's workers; the pool must not be used after it.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for w := 1; w < p.threads; w++ {
		close(p.start[w])
	}
	p.threads = 0
}

// Threads is the number of threads a MatMul on p uses at most.
func (p *Pool) Threads() int { return p.threads }

var (
	defaultOnce sync.Once
	defaultPool *Pool
)

// Default is the pool MatMul uses: GOMAXPROCS threads, started on first use.
func Default() *Pool {
	defaultOnce.Do(func() { defaultPool = NewPool(runtime.GOMAXPROCS(0)) })
	return defaultPool
}

// MatMul computes C = A·Wᵀ + bias on p's threads: A is m x b.In, C is
// m x b.Out, both row-major; bias (b.Out floats) may be nil. If epi is not
// nil it is called on each finished block of C (see Epilogue). It panics if
// a slice is shorter than its shape says.
func (p *Pool) MatMul(c, a []float32, m int, b *PackedB, bias []float32, epi Epilogue) {
	checkShapes(c, a, m, b, bias)
	if m == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	j := &p.j
	*j = job{c: c, a: a, m: m, b: b, bias: bias, epi: epi}
	nw := p.threads
	if 2*m*b.In*b.Out < minParallelFlops {
		nw = 1
	}
	j.split(nw)
	for w := 1; w < j.pm*j.pn; w++ {
		p.start[w] <- j
	}
	j.run(0, p.bufs[0])
	for w := 1; w < j.pm*j.pn; w++ {
		<-p.done
	}
	*j = job{} // drop the references to the caller's slices
}

// split chooses how nw workers divide the tiles: pm parts along M times pn
// along N, the grid with the smallest largest share (counted in whole
// micro-tiles, so that a ragged share is charged for its padding), and
// among equals the one with most parts along M, whose workers copy the
// fewest rows of A.
func (j *job) split(nw int) {
	mr, nr := j.b.ks.mr, j.b.ks.nr
	panels := (j.b.Out + nr - 1) / nr
	rowTiles := (j.m + mr - 1) / mr
	best := -1
	for pm := nw; pm >= 1; pm-- {
		pn := nw / pm
		rt := (rowTiles + pm - 1) / pm
		pt := (panels + pn - 1) / pn
		cost := rt * pt
		if best < 0 || cost < best {
			best = cost
			j.pm, j.pn = pm, pn
			j.rowStep, j.panStep = rt*mr, pt
		}
	}
}
