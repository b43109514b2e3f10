package rerank

import (
	"context"
	"errors"
	"testing"
)

func TestItems(t *testing.T) {
	r := newFake(t, &fakeModel{labels: 1}, Options{})
	type chunk struct {
		ID   int
		Body string
	}
	items := []chunk{{1, "bananas are yellow"}, {2, "paris is the capital of france"}, {3, "the capital of germany"}}
	query := "capital of france"
	got, err := Items(context.Background(), r, query, items, func(c chunk) string { return c.Body }, RerankOptions{TopK: 2})
	if err != nil {
		t.Fatal(err)
	}
	texts := make([]string, len(items))
	for i, c := range items {
		texts[i] = c.Body
	}
	want, err := r.RerankStrings(context.Background(), query, texts, RerankOptions{TopK: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(want) != 2 {
		t.Fatalf("got %d results, want 2", len(got))
	}
	for i := range want {
		if got[i].Item != items[want[i].Index] || got[i].Index != want[i].Index || got[i].Score != want[i].Score {
			t.Errorf("result %d: got %+v, want item %d score %v", i, got[i], want[i].Index, want[i].Score)
		}
	}
	if got[0].Item.ID != 2 {
		t.Errorf("best item %+v, want the one about France", got[0].Item)
	}

	none, err := Items(context.Background(), r, query, []chunk(nil), func(c chunk) string { return c.Body }, RerankOptions{})
	if err != nil || none == nil || len(none) != 0 {
		t.Errorf("no items: %v, %v", none, err)
	}
	if _, err := Items(context.Background(), r, " ", items, func(c chunk) string { return c.Body }, RerankOptions{}); !errors.Is(err, ErrEmptyQuery) {
		t.Errorf("empty query: %v", err)
	}
}
