package server

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/crossrank/crossrank/rerank"
)

// fakeRanker scores a pair by a hash of its texts, so that handler tests run
// in microseconds and know every score in advance. A "token" is a word.
type fakeRanker struct {
	maxLen  int           // pair limit in words (special tokens counted as 3)
	gate    chan struct{} // if not nil, Rerank waits for it (or ctx) before scoring
	entered chan struct{} // if not nil, Rerank sends on it when it starts
	calls   atomic.Int64
	cancels atomic.Int64 // calls that ended because their ctx did
	fail    error        // if not nil, Rerank returns it
}

func fakeLogit(query, doc string) float32 {
	h := fnv.New32a()
	h.Write([]byte(query))
	h.Write([]byte{0})
	h.Write([]byte(doc))
	return float32(h.Sum32()%20000)/1000 - 10
}

func fakeTokens(query, doc string) int {
	return 3 + len(strings.Fields(query)) + len(strings.Fields(doc))
}

func (f *fakeRanker) Info() rerank.Info {
	return rerank.Info{Model: "fake", Architecture: "Fake", MaxLength: f.maxLen, NumLabels: 1, Device: "none", Precision: "F32"}
}

func (f *fakeRanker) Rerank(ctx context.Context, query string, docs []rerank.Document, o rerank.RerankOptions) ([]rerank.Result, error) {
	f.calls.Add(1)
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			f.cancels.Add(1)
			return nil, ctx.Err()
		}
	}
	if f.fail != nil {
		return nil, f.fail
	}
	if query == "" {
		return nil, rerank.ErrEmptyQuery
	}
	out := make([]rerank.Result, len(docs))
	for i, d := range docs {
		text := d.Text
		words := strings.Fields(text)
		if o.MaxDocTokens > 0 && len(words) > o.MaxDocTokens {
			text = strings.Join(words[:o.MaxDocTokens], " ")
		}
		n := fakeTokens(query, text)
		cut := 0
		if f.maxLen > 0 && n > f.maxLen {
			if o.Truncation != nil && *o.Truncation == rerank.NoTruncation {
				return nil, &rerank.DocumentError{Index: i, Err: rerank.ErrTooLong}
			}
			cut = n - f.maxLen
			n = f.maxLen
		}
		l := fakeLogit(query, text)
		out[i] = rerank.Result{
			Document: d, Index: i, Logits: []float32{l}, Logit: l,
			Score: 1 / (1 + math.Exp(-float64(l))), Tokens: n, Truncated: cut, Window: -1,
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Score > out[b].Score })
	if o.TopK > 0 && o.TopK < len(out) {
		out = out[:o.TopK]
	}
	return out, nil
}

var errFake = errors.New("fake: boom")
