// Package batch is the one place forward passes start, for the re-ranker and
// the embedder alike. Every call hands the batcher all its tokenized
// sequences at once; workers pack sequences from the queued calls into
// batches of at most MaxItems sequences and MaxTokens tokens, so concurrent
// callers share batches (dynamic batching). Calls are served in turn: a call
// with 10,000 sequences gets one batch, then the next call in line, so a
// small request is not stuck behind a large one. Within a call, sequences
// leave longest first, as sentence-transformers orders its batches.
package batch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crossrank/crossrank/cuda"
)

// Options configure a Batcher.
type Options struct {
	MaxItems  int           // sequences per forward pass (> 0)
	MaxTokens int           // packed tokens per forward pass (> 0)
	Workers   int           // forward passes at once (default 1)
	Wait      time.Duration // how long a pass may wait for other calls to fill it
	// OnBatch, if not nil, is called after every forward pass; it must not block.
	OnBatch func(Stats)
	Log     *slog.Logger // nil: slog.Default()
	// Closed is the error calls get after Close (default ErrClosed).
	Closed error
	// IsOutOfMemory says whether a failed pass may fit when halved; nil: never.
	IsOutOfMemory func(error) bool
	// Name prefixes log lines and errors ("rerank", "embed").
	Name string
}

// Stats describe one forward pass.
type Stats struct {
	Items    int           // sequences in the pass
	Tokens   int           // packed tokens in the pass
	Callers  int           // distinct calls whose sequences were in the pass
	Wait     time.Duration // longest time a sequence waited in the queue
	Duration time.Duration // the forward pass itself
	Retried  bool          // the pass was split after running out of device memory
}

// IsOutOfMemory reports whether err says the device ran out of memory, so
// that a smaller batch may fit: cuda.ErrOutOfMemory (errors.Is), or any
// error in the chain with a method OutOfMemory() bool that returns true
// (for backends outside this module).
func IsOutOfMemory(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, cuda.ErrOutOfMemory) {
		return true
	}
	var oom interface{ OutOfMemory() bool }
	return errors.As(err, &oom) && oom.OutOfMemory()
}

// ErrClosed is what calls get after Close when Options.Closed is nil.
var ErrClosed = errors.New("batch: closed")

// Forward runs one packed batch and returns one row per sequence, in order.
type Forward[S any] func(ctx context.Context, batch []S) ([][]float32, error)

// Batcher shares forward passes between concurrent calls. S is one
// tokenized sequence; size gives its token count.
type Batcher[S any] struct {
	forward   Forward[S]
	size      func(S) int
	maxPairs  int
	maxTokens int
	wait      time.Duration
	onBatch   func(Stats)
	log       *slog.Logger
	closedErr error
	isOOM     func(error) bool
	name      string

	mu      sync.Mutex
	cond    *sync.Cond
	calls   []*call[S] // calls with sequences not yet in a batch, in serving order
	pairs   int        // pairs queued (not yet in a batch) over all calls
	tokens  int        // their tokens
	closed  bool
	oomCap  int // the token limit learnt from running out of memory; 0 = none
	oomAt   time.Time
	workers sync.WaitGroup
}

// call is one caller's sequences on their way through the batcher.
// Its fields after seqs are guarded by Batcher.mu.
type call[S any] struct {
	ctx   context.Context
	seqs  []S
	order []int // seqs indices, longest first: the order pairs leave in
	enq   time.Time

	next      int // position in order of the next pair to batch
	out       [][]float32
	remaining int // pairs without logits yet
	finished  bool
	err       error
	done      chan struct{}
}

// New starts o.Workers workers that run forward over batches of S.
func New[S any](forward Forward[S], size func(S) int, o Options) *Batcher[S] {
	b := &Batcher[S]{forward: forward, size: size, maxPairs: max(o.MaxItems, 1), maxTokens: max(o.MaxTokens, 1),
		wait: o.Wait, onBatch: o.OnBatch, log: o.Log, closedErr: o.Closed, isOOM: o.IsOutOfMemory, name: o.Name}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.closedErr == nil {
		b.closedErr = ErrClosed
	}
	if b.isOOM == nil {
		b.isOOM = func(error) bool { return false }
	}
	if b.name == "" {
		b.name = "batch"
	}
	b.cond = sync.NewCond(&b.mu)
	for range max(o.Workers, 1) {
		b.workers.Add(1)
		go b.work()
	}
	return b
}

