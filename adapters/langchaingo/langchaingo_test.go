package langchaingo

import (
	"context"
	"errors"
	"testing"

	"github.com/crossrank/crossrank/rerank"
	"github.com/tmc/langchaingo/schema"
	"github.com/tmc/langchaingo/vectorstores"
)

func fixture(t testing.TB) *rerank.Reranker {
	t.Helper()
	r, err := rerank.New(context.Background(), "../../testdata/models/bert", rerank.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

var texts = []string{
	"Paris is the capital of France.",
	"Berlin is the capital of Germany.",
	"The Eiffel Tower is in Paris.",
	"Bananas are yellow.",
	"Cross-encoders read the query and the document together.",
	"Madrid is the capital of Spain.",
}

const query = "what is the capital of France?"

// fakeStore is a vector store that returns its documents in order, as many
// as asked for, with decreasing scores, and records the count asked.
type fakeStore struct{ asked int }

func (s *fakeStore) AddDocuments(context.Context, []schema.Document, ...vectorstores.Option) ([]string, error) {
	return nil, errors.New("read-only")
}

func (s *fakeStore) SimilaritySearch(ctx context.Context, q string, n int, _ ...vectorstores.Option) ([]schema.Document, error) {
	s.asked = n
	var out []schema.Document
	for i, t := range texts[:min(n, len(texts))] {
		out = append(out, schema.Document{PageContent: t, Metadata: map[string]any{"i": i}, Score: 1 - float32(i)/10})
	}
	return out, nil
}

func TestRetriever(t *testing.T) {
	r := fixture(t)
	store := &fakeStore{}
	rt := FromVectorStore(store, r, Config{TopK: 3, FetchK: 5})
	out, err := rt.GetRelevantDocuments(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	if store.asked != 5 {
		t.Errorf("store asked for %d, want FetchK 5", store.asked)
	}
	want, err := r.RerankStrings(context.Background(), query, texts[:5], rerank.RerankOptions{TopK: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 {
		t.Fatalf("%d documents, want 3", len(out))
	}
	for i, w := range want {
		if out[i].PageContent != texts[w.Index] || out[i].Score != float32(w.Score) || out[i].Metadata["i"] != w.Index {
			t.Errorf("document %d: %+v, want %q score %v", i, out[i], texts[w.Index], float32(w.Score))
		}
	}
	// Defaults: TopK 5, FetchK 20.
	store.asked = 0
	out, err = FromVectorStore(store, r, Config{}).GetRelevantDocuments(context.Background(), query)
	if err != nil || len(out) != 5 || store.asked != 20 {
		t.Errorf("defaults: %d documents, store asked %d, %v", len(out), store.asked, err)
	}
	// The inner retriever's failure is returned.
	if _, err := New(failing{}, r, Config{}).GetRelevantDocuments(context.Background(), query); !errors.Is(err, errInner) {
		t.Errorf("inner failure: %v", err)
	}
}

var errInner = errors.New("inner failed")

type failing struct{}

func (failing) GetRelevantDocuments(context.Context, string) ([]schema.Document, error) {
	return nil, errInner
}
