package server

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeRequest feeds arbitrary bodies to every request form (the
// Weaviate and Open Inference Protocol decoders included). Decoding
// must never panic; a failure must be a 4xx with a message; a success must
// satisfy every limit.
func FuzzDecodeRequest(f *testing.F) {
	seeds := []string{
		`{"query": "capital of France", "documents": ["Paris", "Berlin"], "model": "BAAI/bge-reranker-base"}`,
		`{"query":"q","documents":["a"],"top_n":1,"return_documents":true,"raw_scores":true}`,
		`{"query":"q","texts":["a","b"],"truncate":false,"truncation_direction":"Right","raw_scores":false,"return_text":true}`,
		`{"model":"m","query":"q","documents":["a",{"text":"b"}],"top_n":2,"return_documents":false}`,
		`{"model":"m","query":"q","documents":["a"],"max_tokens_per_doc":512}`,
		`{"query":null,"documents":null}`,
		`{"query":"q","documents":[{"text":null}]}`,
		`{"query":"q","documents":["a"],"top_n":1e400}`,
		`{"query":"q","documents":["a"],"top_n":-0}`,
		`[[[[`, `null`, `"s"`, `{}`, ``,
		// Weaviate's reranker-transformers form.
		`{"query":"q","documents":["a",""],"property":""}`,
		`{"query":"q","property":"a"}`,
		// The Open Inference Protocol v2.
		`{"id":"42","parameters":{"top_n":1,"raw_scores":true},"inputs":[{"name":"query","datatype":"BYTES","shape":[1],"data":["q"]},` +
			`{"name":"documents","datatype":"BYTES","shape":[2,1],"data":[["a"],["b"]]}],"outputs":[{"name":"scores"}]}`,
		`{"inputs":[{"name":"query","datatype":"BYTES","shape":[1],"data":["q"]},{"name":"documents","datatype":"BYTES","shape":[9e99],"data":[]}]}`,
		`{"inputs":[{"name":"documents","datatype":"FP32","shape":[-1],"data":[[[1]]]}]}`,
	}
	for _, s := range seeds {
		for ep := range numEndpoints {
			f.Add(byte(ep), []byte(s))
		}
	}
	lim := Limits{MaxBodyBytes: 1 << 20, MaxDocuments: 8, MaxDocumentBytes: 64}
	f.Fuzz(func(t *testing.T, ep byte, body []byte) {
		e := endpoint(ep % byte(numEndpoints))
		req, aerr := decodeRequest(e, body, lim)
		if aerr != nil {
			if req != nil {
				t.Fatal("both a request and an error")
			}
			if aerr.Status < 400 || aerr.Status > 499 || aerr.Message == "" {
				t.Fatalf("error %d %q", aerr.Status, aerr.Message)
			}
			if !utf8.ValidString(aerr.Message) {
				t.Fatalf("message is not UTF-8: %q", aerr.Message)
			}
			_ = aerr.body()
			return
		}
		if strings.TrimSpace(req.Query) == "" || len(req.Query) > lim.MaxDocumentBytes {
			t.Fatalf("query %q accepted", req.Query)
		}
		if len(req.Docs) == 0 || len(req.Docs) > lim.MaxDocuments {
			t.Fatalf("%d documents accepted", len(req.Docs))
		}
		for _, d := range req.Docs {
			if len(d) > lim.MaxDocumentBytes || strings.IndexByte(d, 0) >= 0 || !utf8.ValidString(d) {
				t.Fatalf("document %q accepted", d)
			}
		}
		if req.Form != formOf(e) && !(e == epRerank && req.Form == FormTEI) {
			t.Fatalf("endpoint %d decoded as form %v", e, req.Form)
		}
		if req.Single && (e != epWeaviate || len(req.Docs) != 1) {
			t.Fatalf("single-pair form with %d documents at endpoint %d", len(req.Docs), e)
		}
		if req.TopN < 0 || req.MaxTokensPerDoc < 0 {
			t.Fatalf("negative top_n %d or max_tokens_per_doc %d", req.TopN, req.MaxTokensPerDoc)
		}
		if (req.Form == FormTEI) != (e == epRerank && strings.Contains(string(body), `"texts"`)) && req.Form == FormTEI {
			t.Fatalf("TEI form without texts")
		}
	})
}
