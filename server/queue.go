package server

import (
	"container/list"
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// admission is the server's bounded queue. A request needs as many units as
// it has documents (pairs to score); at most capacity units are being scored
// at once, and at most maxWaiting requests (and maxWaitingPairs units) wait
// for their turn, first come first served. A request that finds the queue
// full is refused at once (429) instead of growing memory without bound.
//
// The re-ranker batches the pairs of all admitted requests together, so the
// capacity is what keeps its batches full without letting its own queue grow.
type admission struct {
	mu              sync.Mutex
	capacity        int
	used            int
	maxWaiting      int
	maxWaitingPairs int
	waitingPairs    int
	waiters         list.List // of *waiter, oldest first

	// rate is a moving average of pairs scored per second, for Retry-After.
	rate float64
}

type waiter struct {
	n     int
	ready chan struct{} // closed when admitted
}

var errQueueFull = errors.New("queue full")

func newAdmission(capacity, maxWaiting, maxWaitingPairs int) *admission {
	return &admission{capacity: capacity, maxWaiting: maxWaiting, maxWaitingPairs: maxWaitingPairs}
}

// acquire waits for n units. It fails with errQueueFull when too many wait
// already, or with ctx's error when ctx ends first (timeout or the client
// went away); in both cases nothing is held.
func (a *admission) acquire(ctx context.Context, n int) error {
	if n > a.capacity {
		// A request larger than the capacity runs alone rather than never.
		n = a.capacity
	}
	a.mu.Lock()
	if a.waiters.Len() == 0 && a.used+n <= a.capacity {
		a.used += n
		a.mu.Unlock()
		return nil
	}
	if a.waiters.Len() >= a.maxWaiting || a.waitingPairs+n > a.maxWaitingPairs {
		a.mu.Unlock()
		return errQueueFull
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	elem := a.waiters.PushBack(w)
	a.waitingPairs += n
	a.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		a.mu.Lock()
		select {
		case <-w.ready:
			// Admitted while we were giving up: hand the units back.
			a.used -= w.n
			a.wakeLocked()
		default:
			a.waiters.Remove(elem)
			a.waitingPairs -= w.n
			// Our leaving may let the next one in.
			a.wakeLocked()
		}
		a.mu.Unlock()
		return ctx.Err()
	}
}

// release returns n units taken by acquire, and records that they took
// busy to score (for Retry-After).
func (a *admission) release(n int, busy time.Duration) {
	if n > a.capacity {
		n = a.capacity
	}
	a.mu.Lock()
	a.used -= n
	if busy > 0 {
		r := float64(n) / busy.Seconds()
		if a.rate == 0 {
			a.rate = r
		} else {
			a.rate = 0.8*a.rate + 0.2*r
		}
	}
	a.wakeLocked()
	a.mu.Unlock()
}

// wakeLocked admits waiters in order while they fit.
func (a *admission) wakeLocked() {
	for e := a.waiters.Front(); e != nil; e = a.waiters.Front() {
		w := e.Value.(*waiter)
		if a.used+w.n > a.capacity {
			return
		}
		a.used += w.n
		a.waitingPairs -= w.n
		a.waiters.Remove(e)
		close(w.ready)
	}
}

// retryAfter estimates, in whole seconds (1 to 60), when the work ahead of a
// new request will have been done.
func (a *admission) retryAfter() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rate <= 0 {
		return 1
	}
	s := math.Ceil(float64(a.used+a.waitingPairs) / a.rate)
	return int(min(max(s, 1), 60))
}

// stats returns the units in use and waiting, and the waiting requests.
func (a *admission) stats() (used, waitingPairs, waiting int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.used, a.waitingPairs, a.waiters.Len()
}
