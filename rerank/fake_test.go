package rerank

import (
	"context"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// A fake tokenizer and model, so batching, ordering, truncation reports and
// windows are tested apart from the numbers (which the fixture-model tests
// check against sentence-transformers).

// fakeEncoder makes one token per whitespace-separated word.
type fakeEncoder struct{ max int }

func (e fakeEncoder) tokenize(text string) ([]int32, error) {
	var ids []int32
	for _, w := range strings.Fields(text) {
		h := fnv.New32a()
		h.Write([]byte(w))
		ids = append(ids, 10+int32(h.Sum32()%1000))
	}
	return ids, nil
}

// pair is BERT's template: [CLS]=1 q [SEP]=2 d [SEP]=2.
func (fakeEncoder) pair(q, d []int32) seq {
	s := seq{}
	s.ids = append(append(append(append([]int32{1}, q...), 2), d...), 2)
	s.typeIDs = make([]int32, len(s.ids))
	for i := len(q) + 2; i < len(s.ids); i++ {
		s.typeIDs[i] = 1
	}
	return s
}

func (fakeEncoder) specials() int    { return 3 }
func (e fakeEncoder) maxLength() int { return e.max }

// fakeModel scores a pair by how many of its document tokens occur in its
// query, minus a small length penalty, and records the batches it saw.
type fakeModel struct {
	labels    int
	positions int
	oomAbove  int           // fail batches with more tokens than this (0: never)
	block     chan struct{} // if not nil, forward waits for it or ctx
	started   chan struct{} // if not nil, forward signals it on entry

	mu      sync.Mutex
	batches [][]int // lengths of the sequences of each batch
	ctxDone bool    // a forward pass saw its context cancelled
}

type oomError struct{}

func (oomError) Error() string     { return "fake: out of memory" }
func (oomError) OutOfMemory() bool { return true }

func (m *fakeModel) forward(ctx context.Context, batch []seq) ([][]float32, error) {
	if m.started != nil {
		select {
		case m.started <- struct{}{}:
		default:
		}
	}
	if m.block != nil {
		select {
		case <-m.block:
		case <-ctx.Done():
			m.mu.Lock()
			m.ctxDone = true
			m.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	tokens := 0
	lens := make([]int, len(batch))
	for i, s := range batch {
		tokens += len(s.ids)
		lens[i] = len(s.ids)
	}
	if m.oomAbove > 0 && tokens > m.oomAbove {
		return nil, oomError{}
	}
	m.mu.Lock()
	m.batches = append(m.batches, lens)
	m.mu.Unlock()
	out := make([][]float32, len(batch))
	for i, s := range batch {
		out[i] = fakeLogits(s, m.labels)
	}
	return out, nil
}

// fakeLogits is the fake model's function of one sequence.
func fakeLogits(s seq, labels int) []float32 {
	inQuery := map[int32]bool{}
	var x float32
	for k, id := range s.ids {
		if id < 10 { // special tokens
			continue
		}
		if s.typeIDs[k] == 0 {
			inQuery[id] = true
		} else if inQuery[id] {
			x++
		}
	}
	x -= float32(len(s.ids)) / 100
	if labels == 1 {
		return []float32{x}
	}
	l := make([]float32, labels)
	for i := range l {
		l[i] = x * float32(i)
	}
	return l
}

func (m *fakeModel) maxTokens() int {
	if m.positions == 0 {
		return 512
	}
	return m.positions
}
func (m *fakeModel) numLabels() int {
	if m.labels == 0 {
		m.labels = 1
	}
	return m.labels
}
func (m *fakeModel) close() error { return nil }

func (m *fakeModel) seen() [][]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]int(nil), m.batches...)
}

// newFake returns a Reranker on the fake engine.
func newFake(t testing.TB, m *fakeModel, opts Options) *Reranker {
	t.Helper()
	if m == nil {
		m = &fakeModel{}
	}
	m.numLabels()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r, err := newReranker(engine{enc: fakeEncoder{max: 512}, mdl: m, info: Info{Device: "fake"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
