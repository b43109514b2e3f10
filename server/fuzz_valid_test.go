package server

import "testing"

// TestDecodeRequestValidSeeds: the valid bodies among FuzzDecodeRequest's
// seeds are accepted by the endpoint whose schema they follow, under the
// fuzz target's limits. FuzzDecodeRequest checks that whatever is accepted
// is well formed; this checks that well-formed requests are not refused.
func TestDecodeRequestValidSeeds(t *testing.T) {
	lim := Limits{MaxBodyBytes: 1 << 20, MaxDocuments: 8, MaxDocumentBytes: 64}
	for _, tc := range []struct {
		ep   endpoint
		body string
		docs int
		form Form
	}{
		{epRerank, `{"query": "capital of France", "documents": ["Paris", "Berlin"], "model": "BAAI/bge-reranker-base"}`, 2, FormInfinity},
		{epRerank, `{"query":"q","documents":["a"],"top_n":1,"return_documents":true,"raw_scores":true}`, 1, FormInfinity},
		{epRerank, `{"query":"q","texts":["a","b"],"truncate":false,"truncation_direction":"Right","raw_scores":false,"return_text":true}`, 2, FormTEI},
		{epJina, `{"model":"m","query":"q","documents":["a",{"text":"b"}],"top_n":2,"return_documents":false}`, 2, FormJina},
		{epCohere, `{"model":"m","query":"q","documents":["a"],"max_tokens_per_doc":512}`, 1, FormCohere},
	} {
		req, aerr := decodeRequest(tc.ep, []byte(tc.body), lim)
		if aerr != nil {
			t.Errorf("endpoint %d: %s: refused %d %s", tc.ep, tc.body, aerr.Status, aerr.Message)
			continue
		}
		if len(req.Docs) != tc.docs || req.Form != tc.form || req.Query == "" {
			t.Errorf("endpoint %d: %s: %d documents, form %v, query %q; want %d, %v", tc.ep, tc.body, len(req.Docs), req.Form, req.Query, tc.docs, tc.form)
		}
	}
}
