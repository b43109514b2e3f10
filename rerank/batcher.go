package rerank

import (
	"log/slog"
	"time"

	"github.com/crossrank/crossrank/internal/batch"
)

// The batcher (internal/batch) is the one place forward passes start; the
// embedder shares it. Here it is fed tokenized pairs and returns logits.
type batcher = batch.Batcher[seq]

func newBatcher(m model, maxPairs, maxTokens, workers int, wait time.Duration, onBatch func(BatchStats), log *slog.Logger) *batcher {
	var on func(batch.Stats)
	if onBatch != nil {
		on = func(s batch.Stats) {
			onBatch(BatchStats{Pairs: s.Items, Tokens: s.Tokens, Callers: s.Callers, Wait: s.Wait, Duration: s.Duration, Retried: s.Retried})
		}
	}
	return batch.New(m.forward, func(s seq) int { return len(s.ids) }, batch.Options{
		MaxItems: maxPairs, MaxTokens: maxTokens, Workers: workers, Wait: wait, OnBatch: on, Log: log,
		Closed: ErrClosed, IsOutOfMemory: IsOutOfMemory, Name: "rerank",
	})
}
