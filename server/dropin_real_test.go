package server

import (
	"encoding/json"
	"testing"

	"github.com/crossrank/crossrank/rerank"
)

// TestRealDropinForms: Weaviate's form and the Open Inference Protocol
// answer with exactly the library's scores on the fixture model, in
// document order.
func TestRealDropinForms(t *testing.T) {
	bert, _ := realModels(t)
	_, ts := newTestServer(t, Config{}, "cross-encoder/ms-marco-MiniLM-L-6-v2", bert)
	docs := corpusTexts(t, 10)
	q := "how does a cross-encoder score a document?"
	lib := libRanking(t, bert, q, docs, rerank.RerankOptions{}, false)
	byDoc := make([]float64, len(docs))
	for _, r := range lib {
		byDoc[r.index] = r.score
	}

	in, _ := json.Marshal(map[string]any{"query": q, "documents": docs, "property": ""})
	r := post(t, ts.URL+"/weaviate/rerank", in)
	var w wantWeaviate
	strict(t, r.body, &w)
	if r.status != 200 || len(w.Scores) != len(docs) {
		t.Fatalf("weaviate: %d %s", r.status, r.body)
	}
	for i := range docs {
		if w.Scores[i].Document != docs[i] || w.Scores[i].Score != byDoc[i] {
			t.Errorf("weaviate score %d: %v, library %v", i, w.Scores[i].Score, byDoc[i])
		}
	}

	r = post(t, ts.URL+"/v2/models/reranker/infer", oipBody("7", q, docs, map[string]any{"top_n": 3}))
	var o wantOIP
	strict(t, r.body, &o)
	if r.status != 200 || o.ModelName != "cross-encoder/ms-marco-MiniLM-L-6-v2" {
		t.Fatalf("oip: %d %s", r.status, r.body)
	}
	scores, indices := o.output("scores"), o.output("indices")
	for i := range docs {
		if float32(scores[i]) != float32(byDoc[i]) {
			t.Errorf("oip scores[%d]: %v, library %v", i, scores[i], byDoc[i])
		}
	}
	if len(indices) != 3 {
		t.Fatalf("indices %v", indices)
	}
	for i := range indices {
		if int(indices[i]) != lib[i].index {
			t.Errorf("oip indices[%d] = %v, library %d", i, indices[i], lib[i].index)
		}
	}
}
