package rerank

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestBM25ScoresByTheFormula(t *testing.T) {
	docs := []Document{
		{ID: "0", Text: "The cat sat.", Metadata: map[string]any{"tenant": "a"}},
		{ID: "1", Text: "the DOG", Metadata: map[string]any{"tenant": "a"}},
		{ID: "2", Text: "cat, cat; cat dog", Metadata: map[string]any{"tenant": "b"}},
	}
	bm := NewBM25(docs, BM25Options{})
	// Worked by hand: N = 3, avgdl = 3, "cat" in 2 documents.
	idf := math.Log(1 + (3-2+0.5)/(2+0.5))
	want := []BM25Hit{
		{2, idf * 3 * 2.2 / (3 + 1.2*(0.25+0.75*4.0/3))},
		{0, idf * 1 * 2.2 / (1 + 1.2*(0.25+0.75*3.0/3))},
	}
	got := bm.Search("CAT", "", 10)
	if len(got) != 2 || got[0].Index != want[0].Index || got[1].Index != want[1].Index ||
		math.Abs(got[0].Score-want[0].Score) > 1e-12 || math.Abs(got[1].Score-want[1].Score) > 1e-12 {
		t.Errorf("Search(cat) = %v, want %v", got, want)
	}
	// Tenant a is its own index: N = 2, avgdl = 2.5, "cat" in 1.
	got = bm.Search("cat", "a", 10)
	w := math.Log(1+1.5/1.5) * 2.2 / (1 + 1.2*(0.25+0.75*3/2.5))
	if len(got) != 1 || got[0].Index != 0 || math.Abs(got[0].Score-w) > 1e-12 {
		t.Errorf("Search(cat, tenant a) = %v, want [{0 %v}]", got, w)
	}
	if got := bm.Search("cat", "nobody", 10); len(got) != 0 {
		t.Errorf("unknown tenant: %v, want nothing", got)
	}
	if got := bm.Search("unicorn", "", 10); len(got) != 0 {
		t.Errorf("no shared term: %v, want nothing", got)
	}
	d, err := bm.Retrieve(context.Background(), "dog cat", "", 1)
	if err != nil || len(d) != 1 || d[0].ID != "2" {
		t.Errorf("Retrieve(dog cat, k=1) = %v, %v; want document 2", d, err)
	}
}

