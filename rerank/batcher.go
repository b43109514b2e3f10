package rerank

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The batcher is the one place forward passes start. Every call hands it
// all its tokenized pairs at once; workers pack pairs from the queued calls
// into batches of at most maxPairs pairs and maxTokens tokens, so concurrent
// callers share batches (dynamic batching). Calls are served in turn: a
// call with 10,000 pairs gets one batch, then the next call in line, so a
// small request is not stuck behind a large one.

type batcher struct {
	mdl       model
	maxPairs  int
	maxTokens int
	wait      time.Duration
	onBatch   func(BatchStats)
	log       *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond
	calls   []*call // calls with pairs not yet in a batch, in serving order
	pairs   int     // pairs queued (not yet in a batch) over all calls
	tokens  int     // their tokens
	closed  bool
	oomCap  int // the token limit learnt from running out of memory; 0 = none
	oomAt   time.Time
	workers sync.WaitGroup
}

// call is one Rerank/Score call's pairs on their way through the batcher.
// Its fields after seqs are guarded by batcher.mu.
type call struct {
	ctx   context.Context
	seqs  []seq
	order []int // seqs indices, longest first: the order pairs leave in
	enq   time.Time

	next      int // position in order of the next pair to batch
	out       [][]float32
	remaining int // pairs without logits yet
	finished  bool
	err       error
	done      chan struct{}
}

func newBatcher(m model, maxPairs, maxTokens, workers int, wait time.Duration, onBatch func(BatchStats), log *slog.Logger) *batcher {
	b := &batcher{mdl: m, maxPairs: maxPairs, maxTokens: maxTokens, wait: wait, onBatch: onBatch, log: log}
	b.cond = sync.NewCond(&b.mu)
	for range workers {
		b.workers.Add(1)
		go b.work()
	}
	return b
}

// run returns the logits of seqs, in their order. It returns as soon as ctx
// is done, whatever is in flight.
func (b *batcher) run(ctx context.Context, seqs []seq) ([][]float32, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &call{ctx: ctx, seqs: seqs, out: make([][]float32, len(seqs)), remaining: len(seqs), done: make(chan struct{}), enq: time.Now()}
	c.order = make([]int, len(seqs))
	for i := range c.order {
		c.order[i] = i
	}
	// Longest first, as sentence-transformers orders its batches: pairs of
	// similar length travel together, and the heaviest batch comes first.
	slices.SortStableFunc(c.order, func(i, j int) int { return cmp.Compare(len(seqs[j].ids), len(seqs[i].ids)) })
	tokens := 0
	for _, s := range seqs {
		tokens += len(s.ids)
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	b.calls = append(b.calls, c)
	b.pairs += len(seqs)
	b.tokens += tokens
	b.cond.Broadcast()
	b.mu.Unlock()

	select {
	case <-c.done:
		if c.err != nil {
			return nil, c.err
		}
		return c.out, nil
	case <-ctx.Done():
		b.mu.Lock()
		b.cond.Broadcast() // let a waiting worker drop the call
		b.mu.Unlock()
		return nil, ctx.Err()
	}
}

// close fails the queued calls with ErrClosed, lets the batches in flight
// finish and stops the workers.
func (b *batcher) close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	for _, c := range b.calls {
		b.finish(c, ErrClosed)
	}
	b.calls = nil
	b.pairs, b.tokens = 0, 0
	b.cond.Broadcast()
	b.mu.Unlock()
	b.workers.Wait()
}

// finish ends c with err (nil: success). b.mu is held.
func (b *batcher) finish(c *call, err error) {
	if c.finished {
		return
	}
	c.finished = true
	c.err = err
	close(c.done)
}

// item is one pair in a batch.
type item struct {
	c *call
	i int // index in c.seqs
}

func (b *batcher) work() {
	defer b.workers.Done()
	for {
		batch, wait := b.next()
		if batch == nil {
			return
		}
		b.execute(batch, wait)
	}
}

// next waits for pairs and returns the next batch and the longest time one
// of its pairs waited, or nil once the batcher is closed.
func (b *batcher) next() ([]item, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		b.dropDead()
		if b.closed {
			return nil, 0
		}
		if b.pairs == 0 {
			b.cond.Wait()
			continue
		}
		if b.wait > 0 && b.pairs < b.maxPairs && b.tokens < b.tokenLimit() {
			oldest := b.calls[0].enq
			for _, c := range b.calls[1:] {
				if c.enq.Before(oldest) {
					oldest = c.enq
				}
			}
			if d := time.Until(oldest.Add(b.wait)); d > 0 {
				t := time.AfterFunc(d, func() {
					b.mu.Lock()
					b.cond.Broadcast()
					b.mu.Unlock()
				})
				b.cond.Wait()
				t.Stop()
				continue
			}
		}
		return b.form()
	}
}

// oomMemory is how long a limit learnt from running out of memory holds: a
// transient shortage (another process on the GPU) should not shrink batches
// for ever, and a lasting one costs one failed pass per period.
const oomMemory = 5 * time.Minute

