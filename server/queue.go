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

	// maxWait, if > 0, refuses at once a request whose estimated wait and
	// scoring exceed it: it would only time out in the queue (the request
	// timeout), and a 429 now tells the client more than a 503 later.
	maxWait time.Duration

	// rate is a moving average of the pairs scored per second while the
	// server is busy, all requests together (requests are batched
	// together, so one request's pairs over its own duration would
	// underestimate it many times). It drives Retry-After and maxWait.
	rate float64
	// The current measuring window: since when pairs are being scored
	// (zero while idle), and how many finished since.
	windowStart time.Time
	windowPairs int
	now         func() time.Time // time.Now; tests replace it
}

// rateWindow is how long a measuring window of the rate lasts: long enough
// to span several forward passes, short enough to follow a change of load.
const rateWindow = 250 * time.Millisecond

type waiter struct {
	n     int
	ready chan struct{} // closed when admitted
}

var errQueueFull = errors.New("queue full")

func newAdmission(capacity, maxWaiting, maxWaitingPairs int, maxWait time.Duration) *admission {
	return &admission{capacity: capacity, maxWaiting: maxWaiting, maxWaitingPairs: maxWaitingPairs,
		maxWait: maxWait, now: time.Now}
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
	if a.waiters.Len() == 0 && a.used+n <= a.capacity && (a.used == 0 || !a.tooLongLocked(n)) {
		// Pairs admitted together are scored together, so a request let
		// in beside much work waits for it as surely as one in the queue;
		// alone, it is always let in (as the capacity rule does), or a
		// request too large for the timeout would never be served.
		a.takeLocked(n)
		a.mu.Unlock()
		return nil
	}
	if a.waiters.Len() >= a.maxWaiting || a.waitingPairs+n > a.maxWaitingPairs || a.tooLongLocked(n) {
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

// tooLongLocked reports whether a request of n units, queued behind all
// the work held and waiting, would likely not finish within maxWait.
func (a *admission) tooLongLocked(n int) bool {
	if a.maxWait <= 0 || a.rate <= 0 {
		return false
	}
	return float64(a.used+a.waitingPairs+n)/a.rate > waitMargin*a.maxWait.Seconds()
}

// waitMargin is the share of maxWait a predicted wait may use. Pairs differ
// in cost (a 500-token document costs many times a 20-token one), so the
// prediction is rough; half leaves room for that without refusing work
// that would have fitted by much.
const waitMargin = 0.5

// takeLocked admits n units, opening a measuring window if the server was
// idle.
func (a *admission) takeLocked(n int) {
	if a.used == 0 && a.windowStart.IsZero() {
		a.windowStart, a.windowPairs = a.now(), 0
	}
	a.used += n
}

// release returns n units taken by acquire, whose pairs are done (scored,
// or given up on).
func (a *admission) release(n int) {
	if n > a.capacity {
		n = a.capacity
	}
	a.mu.Lock()
	a.used -= n
	a.windowPairs += n
	now := a.now()
	el := now.Sub(a.windowStart)
	idle := a.used == 0 && a.waiters.Len() == 0
	if el >= rateWindow || (idle && el >= rateWindow/10) {
		r := float64(a.windowPairs) / el.Seconds()
		if a.rate == 0 {
			a.rate = r
		} else {
			a.rate = 0.7*a.rate + 0.3*r
		}
		a.windowStart, a.windowPairs = now, 0
	}
	if idle {
		// Idle time is not scoring time: the next window starts with the
		// next admission.
		a.windowStart = time.Time{}
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
		a.takeLocked(w.n)
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
