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
	finish  []float64 // plan's scratch
	shared  []float32 // A copied once for all tasks (see MatMul)
	j       job
	low     lowpState // the bf16 and int8 products' memory (lowp.go)
}

// minParallelFlops is the smallest product worth splitting: below it, waking
// a worker (a few microseconds) costs more than the second core saves.
const minParallelFlops = 1 << 21

// maxSharedA bounds the copy of A that MatMul makes once for all tasks
// (1 Mi floats, 4 MiB): past it the tasks are row blocks and copy their own.
const maxSharedA = 1 << 20

// NewPool starts a pool of threads workers (including the caller), at least 1.
func NewPool(threads int) *Pool {
	threads = max(threads, 1)
	p := &Pool{threads: threads, done: make(chan struct{}, threads), finish: make([]float64, threads)}
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
		j.run(p.bufs[w])
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
	if p.threads == 0 {
		panic("gemm: MatMul on a closed Pool")
	}
	j := &p.j
	j.c, j.a, j.m, j.b, j.bias, j.epi = c, a, m, b, bias, epi
	j.next.Store(0)
	threads := p.threads
	if 2*m*b.In*b.Out < minParallelFlops {
		threads = 1
	}
	j.plan(threads, p.finish)
	// When tasks split the columns, each would copy the same rows of A;
	// if A is small, the caller copies it once instead, for all of them.
	if k := b.In; j.groups > 1 && !directA(k, b.ks.mr) && m*(k+aPad) <= maxSharedA {
		lda := k + aPad
		if len(p.shared) < m*lda {
			p.shared = make([]float32, maxSharedA) // once per pool
		}
		for i := 0; i < m; i++ {
			copy(p.shared[i*lda:i*lda+k], a[i*k:(i+1)*k])
		}
		j.shared, j.sharedLda = p.shared, lda
	}
	helpers := min(threads, j.tasks) - 1
	for w := 1; w <= helpers; w++ {
		p.start[w] <- j
	}
	j.run(p.bufs[0])
	for range helpers {
		<-p.done
	}
	// drop the references to the caller's slices
	j.c, j.a, j.b, j.bias, j.epi, j.shared = nil, nil, nil, nil, nil, nil
}
