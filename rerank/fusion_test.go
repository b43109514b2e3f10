package rerank

import (
	"context"
	"errors"
	"math"
	"testing"
)

type rankedList struct {
	docs []Document
	err  error
}

func (l rankedList) Retrieve(_ context.Context, _, _ string, k int) ([]Document, error) {
	if l.err != nil {
		return nil, l.err
	}
	if k > 0 && len(l.docs) > k {
		return l.docs[:k], nil
	}
	return l.docs, nil
}

func docs(ids ...string) []Document {
	out := make([]Document, len(ids))
	for i, id := range ids {
		out[i] = Document{ID: id, Text: "text " + id}
	}
	return out
}

func TestFusionRRF(t *testing.T) {
	f := &Fusion{Retrievers: []Retriever{rankedList{docs: docs("a", "b", "c")}, rankedList{docs: docs("c", "d", "a")}}}
	hits, err := f.Search(context.Background(), "q", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	// a: 1/61 + 1/63; c: 1/63 + 1/61 (tie with a; a appeared first); b: 1/62; d: 1/62 (b first).
	var order []string
	for _, h := range hits {
		order = append(order, h.Document.ID)
	}
	if got := order; len(got) != 4 || got[0] != "a" || got[1] != "c" || got[2] != "b" || got[3] != "d" {
		t.Errorf("order %v, want a c b d", got)
	}
	if want := 1.0/61 + 1.0/63; math.Abs(hits[0].Score-want) > 1e-15 || hits[0].Ranks[0] != 1 || hits[0].Ranks[1] != 3 {
		t.Errorf("a: %+v, want score %v ranks [1 3]", hits[0], want)
	}
	top, _ := f.Retrieve(context.Background(), "q", "", 2)
	if len(top) != 2 || top[1].ID != "c" {
		t.Errorf("top 2: %v", top)
	}
	// Depth bounds each list: with depth 1 only a and c are seen.
	f.Depth = 1
	if hits, _ := f.Search(context.Background(), "q", "", 0); len(hits) != 2 {
		t.Errorf("depth 1: %d hits", len(hits))
	}
	bad := &Fusion{Retrievers: []Retriever{rankedList{err: errors.New("boom")}}}
	if _, err := bad.Retrieve(context.Background(), "q", "", 5); err == nil {
		t.Error("a failing retriever's error was lost")
	}
}
