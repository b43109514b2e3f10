package rerank

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossrank/crossrank/cuda"
)

// words returns n distinct words w0 w1 ... so that the fake tokenizer makes
// exactly n tokens.
func words(prefix string, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return strings.Join(w, " ")
}

func TestRankSortsByScoreTiesByInputOrder(t *testing.T) {
	r := newFake(t, nil, Options{})
	// The fake scores query-word overlap: "b c" (2) > "c" (1) > "x" (0);
	// equal documents tie and keep their input order.
	docs := []string{"x", "c", "b c", "c", "x"}
	res, err := r.RerankStrings(context.Background(), "b c", docs, RerankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, x := range res {
		got = append(got, x.Index)
		if x.Document.Text != docs[x.Index] {
			t.Errorf("result %d carries %q, want %q", x.Index, x.Document.Text, docs[x.Index])
		}
	}
	if want := []int{2, 1, 3, 0, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	for i := 1; i < len(res); i++ {
		if res[i].Score > res[i-1].Score {
			t.Errorf("result %d scores %v above result %d's %v", i, res[i].Score, i-1, res[i-1].Score)
		}
	}
}

func TestRankNaNLast(t *testing.T) {
	res := rank([]Result{{Index: 0, Score: math.NaN()}, {Index: 1, Score: -1}, {Index: 2, Score: 3}}, RerankOptions{})
	if res[0].Index != 2 || res[1].Index != 1 || res[2].Index != 0 {
		t.Errorf("order %d %d %d, want 2 1 0", res[0].Index, res[1].Index, res[2].Index)
	}
}

func TestScoreMatchesActivation(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		labels int
		act    Activation
		label  *int
		f      func(l []float32) float64
	}{
		{1, Default, nil, func(l []float32) float64 { return 1 / (1 + math.Exp(-float64(l[0]))) }},
		{1, None, nil, func(l []float32) float64 { return float64(l[0]) }},
		{2, Default, nil, func(l []float32) float64 { return float64(l[1]) }}, // sentence-transformers: identity for 2 labels
		{2, Sigmoid, nil, func(l []float32) float64 { return 1 / (1 + math.Exp(-float64(l[1]))) }},
		{2, Softmax, nil, func(l []float32) float64 {
			a, b := math.Exp(float64(l[0])), math.Exp(float64(l[1]))
			return b / (a + b)
		}},
		{3, Softmax, new(2), func(l []float32) float64 {
			s := 0.0
			for _, v := range l {
				s += math.Exp(float64(v))
			}
			return math.Exp(float64(l[2])) / s
		}},
	} {
		t.Run(fmt.Sprintf("labels=%d act=%d", tc.labels, tc.act), func(t *testing.T) {
			r := newFake(t, &fakeModel{labels: tc.labels}, Options{Activation: tc.act, ScoreLabel: tc.label})
			out, err := r.Score(ctx, []Pair{{"a b", "a b c"}, {"a b", "z"}, {"q", "q q q"}})
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range out {
				if len(s.Logits) != tc.labels {
					t.Fatalf("pair %d: %d logits, want %d", i, len(s.Logits), tc.labels)
				}
				if want := tc.f(s.Logits); math.Abs(s.Score-want) > 1e-12 {
					t.Errorf("pair %d: score %v, want %v from logits %v", i, s.Score, want, s.Logits)
				}
			}
		})
	}
	if _, err := newReranker(engine{enc: fakeEncoder{max: 512}, mdl: &fakeModel{labels: 3}}, Options{}); err == nil {
		t.Error("a 3-label model without ScoreLabel was accepted")
	}
}

func TestMetadataRoundTrips(t *testing.T) {
	r := newFake(t, nil, Options{})
	meta := map[string]any{"source": "wiki", "page": 7, "nested": map[string]any{"a": []any{1, "x"}}}
	docs := []Document{{ID: "a", Text: "nothing here"}, {ID: "b", Text: "query words", Metadata: meta}}
	res, err := r.Rerank(context.Background(), "query words", docs, RerankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Document.ID != "b" || res[0].Index != 1 {
		t.Fatalf("best is %q (index %d), want b (1)", res[0].Document.ID, res[0].Index)
	}
	if !reflect.DeepEqual(res[0].Document.Metadata, meta) {
		t.Errorf("metadata %v, want %v", res[0].Document.Metadata, meta)
	}
	res[0].Document.Metadata["seen"] = true // the same map, not a copy
	if meta["seen"] != true {
		t.Error("the result's metadata is a copy, not the caller's map")
	}
	if res[1].Document.Metadata != nil || res[1].Document.ID != "a" {
		t.Errorf("second result %+v, want document a without metadata", res[1].Document)
	}
}

func TestTopKAndMinScore(t *testing.T) {
	r := newFake(t, nil, Options{})
	// Overlaps 3, 2, 1, 0 with the query: logits about 3, 2, 1, 0.
	docs := []string{"a b c", "a b", "a", "z"}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		o    RerankOptions
		want []int
	}{
		{"none", RerankOptions{}, []int{0, 1, 2, 3}},
		{"topk", RerankOptions{TopK: 2}, []int{0, 1}},
		{"topk larger than input", RerankOptions{TopK: 10}, []int{0, 1, 2, 3}},
		{"min score", RerankOptions{MinScore: new(0.7)}, []int{0, 1, 2}},
		{"min logit", RerankOptions{MinScore: new(1.5), MinScoreScale: ScaleLogit}, []int{0, 1}},
		{"both, topk binds", RerankOptions{TopK: 1, MinScore: new(0.7)}, []int{0}},
		{"both, min binds", RerankOptions{TopK: 3, MinScore: new(1.5), MinScoreScale: ScaleLogit}, []int{0, 1}},
		{"nothing passes", RerankOptions{MinScore: new(0.9999)}, []int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := r.RerankStrings(ctx, "a b c", docs, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			got := []int{}
			for _, x := range res {
				got = append(got, x.Index)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("indices %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFitPairFollowsHuggingFace(t *testing.T) {
	// Cases worked by hand from tokenizers' truncate_encodings.
	for _, tc := range []struct {
		nq, nd, budget int
		s              Truncation
		kq, kd         int
	}{
		{3, 4, 10, LongestFirst, 3, 4},  // fits
		{3, 20, 10, LongestFirst, 3, 7}, // only the longer is cut
		{20, 3, 10, LongestFirst, 7, 3},
		{8, 9, 10, LongestFirst, 5, 5},  // both: halves
		{9, 8, 11, LongestFirst, 6, 5},  // odd token to the longer (first)
		{8, 9, 11, LongestFirst, 5, 6},  // odd token to the longer (second)
		{8, 8, 11, LongestFirst, 5, 6},  // tie: to the second
		{30, 2, 10, LongestFirst, 8, 2}, // shorter side kept whole
		{3, 20, 10, OnlyDocument, 3, 7},
		{20, 3, 10, OnlyQuery, 7, 3},
		{12, 3, 10, OnlyDocument, 7, 3}, // cannot: falls back to longest_first
		{10, 10, 10, OnlyDocument, 5, 5},
	} {
		kq, kd, err := fitPair(tc.nq, tc.nd, tc.budget, tc.s)
		if err != nil || kq != tc.kq || kd != tc.kd {
			t.Errorf("fitPair(%d, %d, %d, %d) = %d, %d, %v; want %d, %d", tc.nq, tc.nd, tc.budget, tc.s, kq, kd, err, tc.kq, tc.kd)
		}
	}
	if _, _, err := fitPair(5, 6, 10, NoTruncation); !errors.Is(err, ErrTooLong) {
		t.Errorf("NoTruncation on a long pair: %v, want ErrTooLong", err)
	}
}

func TestTruncationReport(t *testing.T) {
	ctx := context.Background()
	// MaxLength 20 = 3 specials + 17 tokens for query and document.
	r := newFake(t, nil, Options{MaxLength: 20})
	res, err := r.RerankStrings(ctx, words("q", 5), []string{words("d", 10), words("d", 30), ""}, RerankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byIndex := map[int]Result{}
	for _, x := range res {
		byIndex[x.Index] = x
	}
	check := func(i, trunc, qtrunc, tokens int) {
		t.Helper()
		x := byIndex[i]
		if x.Truncated != trunc || x.QueryTruncated != qtrunc || x.Tokens != tokens || x.Window != -1 || x.Windows != 0 {
			t.Errorf("document %d: truncated %d, query %d, tokens %d, window %d/%d; want %d, %d, %d, -1/0", i, x.Truncated, x.QueryTruncated, x.Tokens, x.Window, x.Windows, trunc, qtrunc, tokens)
		}
	}
	check(0, 0, 0, 18)
	check(1, 18, 0, 20) // 30 document tokens, 12 fit beside the 5 of the query
	check(2, 0, 0, 8)   // an empty document is scored: [CLS] q [SEP] [SEP]

	// The seed's query budget: the query keeps 3 tokens, the document the rest.
	r = newFake(t, nil, Options{MaxLength: 20, QueryBudget: 3})
	res, err = r.RerankStrings(ctx, words("q", 5), []string{words("d", 30)}, RerankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if x := res[0]; x.QueryTruncated != 2 || x.Truncated != 16 || x.Tokens != 20 {
		t.Errorf("query budget: query cut %d, document cut %d, tokens %d; want 2, 16, 20", x.QueryTruncated, x.Truncated, x.Tokens)
	}

	// Per call: a lower MaxLength (never higher), Cohere's max_tokens_per_doc,
	// and refusing to truncate.
	r = newFake(t, nil, Options{MaxLength: 20})
	res, err = r.RerankStrings(ctx, words("q", 5), []string{words("d", 30)}, RerankOptions{MaxLength: 10})
	// Budget 7 for 5 + 30 tokens: longest_first gives both halves, 3 and 4.
	if err != nil || res[0].Tokens != 10 || res[0].Truncated != 26 || res[0].QueryTruncated != 2 {
		t.Errorf("per-call MaxLength 10: %+v, %v; want 10 tokens, 26 + 2 cut", res, err)
	}
	res, err = r.RerankStrings(ctx, words("q", 5), []string{words("d", 30)}, RerankOptions{MaxLength: 1000})
	if err != nil || res[0].Tokens != 20 {
		t.Errorf("per-call MaxLength 1000 above the reranker's 20: %d tokens, %v; want 20", res[0].Tokens, err)
	}
	res, err = r.RerankStrings(ctx, words("q", 5), []string{words("d", 30)}, RerankOptions{MaxDocTokens: 4})
	if err != nil || res[0].Tokens != 12 || res[0].Truncated != 26 {
		t.Errorf("MaxDocTokens 4: %+v, %v; want 12 tokens, 26 cut", res, err)
	}
	_, err = r.RerankStrings(ctx, words("q", 5), []string{"short", words("d", 30)}, RerankOptions{Truncation: new(NoTruncation)})
	var de *DocumentError
	if !errors.Is(err, ErrTooLong) || !errors.As(err, &de) || de.Index != 1 {
		t.Errorf("NoTruncation: %v, want ErrTooLong naming document 1", err)
	}
}

func TestWindowRangesLikeHuggingFace(t *testing.T) {
	// return_overflowing_tokens with max 4 tokens, stride 1: windows start
	// every 3 tokens until one reaches the end.
	for _, tc := range []struct {
		n, size, stride, limit int
		want                   [][2]int
	}{
		{3, 4, 1, 0, [][2]int{{0, 3}}},
		{4, 4, 1, 0, [][2]int{{0, 4}}},
		{5, 4, 1, 0, [][2]int{{0, 4}, {3, 5}}},
		{10, 4, 1, 0, [][2]int{{0, 4}, {3, 7}, {6, 10}}},
		{11, 4, 1, 0, [][2]int{{0, 4}, {3, 7}, {6, 10}, {9, 11}}},
		{11, 4, 0, 0, [][2]int{{0, 4}, {4, 8}, {8, 11}}},
		{11, 4, 1, 2, [][2]int{{0, 4}, {3, 7}}},
	} {
		if got := windowRanges(tc.n, tc.size, tc.stride, tc.limit); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("windowRanges(%d, %d, %d, %d) = %v, want %v", tc.n, tc.size, tc.stride, tc.limit, got, tc.want)
		}
	}
}

func TestLongDocsTakeBestWindow(t *testing.T) {
	ctx := context.Background()
	// Budget 20 - 3 = 17; the 2-token query leaves windows of 15 tokens.
	w := &Windows{Stride: 5}
	r := newFake(t, nil, Options{MaxLength: 20, LongDocs: w})
	plain := newFake(t, nil, Options{MaxLength: 20})
	// The relevant words sit near the end of a 40-token document, past
	// what truncation keeps.
	doc := words("d", 34) + " needle hay needle hay needle hay"
	query := "needle hay"
	res, err := r.RerankStrings(ctx, query, []string{doc, "needle"}, RerankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x := res[0]
	if x.Index != 0 {
		t.Fatalf("best is document %d, want the long one (0)", x.Index)
	}
	// Windows of 15 tokens every 10: [0,15) [10,25) [20,35) [30,40).
	if x.Windows != 4 || x.Window != 3 || x.Truncated != 0 {
		t.Fatalf("windows %d, best %d, truncated %d; want 4, 3, 0", x.Windows, x.Window, x.Truncated)
	}
	// The document's score is the best of its windows scored one by one.
	toks := strings.Fields(doc)
	best := math.Inf(-1)
	for _, rg := range windowRanges(len(toks), 15, 5, 0) {
		s, err := plain.Score(ctx, []Pair{{query, strings.Join(toks[rg[0]:rg[1]], " ")}})
		if err != nil {
			t.Fatal(err)
		}
		best = math.Max(best, s[0].Score)
	}
	if x.Score != best {
		t.Errorf("document score %v, want the best window's %v", x.Score, best)
	}
	// Truncating loses the needles.
	tr, _ := plain.RerankStrings(ctx, query, []string{doc}, RerankOptions{})
	if tr[0].Score >= x.Score || tr[0].Truncated != 25 {
		t.Errorf("truncated score %v (cut %d) not below the window's %v", tr[0].Score, tr[0].Truncated, x.Score)
	}

	// MaxWindows bounds the windows and reports the tail as truncated.
	r = newFake(t, nil, Options{MaxLength: 20, LongDocs: &Windows{Stride: 5, MaxWindows: 2}})
	res, err = r.RerankStrings(ctx, query, []string{doc}, RerankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if x := res[0]; x.Windows != 2 || x.Truncated != 15 {
		t.Errorf("MaxWindows 2: %d windows, %d cut; want 2, 15", x.Windows, x.Truncated)
	}
	if _, err := newReranker(engine{enc: fakeEncoder{}, mdl: &fakeModel{labels: 1}}, Options{LongDocs: &Windows{Size: 4, Stride: 4}}); err == nil {
		t.Error("Stride == Size was accepted")
	}
}

func TestBatchesRespectLimitsAndKeepOrder(t *testing.T) {
	ctx := context.Background()
	m := &fakeModel{}
	r := newFake(t, m, Options{BatchSize: 4, MaxBatchTokens: 60})
	var docs []string
	for i := range 23 {
		docs = append(docs, words("w", (i*7)%25)+" a")
	}
	got, err := r.RerankStrings(ctx, "a", docs, RerankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range m.seen() {
		tokens := 0
		for _, n := range b {
			tokens += n
		}
		if len(b) > 4 || (len(b) > 1 && tokens > 60) {
			t.Errorf("batch of %d pairs, %d tokens: over 4 pairs / 60 tokens", len(b), tokens)
		}
		for k := 1; k < len(b); k++ {
			if b[k] > b[k-1] {
				t.Errorf("batch lengths %v not sorted longest first", b)
			}
		}
	}
	// Each result is its own pair's score, whatever batch it travelled in.
	for _, x := range got {
		s, err := r.Score(ctx, []Pair{{"a", docs[x.Index]}})
		if err != nil {
			t.Fatal(err)
		}
		if s[0].Score != x.Score {
			t.Errorf("document %d: %v in a batch, %v alone", x.Index, x.Score, s[0].Score)
		}
	}
}

func TestDynamicBatchingSharesBatches(t *testing.T) {
	var mu sync.Mutex
	maxCallers := 0
	m := &fakeModel{}
	r := newFake(t, m, Options{BatchWait: 300 * time.Millisecond, OnBatch: func(s BatchStats) {
		mu.Lock()
		maxCallers = max(maxCallers, s.Callers)
		mu.Unlock()
	}})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := r.RerankStrings(context.Background(), "a", []string{fmt.Sprint("a ", i)}, RerankOptions{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if maxCallers < 2 {
		t.Errorf("no batch held pairs of more than one call (max %d callers)", maxCallers)
	}
}

func TestOutOfMemoryRetriesSmaller(t *testing.T) {
	ctx := context.Background()
	m := &fakeModel{oomAbove: 40}
	retried := false
	r := newFake(t, m, Options{OnBatch: func(s BatchStats) { retried = retried || s.Retried }})
	docs := make([]string, 10)
	for i := range docs {
		docs[i] = words("x", 5) + " a"
	}
	res, err := r.RerankStrings(ctx, "a", docs, RerankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 10 || !retried {
		t.Fatalf("%d results, retried %v; want 10, true", len(res), retried)
	}
	for _, b := range m.seen() {
		if len(b)*10 > 40 {
			t.Errorf("a batch of %d pairs of 10 tokens ran past the 40-token memory", len(b))
		}
	}
	// A single pair that does not fit is an error, not a loop.
	m = &fakeModel{oomAbove: 5}
	r = newFake(t, m, Options{})
	if _, err := r.RerankStrings(ctx, "a", []string{"a b c d"}, RerankOptions{}); !IsOutOfMemory(err) {
		t.Errorf("one pair over memory: %v, want out of memory", err)
	}
	if !IsOutOfMemory(fmt.Errorf("wrapped: %w", cuda.ErrOutOfMemory)) || IsOutOfMemory(errors.New("other")) {
		t.Error("IsOutOfMemory does not follow the sentinel")
	}
}

func TestCancelReturnsPromptly(t *testing.T) {
	m := &fakeModel{block: make(chan struct{}), started: make(chan struct{}, 1)}
	r := newFake(t, m, Options{BatchSize: 2})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.RerankStrings(ctx, "a", []string{"a", "b", "c", "d", "e", "f"}, RerankOptions{})
		done <- err
	}()
	<-m.started // the first batch is in the model
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled call returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled call did not return")
	}
	// The batch in flight had no one left waiting for it: its context ends.
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.mu.Lock()
		seen := m.ctxDone
		m.mu.Unlock()
		if seen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the abandoned batch's context was not cancelled")
		}
		time.Sleep(time.Millisecond)
	}
	// A call whose context is already done does no work.
	if _, err := r.RerankStrings(ctx, "a", []string{"a"}, RerankOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("call with a done context: %v", err)
	}
	close(m.block)
}

func TestInputEdgeCases(t *testing.T) {
	ctx := context.Background()
	r := newFake(t, nil, Options{MaxDocuments: 20000})
	if _, err := r.RerankStrings(ctx, "", []string{"a"}, RerankOptions{}); !errors.Is(err, ErrEmptyQuery) {
		t.Errorf("empty query: %v, want ErrEmptyQuery", err)
	}
	if _, err := r.RerankStrings(ctx, " \t\n", []string{"a"}, RerankOptions{}); !errors.Is(err, ErrEmptyQuery) {
		t.Errorf("blank query: %v, want ErrEmptyQuery", err)
	}
	if _, err := r.RerankStrings(ctx, "a\xff", []string{"a"}, RerankOptions{}); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("invalid UTF-8 query: %v, want ErrInvalidUTF8", err)
	}
	res, err := r.RerankStrings(ctx, "a", nil, RerankOptions{})
	if err != nil || res == nil || len(res) != 0 {
		t.Errorf("no documents: %v, %v; want an empty result", res, err)
	}
	res, err = r.RerankStrings(ctx, "a", []string{""}, RerankOptions{})
	if err != nil || len(res) != 1 {
		t.Errorf("an empty document: %v, %v; want it scored", res, err)
	}
	_, err = r.RerankStrings(ctx, "a", []string{"ok", "fine", "bad \xc3\x28 bytes"}, RerankOptions{})
	var de *DocumentError
	if !errors.Is(err, ErrInvalidUTF8) || !errors.As(err, &de) || de.Index != 2 || !strings.Contains(err.Error(), "document 2") {
		t.Errorf("invalid UTF-8 document: %v, want an error naming document 2", err)
	}
	many := make([]string, 10000)
	for i := range many {
		many[i] = fmt.Sprint("doc ", i)
	}
	res, err = r.RerankStrings(ctx, "doc 5", many, RerankOptions{TopK: 3})
	if err != nil || len(res) != 3 {
		t.Errorf("10,000 documents: %d results, %v", len(res), err)
	}
	small := newFake(t, nil, Options{MaxDocuments: 100})
	if _, err := small.RerankStrings(ctx, "a", many, RerankOptions{}); !errors.Is(err, ErrTooManyDocuments) {
		t.Errorf("over MaxDocuments: %v, want ErrTooManyDocuments", err)
	}
	if _, err := r.RerankStrings(ctx, "a", []string{"a"}, RerankOptions{TopK: -1}); err == nil {
		t.Error("negative TopK accepted")
	}
}

func TestScoreKeepsInputOrderAcrossQueries(t *testing.T) {
	r := newFake(t, nil, Options{})
	pairs := []Pair{{"a", "a a"}, {"b", "x"}, {"a", "x"}, {"b", "b"}}
	got, err := r.Score(context.Background(), pairs)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pairs {
		one, err := r.Score(context.Background(), []Pair{p})
		if err != nil {
			t.Fatal(err)
		}
		if got[i].Score != one[0].Score {
			t.Errorf("pair %d: %v among others, %v alone", i, got[i].Score, one[0].Score)
		}
	}
	_, err = r.Score(context.Background(), []Pair{{"a", "b"}, {"", "b"}})
	var de *DocumentError
	if !errors.Is(err, ErrEmptyQuery) || !errors.As(err, &de) || de.Index != 1 {
		t.Errorf("empty query in pair 1: %v", err)
	}
	_, err = r.Score(context.Background(), []Pair{{"a", "b"}, {"c", "ok"}, {"c", "\xff"}})
	if !errors.As(err, &de) || de.Index != 2 {
		t.Errorf("invalid document in pair 2: %v", err)
	}
}

func TestConcurrentEqualsSerialFake(t *testing.T) {
	r := newFake(t, nil, Options{BatchSize: 8, BatchWait: time.Millisecond})
	queries := []string{"a b", "c", "d e f", "a"}
	docs := []string{"a", "b c", "a b c d", "e f", "f", "", "a a a", "z"}
	serial := make([][]Result, len(queries))
	for i, q := range queries {
		var err error
		if serial[i], err = r.RerankStrings(context.Background(), q, docs, RerankOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			q := g % len(queries)
			got, err := r.RerankStrings(context.Background(), queries[q], docs, RerankOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			if !reflect.DeepEqual(got, serial[q]) {
				t.Errorf("goroutine %d: results differ from the serial ones", g)
			}
		})
	}
	wg.Wait()
}

func TestCloseFailsLaterCalls(t *testing.T) {
	r := newFake(t, nil, Options{})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RerankStrings(context.Background(), "a", []string{"a"}, RerankOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// BenchmarkRerankOverhead is the re-ranker's own cost per call (validation,
// truncation, batching, sorting) around a model that does no work: 100
// documents of 20 words.
func BenchmarkRerankOverhead(b *testing.B) {
	r := newFake(b, &fakeModel{}, Options{})
	docs := make([]string, 100)
	for i := range docs {
		docs[i] = words(fmt.Sprint("w", i, "_"), 20)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.RerankStrings(ctx, "w1_3 w2_4 query", docs, RerankOptions{TopK: 10}); err != nil {
			b.Fatal(err)
		}
	}
}
