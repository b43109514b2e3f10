package rerank_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/crossrank/crossrank/rerank"
)

// The examples run on a tiny fixture checkpoint with random weights, so
// their scores carry no meaning; with a real model write its folder or its
// Hub name, e.g. "BAAI/bge-reranker-base", in place of fixtureModel.
const fixtureModel = "../testdata/models/bert"

// quiet drops the re-ranker's log lines (a warning when documents are
// truncated) so that they do not mix with the examples' output.
var quiet = slog.New(slog.DiscardHandler)

var chunks = []string{
	"The Eiffel Tower is in Paris.",
	"Bananas are rich in potassium.",
	"Paris is the capital of France.",
	"A cross-encoder reads the query and the document together.",
}

// The seed's rerank(query, chunks, top_k): load once, score every chunk
// with the query, keep the best.
func Example() {
	ctx := context.Background()
	r, err := rerank.New(ctx, fixtureModel, rerank.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	res, err := r.RerankStrings(ctx, "What is the capital of France?", chunks, rerank.RerankOptions{TopK: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, x := range res {
		fmt.Printf("%.4f  %s\n", x.Score, x.Document.Text)
	}
	// Output:
	// 0.5714  Paris is the capital of France.
	// 0.0686  Bananas are rich in potassium.
}

// The seed's rerank_chunks: IDs and metadata go through untouched, and each
// result says where its document was in the input.
func ExampleReranker_Rerank() {
	ctx := context.Background()
	r, err := rerank.New(ctx, fixtureModel, rerank.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	docs := []rerank.Document{
		{ID: "c1", Text: chunks[0], Metadata: map[string]any{"source": "travel.md", "page": 3}},
		{ID: "c2", Text: chunks[1], Metadata: map[string]any{"source": "food.md", "page": 1}},
		{ID: "c3", Text: chunks[2], Metadata: map[string]any{"source": "geo.md", "page": 9}},
	}
	res, err := r.Rerank(ctx, "capital of France", docs, rerank.RerankOptions{TopK: 5})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, x := range res {
		fmt.Printf("%s (input %d) %v p.%v  score %.4f  logit %.4f\n",
			x.Document.ID, x.Index, x.Document.Metadata["source"], x.Document.Metadata["page"], x.Score, x.Logit)
	}
	// Output:
	// c2 (input 1) food.md p.1  score 0.3042  logit -0.8273
	// c1 (input 0) travel.md p.3  score 0.0142  logit -4.2377
	// c3 (input 2) geo.md p.9  score 0.0078  logit -4.8424
}

// The seed's get_reranker singleton: one Reranker per model in the process,
// however many callers ask for it.
func ExampleShared() {
	ctx := context.Background()
	a, err := rerank.Shared(ctx, fixtureModel, rerank.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := rerank.Shared(ctx, fixtureModel, rerank.Options{})
	fmt.Println("same reranker:", a == b)
	fmt.Println("device:", a.Info().Device, "max length:", a.Info().MaxLength)
	a.Close()
	// Output:
	// same reranker: true
	// device: cpu max length: 512
}

// Thresholds say which scale they are on: the activated score (the
// sigmoid's 0 to 1 for one-label models, as sentence-transformers returns)
// or the raw logit (the seed's "bge-reranker outputs raw logits, 0.0 is a
// reasonable starting threshold"). MinScore and TopK apply together or
// apart.
func ExampleRerankOptions() {
	ctx := context.Background()
	r, err := rerank.New(ctx, fixtureModel, rerank.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	q := "What is the capital of France?"

	byScore, _ := r.RerankStrings(ctx, q, chunks, rerank.RerankOptions{MinScore: new(0.05)})
	byLogit, _ := r.RerankStrings(ctx, q, chunks, rerank.RerankOptions{MinScore: new(-1.0), MinScoreScale: rerank.ScaleLogit})
	both, _ := r.RerankStrings(ctx, q, chunks, rerank.RerankOptions{MinScore: new(0.05), TopK: 1})
	fmt.Println("score >= 0.05:", len(byScore), "| logit >= -1:", len(byLogit), "| score >= 0.05, top 1:", len(both))
	// Output:
	// score >= 0.05: 2 | logit >= -1: 1 | score >= 0.05, top 1: 1
}

// Truncation is counted in the model's own tokens, and every result says
// what was cut. QueryBudget is the seed's query_budget: the query keeps at
// most that many tokens and the document gets the rest.
func ExampleOptions_truncation() {
	ctx := context.Background()
	r, err := rerank.New(ctx, fixtureModel, rerank.Options{MaxLength: 32, QueryBudget: 8, Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	long := "Paris is the capital and largest city of France, on the Seine, with more than two million residents in the city proper."
	res, _ := r.RerankStrings(ctx, "tell me everything about the capital city of France please", []string{long, chunks[0]}, rerank.RerankOptions{})
	for _, x := range res {
		fmt.Printf("document %d: %d tokens, document cut by %d, query cut by %d\n", x.Index, x.Tokens, x.Truncated, x.QueryTruncated)
	}
	// Output:
	// document 1: 23 tokens, document cut by 0, query cut by 12
	// document 0: 32 tokens, document cut by 27, query cut by 12
}

// A long document can be scored by its best window instead of being cut:
// overlapping windows of its tokens are each scored with the query, and the
// document takes the best one's score (and says which).
func ExampleWindows() {
	ctx := context.Background()
	r, err := rerank.New(ctx, fixtureModel, rerank.Options{MaxLength: 32, LongDocs: &rerank.Windows{Stride: 4}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	long := "Bananas are rich in potassium. Apples keep the doctor away. Pears ripen off the tree. " +
		"Paris is the capital and largest city of France, on the Seine."
	res, _ := r.RerankStrings(ctx, "capital of France", []string{long}, rerank.RerankOptions{})
	x := res[0]
	fmt.Printf("%d windows, best is window %d, score %.4f, tokens cut %d\n", x.Windows, x.Window, x.Score, x.Truncated)
	// Output:
	// 4 windows, best is window 3, score 0.1153, tokens cut 0
}

// Score is CrossEncoder.predict: scores in input order, no sorting, with
// the raw logits beside them.
func ExampleReranker_Score() {
	ctx := context.Background()
	r, err := rerank.New(ctx, fixtureModel, rerank.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	out, _ := r.Score(ctx, []rerank.Pair{
		{Query: "capital of France", Document: chunks[2]},
		{Query: "fruit", Document: chunks[1]},
	})
	for _, s := range out {
		fmt.Printf("logits %.4f  score %.4f\n", s.Logits, s.Score)
	}
	// Output:
	// logits [-4.8424]  score 0.0078
	// logits [-5.8234]  score 0.0029
}

// Options.Activation picks the scale: None gives raw logits as scores.
func ExampleActivation() {
	ctx := context.Background()
	r, err := rerank.New(ctx, fixtureModel, rerank.Options{Activation: rerank.None})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	out, _ := r.Score(ctx, []rerank.Pair{{Query: "capital of France", Document: chunks[2]}})
	fmt.Printf("score %.4f = logit %.4f\n", out[0].Score, out[0].Logit)
	// Output:
	// score -4.8424 = logit -4.8424
}

// The seed's retrieve_and_rerank / run_pipeline: broad BM25 retrieval over
// a JSONL corpus, then re-ranking down to RerankK. No other service needed.
func ExampleReranker_Pipeline() {
	ctx := context.Background()
	r, err := rerank.New(ctx, fixtureModel, rerank.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	f, err := os.Open("../testdata/corpus.jsonl")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	bm, err := rerank.LoadBM25JSONL(f, rerank.BM25Options{})
	if err != nil {
		fmt.Println(err)
		return
	}

	p := r.Pipeline(bm, rerank.PipelineConfig{RetrievalK: 20, RerankK: 3})
	res, err := p.Run(ctx, "neural networks", "")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, x := range res {
		fmt.Printf("id %s  score %.4f  (BM25 rank %d)\n", x.Document.ID, x.Score, x.Index)
	}
	// Output:
	// id 511  score 0.9758  (BM25 rank 0)
	// id 528  score 0.9758  (BM25 rank 1)
	// id 686  score 0.9561  (BM25 rank 4)
}

// BM25 on its own, with tenants: each tenant is searched apart, with its
// own statistics.
func ExampleNewBM25() {
	bm := rerank.NewBM25([]rerank.Document{
		{ID: "1", Text: "Goroutines are cheap threads.", Metadata: map[string]any{"tenant": "acme"}},
		{ID: "2", Text: "Channels connect goroutines.", Metadata: map[string]any{"tenant": "acme"}},
		{ID: "3", Text: "Goroutines leak when channels block.", Metadata: map[string]any{"tenant": "globex"}},
	}, rerank.BM25Options{})
	docs, _ := bm.Retrieve(context.Background(), "goroutines channels", "acme", 10)
	for _, d := range docs {
		fmt.Println(d.ID, d.Text)
	}
	// Output:
	// 2 Channels connect goroutines.
	// 1 Goroutines are cheap threads.
}

// One Reranker serves any number of goroutines; their pairs share batches
// (dynamic batching), each batch waiting at most BatchWait for company.
// OnBatch sees every forward pass, for metrics.
func ExampleOptions_batching() {
	ctx := context.Background()
	var mu sync.Mutex
	pairs := 0
	r, err := rerank.New(ctx, fixtureModel, rerank.Options{
		BatchSize:      32,
		MaxBatchTokens: 4096,
		BatchWait:      2 * time.Millisecond,
		OnBatch: func(s rerank.BatchStats) {
			mu.Lock()
			pairs += s.Pairs
			mu.Unlock()
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := r.RerankStrings(ctx, "capital of France", chunks, rerank.RerankOptions{}); err != nil {
				fmt.Println(err)
			}
		})
	}
	wg.Wait()
	fmt.Println("pairs scored:", pairs)
	// Output:
	// pairs scored: 64
}

// Every call takes a context; cancelling it stops the work between batches
// and the call returns at once.
func ExampleReranker_Rerank_cancel() {
	r, err := rerank.New(context.Background(), fixtureModel, rerank.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = r.RerankStrings(ctx, "capital of France", chunks, rerank.RerankOptions{})
	fmt.Println(errors.Is(err, context.Canceled))
	// Output:
	// true
}

// Options.Precision "bf16" or "int8" runs the model's matrix products in
// reduced precision: on a CPU with AVX512_BF16 (VNNI for int8) about 1.7x
// (int8: 2-2.6x) fp32's speed on MiniLM-L6, for logits a few hundredths
// (int8: a few tenths) from fp32's; elsewhere fp32 runs. Info says which.
func ExampleOptions_precision() {
	ctx := context.Background()
	r, err := rerank.New(ctx, fixtureModel, rerank.Options{Precision: "int8", Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	res, err := r.RerankStrings(ctx, "What is the capital of France?", chunks, rerank.RerankOptions{TopK: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	// r.Info().Precision is "int8" here, or "fp32" on a CPU without VNNI.
	fmt.Println(res[0].Document.Text)
	// Output: Paris is the capital of France.
}
