package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// One pool of helper goroutines for the fast CPU backend's attention and
// row-wise passes, shared by every run in the process: a run hands its work
// to the helpers that are idle at that moment and does the rest itself, so
// one request gets every core and several concurrent requests share them
// instead of each starting GOMAXPROCS threads. (The GEMMs run on
// internal/gemm's own pool, which serves one MatMul at a time.)

// parTask is work cut into parts; runPart may run on several goroutines at
// once, each with its own slot in [0, parThreads).
type parTask interface {
	runPart(slot, part int)
}

// parJob is one parallel call in flight. A run owns one and reuses it.
type parJob struct {
	t     parTask
	parts int64
	next  atomic.Int64 // the next part to claim
	slot  atomic.Int64 // the next slot to hand out
	wg    sync.WaitGroup
}

var (
	parOnce    sync.Once
	parThreads int
	parWork    chan *parJob // unbuffered: a send succeeds only to an idle helper
)

func startHelpers() {
	parThreads = max(runtime.GOMAXPROCS(0), 1)
	parWork = make(chan *parJob)
	for range parThreads - 1 {
		go func() {
			for j := range parWork {
				j.work()
				j.wg.Done()
			}
		}()
	}
}

// work claims parts until none is left.
func (j *parJob) work() {
	slot := int(j.slot.Add(1) - 1)
	for {
		p := j.next.Add(1) - 1
		if p >= j.parts {
			return
		}
		j.t.runPart(slot, int(p))
	}
}

// parallel runs parts parts of t on the calling goroutine and whatever
// helpers are idle, and returns when all are done.
func (r *fastRun) parallel(t parTask, parts int) {
	if parts <= 0 {
		return
	}
	parOnce.Do(startHelpers)
	if len(r.slots) < parThreads {
		r.slots = append(r.slots, make([]*attnScratch, parThreads-len(r.slots))...)
		for i := range r.slots {
			if r.slots[i] == nil {
				r.slots[i] = &attnScratch{}
			}
		}
		if a, ok := t.(*attnTask); ok {
			a.slots = r.slots
		}
	}
	j := &r.job
	j.t, j.parts = t, int64(parts)
	j.next.Store(0)
	j.slot.Store(0)
	for range min(parts-1, parThreads-1) {
		j.wg.Add(1)
		sent := false
		select {
		case parWork <- j:
			sent = true
		default:
		}
		if !sent {
			j.wg.Done() // every helper is busy (another run): do it ourselves
			break
		}
	}
	j.work()
	j.wg.Wait()
	j.t = nil
}