func TestBM25Terms(t *testing.T) {
	for in, want := range map[string][]string{
		"Héllo, WORLD! x2":   {"héllo", "world", "x2"},
		"東京タワー":              {"東", "京", "タ", "ワ", "ー"},
		"naïve café—déjà-vu": {"naïve", "café", "déjà", "vu"},
		"":                   nil,
	} {
		if got := bm25Terms(in); !reflect.DeepEqual(got, want) {
			t.Errorf("bm25Terms(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadDocumentsJSONL(t *testing.T) {
	in := `{"id": "a", "text": "first", "tenant": "t1", "page": 3}

{"content": "seed style", "id": 42}
{"text": "no id"}
`
	docs, err := ReadDocumentsJSONL(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 3 {
		t.Fatalf("%d documents, want 3", len(docs))
	}
	if docs[0].ID != "a" || docs[0].Text != "first" || docs[0].Metadata["tenant"] != "t1" || docs[0].Metadata["page"].(interface{ String() string }).String() != "3" {
		t.Errorf("document 0: %+v", docs[0])
	}
	if docs[1].ID != "42" || docs[1].Text != "seed style" || docs[1].Metadata != nil {
		t.Errorf("document 1: %+v", docs[1])
	}
	if docs[2].ID != "2" {
		t.Errorf("document 2 has id %q, want its position 2", docs[2].ID)
	}
	for _, bad := range []struct{ in, want string }{
		{"{\"text\": \"ok\"}\n[1]\n", "line 2"},
		{"{\"text\": 5}\n", `"text" is json.Number`},
		{"{\"id\": \"x\"}\n", `no "text"`},
		{"{\"text\": \"a\", \"id\": true}\n", `"id" is bool`},
		{"{\"text\": \"a\"} {}\n", "more than one"},
		{"{\"text\": \"\xff\"}\n", "invalid UTF-8"},
		{"null\n", "null"},
	} {
		_, err := ReadDocumentsJSONL(strings.NewReader(bad.in))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want an error with %q", bad.in, err, bad.want)
		}
	}
	bm, err := LoadBM25JSONL(strings.NewReader(in), BM25Options{})
	if err != nil || bm.Len() != 3 {
		t.Fatalf("LoadBM25JSONL: %v, %v", bm, err)
	}
	if d, _ := bm.Retrieve(context.Background(), "first", "t1", 5); len(d) != 1 || d[0].ID != "a" {
		t.Errorf("tenant t1: %v", d)
	}
}

func FuzzReadDocumentsJSONL(f *testing.F) {
	valid := map[string]bool{ // corpora that must be read
		"{\"id\": \"a\", \"text\": \"x\", \"m\": {\"k\": [1, 2]}}\n{\"content\": \"y\"}\n": true,
		"{\"text\": \"\\u00e9\"}": true,
	}
	for s := range valid {
		f.Add([]byte(s))
	}
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, err := ReadDocumentsJSONL(strings.NewReader(string(b)))
		if err != nil {
			if valid[string(b)] {
				t.Fatalf("a valid corpus refused: %v", err)
			}
			return
		}
		bm := NewBM25(docs, BM25Options{})
		for _, d := range docs {
			hits := bm.Search(d.Text, "", 3)
			for _, h := range hits {
				if h.Index < 0 || h.Index >= len(docs) || math.IsNaN(h.Score) {
					t.Fatalf("hit %+v out of %d documents", h, len(docs))
				}
			}
		}
	})
}

// listRetriever returns its documents, recording k.
type listRetriever struct {
	docs []Document
	k    int
	err  error
}

func (l *listRetriever) Retrieve(ctx context.Context, query, tenant string, k int) ([]Document, error) {
	l.k = k
	return l.docs[:min(k, len(l.docs))], l.err
}

func TestPipelineFollowsTheSeed(t *testing.T) {
	ctx := context.Background()
	r := newFake(t, nil, Options{})
	mk := func(texts ...string) []Document {
		var d []Document
		for i, s := range texts {
			d = append(d, Document{ID: string(rune('a' + i)), Text: s})
		}
		return d
	}
	ids := func(res []Result) string {
		var b strings.Builder
		for _, x := range res {
			b.WriteString(x.Document.ID)
		}
		return b.String()
	}
	many := mk("x", "q", "x", "q q", "x", "x", "q q q", "x")

	ret := &listRetriever{docs: many}
	res, err := r.Pipeline(ret, PipelineConfig{}).Run(ctx, "q", "")
	if err != nil {
		t.Fatal(err)
	}
	if ret.k != 20 || ids(res) != "gdbac" {
		t.Errorf("defaults: retrieved k=%d, got %q; want k=20 and gdbac (5 re-ranked)", ret.k, ids(res))
	}
	// No more candidates than RerankK: retrieval order, not re-ranked.
	ret = &listRetriever{docs: mk("x", "q")}
	res, err = r.Pipeline(ret, PipelineConfig{}).Run(ctx, "q", "")
	if err != nil || ids(res) != "ab" || res[0].Logits != nil {
		t.Errorf("2 candidates: %q, %v; want ab without scores", ids(res), err)
	}
	// ...unless a threshold needs scores.
	res, err = r.Pipeline(ret, PipelineConfig{Rerank: RerankOptions{MinScore: new(0.5)}}).Run(ctx, "q", "")
	if err != nil || ids(res) != "b" {
		t.Errorf("2 candidates with MinScore: %q, %v; want b", ids(res), err)
	}
	ret = &listRetriever{docs: many}
	res, err = r.Pipeline(ret, PipelineConfig{SkipRerank: true, RetrievalK: 3}).Run(ctx, "q", "")
	if err != nil || ids(res) != "abc" || ret.k != 3 {
		t.Errorf("SkipRerank: %q, %v; want abc", ids(res), err)
	}
	res, err = r.Pipeline(&listRetriever{}, PipelineConfig{}).Run(ctx, "q", "")
	if err != nil || res == nil || len(res) != 0 {
		t.Errorf("nothing retrieved: %v, %v; want empty", res, err)
	}
	boom := errors.New("boom")
	if _, err := r.Pipeline(&listRetriever{err: boom}, PipelineConfig{}).Run(ctx, "q", ""); !errors.Is(err, boom) {
		t.Errorf("retriever error: %v", err)
	}

	// With the BM25 retriever and tenants.
	corpus := []Document{
		{ID: "1", Text: "go channels and goroutines", Metadata: map[string]any{"tenant": "acme"}},
		{ID: "2", Text: "python asyncio event loop", Metadata: map[string]any{"tenant": "acme"}},
		{ID: "3", Text: "goroutines leak when channels block", Metadata: map[string]any{"tenant": "globex"}},
	}
	res, err = r.Pipeline(NewBM25(corpus, BM25Options{}), PipelineConfig{RerankK: 1}).Run(ctx, "goroutines channels", "acme")
	if err != nil || ids(res) != "1" {
		t.Errorf("BM25 pipeline for tenant acme: %q, %v; want 1", ids(res), err)
	}
}
