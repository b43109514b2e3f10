package embed

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/rerank"
	"github.com/crossrank/crossrank/weights"
)

func TestDenseIndexAndCache(t *testing.T) {
	st := &weights.SentenceTransformer{Prompts: map[string]string{"query": "q ", "passage": "p "}}
	st.Pooling = weights.Pooling{Dimension: 3, Modes: []weights.PoolingMode{weights.PoolMax}, IncludePrompt: true}
	e, enc := newFake(t, st, Options{})
	if e.QueryPrompt() != "query" || e.DocumentPrompt() != "passage" {
		t.Fatalf("prompts %q %q", e.QueryPrompt(), e.DocumentPrompt())
	}
	docs := []rerank.Document{
		{ID: "0", Text: "aaa", Metadata: map[string]any{"tenant": "x"}},
		{ID: "1", Text: "zzz"},
		{ID: "2", Text: "abc", Metadata: map[string]any{"tenant": "x"}},
	}
	cache := filepath.Join(t.TempDir(), "corpus.emb")
	var last [2]int
	ix, err := NewDenseIndex(context.Background(), e, docs, DenseOptions{CacheFile: cache, Progress: func(d, n int) { last = [2]int{d, n} }, ChunkSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if ix.FromCache || last != [2]int{3, 3} || ix.Len() != 3 {
		t.Errorf("first build: cache %v, progress %v", ix.FromCache, last)
	}
	hits, err := ix.Search(context.Background(), "zzz", "", 0)
	if err != nil || len(hits) != 3 {
		t.Fatalf("search: %v %v", hits, err)
	}
	got, _ := ix.Retrieve(context.Background(), "zzz", "x", 5)
	if len(got) != 2 || got[0].Metadata["tenant"] != "x" {
		t.Errorf("tenant x: %v", got)
	}
	calls := enc.seqs.Load()
	again, err := NewDenseIndex(context.Background(), e, docs, DenseOptions{CacheFile: cache})
	if err != nil || !again.FromCache || enc.seqs.Load() != calls {
		t.Errorf("second build did not read the cache: %v %v", again.FromCache, err)
	}
	for i := range again.vecs {
		if again.vecs[i] != ix.vecs[i] {
			t.Fatalf("cached vector %d differs", i)
		}
	}
	// Other texts: the cache does not apply and is rewritten.
	docs[1].Text = "yyy"
	third, err := NewDenseIndex(context.Background(), e, docs, DenseOptions{CacheFile: cache})
	if err != nil || third.FromCache {
		t.Errorf("changed corpus read the stale cache: %v", err)
	}
	// A truncated cache file is not trusted.
	b, _ := os.ReadFile(cache)
	os.WriteFile(cache, b[:len(b)-3], 0o644)
	if _, err := readCache(cache, third.header()); err == nil {
		t.Error("a truncated cache was read")
	}
}