// tokenLimit is the most tokens the next batch may have. b.mu is held.
func (b *batcher) tokenLimit() int {
	if b.oomCap > 0 && time.Since(b.oomAt) > oomMemory {
		b.oomCap = 0
	}
	if b.oomCap > 0 && b.oomCap < b.maxTokens {
		return b.oomCap
	}
	return b.maxTokens
}

// dropDead removes the queued pairs of calls whose context is done: their
// callers have returned, or are about to.
func (b *batcher) dropDead() {
	kept := b.calls[:0]
	for _, c := range b.calls {
		if c.ctx.Err() == nil {
			kept = append(kept, c)
			continue
		}
		for _, i := range c.order[c.next:] {
			b.pairs--
			b.tokens -= len(c.seqs[i].ids)
		}
		c.next = len(c.order)
		b.finish(c, c.ctx.Err())
	}
	clear(b.calls[len(kept):])
	b.calls = kept
}

// form takes the next batch from the queued calls, in turn. b.mu is held.
func (b *batcher) form() ([]item, time.Duration) {
	limit := b.tokenLimit()
	var batch []item
	tokens := 0
	now := time.Now()
	var wait time.Duration
	served := map[*call]bool{} // calls that gave pairs to this batch
	full := false
	for _, c := range b.calls {
		for c.next < len(c.order) {
			i := c.order[c.next]
			n := len(c.seqs[i].ids)
			if len(batch) == b.maxPairs || (len(batch) > 0 && tokens+n > limit) {
				full = true
				break
			}
			batch = append(batch, item{c, i})
			tokens += n
			c.next++
			b.pairs--
			b.tokens -= n
			served[c] = true
		}
		if served[c] {
			wait = max(wait, now.Sub(c.enq))
		}
		if full {
			break
		}
	}
	// Calls with nothing left to batch leave the queue; the others that
	// were served go to the back of the line.
	var rest, back []*call
	for _, c := range b.calls {
		switch {
		case c.next == len(c.order):
		case served[c]:
			back = append(back, c)
		default:
			rest = append(rest, c)
		}
	}
	b.calls = append(rest, back...)
	return batch, wait
}

// execute runs one batch and hands the logits to their calls.
func (b *batcher) execute(batch []item, wait time.Duration) {
	// The batch's context is cancelled once every caller with a pair in it
	// has gone, so abandoned work stops early.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var callers []*call
	for _, it := range batch {
		if !slices.Contains(callers, it.c) {
			callers = append(callers, it.c)
		}
	}
	var alive atomic.Int32
	alive.Store(int32(len(callers)))
	for _, c := range callers {
		stop := context.AfterFunc(c.ctx, func() {
			if alive.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}

	seqs := make([]seq, len(batch))
	tokens := 0
	for k, it := range batch {
		seqs[k] = it.c.seqs[it.i]
		tokens += len(seqs[k].ids)
	}
	start := time.Now()
	logits, retried, err := b.forward(ctx, seqs)
	if b.onBatch != nil {
		b.onBatch(BatchStats{Pairs: len(seqs), Tokens: tokens, Callers: len(callers), Wait: wait, Duration: time.Since(start), Retried: retried})
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	for k, it := range batch {
		c := it.c
		if c.finished {
			continue
		}
		if err != nil {
			b.finish(c, err)
			continue
		}
		c.out[it.i] = logits[k]
		c.remaining--
		if c.remaining == 0 {
			b.finish(c, nil)
		}
	}
}

// forward runs seqs, halving the batch and retrying while the device runs
// out of memory (the seed's "GPU OOM on large batch: reduce batch_size",
// done for the user), and remembers the size that fitted.
func (b *batcher) forward(ctx context.Context, seqs []seq) (logits [][]float32, retried bool, err error) {
	logits, err = b.safeForward(ctx, seqs)
	if err == nil || !IsOutOfMemory(err) || len(seqs) < 2 {
		return logits, false, err
	}
	tokens := 0
	for _, s := range seqs {
		tokens += len(s.ids)
	}
	b.mu.Lock()
	if b.oomCap == 0 || tokens/2 < b.oomCap {
		b.oomCap = max(tokens/2, 1)
	}
	b.oomAt = time.Now()
	limit := b.oomCap
	b.mu.Unlock()
	b.log.Warn("rerank: out of device memory; retrying with smaller batches", "pairs", len(seqs), "tokens", tokens, "token_limit", limit, "err", err)
	half := len(seqs) / 2
	a, _, err := b.forward(ctx, seqs[:half])
	if err != nil {
		return nil, true, err
	}
	z, _, err := b.forward(ctx, seqs[half:])
	if err != nil {
		return nil, true, err
	}
	return append(a, z...), true, nil
}

// safeForward turns a panic in the model into an error for the callers of
// the batch instead of a crash of the process.
func (b *batcher) safeForward(ctx context.Context, seqs []seq) (logits [][]float32, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("rerank: forward pass panicked: %v", p)
		}
	}()
	logits, err = b.mdl.forward(ctx, seqs)
	if err == nil && len(logits) != len(seqs) {
		err = fmt.Errorf("rerank: model returned %d rows of logits for %d pairs", len(logits), len(seqs))
	}
	return logits, err
}