// Run returns the rows of seqs, in their order. It returns as soon as ctx
// is done, whatever is in flight.
func (b *Batcher[S]) Run(ctx context.Context, seqs []S) ([][]float32, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &call[S]{ctx: ctx, seqs: seqs, out: make([][]float32, len(seqs)), remaining: len(seqs), done: make(chan struct{}), enq: time.Now()}
	c.order = make([]int, len(seqs))
	for i := range c.order {
		c.order[i] = i
	}
	// Longest first, as sentence-transformers orders its batches: pairs of
	// similar length travel together, and the heaviest batch comes first.
	slices.SortStableFunc(c.order, func(i, j int) int { return cmp.Compare(b.size(seqs[j]), b.size(seqs[i])) })
	tokens := 0
	for _, s := range seqs {
		tokens += b.size(s)
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, b.closedErr
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

// Close fails the queued calls with Options.Closed, lets the batches in
// flight finish and stops the workers.
func (b *Batcher[S]) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	for _, c := range b.calls {
		b.finish(c, b.closedErr)
	}
	b.calls = nil
	b.pairs, b.tokens = 0, 0
	b.cond.Broadcast()
	b.mu.Unlock()
	b.workers.Wait()
}

// finish ends c with err (nil: success). b.mu is held.
func (b *Batcher[S]) finish(c *call[S], err error) {
	if c.finished {
		return
	}
	c.finished = true
	c.err = err
	close(c.done)
}

// item is one sequence in a batch.
type item[S any] struct {
	c *call[S]
	i int // index in c.seqs
}

func (b *Batcher[S]) work() {
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
func (b *Batcher[S]) next() ([]item[S], time.Duration) {
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

// ExpireOutOfMemory ages the token limit learnt from running out of
// memory as if oomMemory had passed, so the next batch tries the full size
// again (for tests of that expiry; a caller has no reason to use it).
func (b *Batcher[S]) ExpireOutOfMemory() {
	b.mu.Lock()
	b.oomAt = time.Now().Add(-oomMemory - time.Second)
	b.mu.Unlock()
}

// tokenLimit is the most tokens the next batch may have. b.mu is held.
func (b *Batcher[S]) tokenLimit() int {
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
func (b *Batcher[S]) dropDead() {
	kept := b.calls[:0]
	for _, c := range b.calls {
		if c.ctx.Err() == nil {
			kept = append(kept, c)
			continue
		}
		for _, i := range c.order[c.next:] {
			b.pairs--
			b.tokens -= b.size(c.seqs[i])
		}
		c.next = len(c.order)
		b.finish(c, c.ctx.Err())
	}
	clear(b.calls[len(kept):])
	b.calls = kept
}

// form takes the next batch from the queued calls, in turn. b.mu is held.
func (b *Batcher[S]) form() ([]item[S], time.Duration) {
	limit := b.tokenLimit()
	var batch []item[S]
	tokens := 0
	now := time.Now()
	var wait time.Duration
	served := map[*call[S]]bool{} // calls that gave pairs to this batch
	full := false
	for _, c := range b.calls {
		for c.next < len(c.order) {
			i := c.order[c.next]
			n := b.size(c.seqs[i])
			if len(batch) == b.maxPairs || (len(batch) > 0 && tokens+n > limit) {
				full = true
				break
			}
			batch = append(batch, item[S]{c, i})
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
	var rest, back []*call[S]
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

// execute runs one batch and hands the rows to their calls.
func (b *Batcher[S]) execute(batch []item[S], wait time.Duration) {
	// The batch's context is cancelled once every caller with a pair in it
	// has gone, so abandoned work stops early.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var callers []*call[S]
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

	seqs := make([]S, len(batch))
	tokens := 0
	for k, it := range batch {
		seqs[k] = it.c.seqs[it.i]
		tokens += b.size(seqs[k])
	}
	start := time.Now()
	logits, retried, err := b.run(ctx, seqs)
	if b.onBatch != nil {
		b.onBatch(Stats{Items: len(seqs), Tokens: tokens, Callers: len(callers), Wait: wait, Duration: time.Since(start), Retried: retried})
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
func (b *Batcher[S]) run(ctx context.Context, seqs []S) (logits [][]float32, retried bool, err error) {
	logits, err = b.safeForward(ctx, seqs)
	if err == nil || !b.isOOM(err) || len(seqs) < 2 {
		return logits, false, err
	}
	tokens := 0
	for _, s := range seqs {
		tokens += b.size(s)
	}
	b.mu.Lock()
	if b.oomCap == 0 || tokens/2 < b.oomCap {
		b.oomCap = max(tokens/2, 1)
	}
	b.oomAt = time.Now()
	limit := b.oomCap
	b.mu.Unlock()
	b.log.Warn(b.name+": out of device memory; retrying with smaller batches", "sequences", len(seqs), "tokens", tokens, "token_limit", limit, "err", err)
	half := len(seqs) / 2
	a, _, err := b.run(ctx, seqs[:half])
	if err != nil {
		return nil, true, err
	}
	z, _, err := b.run(ctx, seqs[half:])
	if err != nil {
		return nil, true, err
	}
	return append(a, z...), true, nil
}

// safeForward turns a panic in the model into an error for the callers of
// the batch instead of a crash of the process.
func (b *Batcher[S]) safeForward(ctx context.Context, seqs []S) (logits [][]float32, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: forward pass panicked: %v", b.name, p)
		}
	}()
	logits, err = b.forward(ctx, seqs)
	if err == nil && len(logits) != len(seqs) {
		err = fmt.Errorf("%s: model returned %d rows for %d sequences", b.name, len(logits), len(seqs))
	}
	return logits, err
}
