package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestHostileInputRealModel sends hostile requests to the real re-ranker
// (bert and xlmr fixtures, default limits): each gets a 4xx with a message
// in its form's error shape, or, where the input is odd but valid, a 200;
// never a 5xx. The fake-model tests (TestErrors, TestHostileSizes,
// TestDeepNesting) cover the decoding rules one by one; this one checks
// that nothing hostile gets through them to the tokenizer or the model and
// breaks there.
func TestHostileInputRealModel(t *testing.T) {
	bert, xlmr := realModels(t)
	_, ts := newTestServer(t, Config{}, "bert", bert, "xlmr", xlmr)
	mb := strings.Repeat("a", 1<<20)
	many := `"` + strings.Repeat(`d","`, 99999) + `d"`
	longWord := strings.Repeat("x", 120<<10) // one 120 KiB token-less word, under the 128 KiB limit
	for _, c := range []struct {
		name, path, body string
		status           int
	}{
		{"1 MB document", "/rerank", `{"query":"q","documents":["ok","` + mb + `"]}`, 422},
		{"1 MB query", "/v2/rerank", `{"query":"` + mb + `","documents":["ok"]}`, 422},
		{"100,000 documents", "/v1/rerank", `{"query":"q","documents":[` + many + `]}`, 422},
		{"100,000 texts", "/rerank", `{"query":"q","texts":[` + many + `]}`, 422},
		{"deep nesting in documents", "/rerank", `{"query":"q","documents":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, 400},
		{"deep nesting in a jina document", "/v1/rerank", `{"query":"q","documents":[{"text":` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000) + `}]}`, 422},
		{"invalid UTF-8 in a document", "/rerank", "{\"query\":\"q\",\"documents\":[\"ok\",\"\xc3\x28\"]}", 400},
		{"invalid UTF-8 in a TEI text", "/rerank", "{\"query\":\"q\",\"texts\":[\"ok\",\"\xc3\x28\"]}", 400},
		{"broken TEI JSON", "/rerank", `{"query":"q","texts":["ok"`, 400},
		{"invalid UTF-8 in the query", "/v2/rerank", "{\"query\":\"\xff\xfe\",\"documents\":[\"ok\"]}", 400},
		{"invalid UTF-8 in a key", "/rerank", "{\"qu\xffery\":\"q\",\"documents\":[\"ok\"]}", 400},
		{"NUL in a document", "/v1/rerank", `{"query":"q","documents":["a\u0000b"]}`, 422},
		{"NUL in the query", "/rerank", `{"query":"\u0000","documents":["a"]}`, 422},
		{"raw NUL byte", "/rerank", "{\"query\":\"q\",\"documents\":[\"a\x00b\"]}", 400},
		{"number as query", "/v2/rerank", `{"query":1e999,"documents":["a"]}`, 422},
		{"numbers as texts", "/rerank", `{"query":"q","texts":[1,2,3]}`, 422},
		{"bool as document", "/v1/rerank", `{"query":"q","documents":[true]}`, 422},
		{"object as query", "/rerank", `{"query":{"text":"q"},"documents":["a"]}`, 422},
		{"number as model", "/v2/rerank", `{"model":7,"query":"q","documents":["a"]}`, 422},
		{"huge top_n", "/rerank", `{"query":"q","documents":["a"],"top_n":1e400}`, 422},
		{"negative top_n", "/v1/rerank", `{"query":"q","documents":["a"],"top_n":-5}`, 422},
		{"huge max_tokens_per_doc", "/v2/rerank", `{"query":"q","documents":["a"],"max_tokens_per_doc":99999999999999999999}`, 422},
		{"empty body", "/rerank", ``, 400},
		{"just a string", "/v2/rerank", `"query"`, 422},
		{"BOM before the JSON", "/rerank", "\ufeff{\"query\":\"q\",\"documents\":[\"a\"]}", 400},
		{"unknown model", "/v1/rerank", `{"model":"../../etc/passwd","query":"q","documents":["a"]}`, 404},
		{"1 MB document, Weaviate", "/weaviate/rerank", `{"query":"q","documents":["ok","` + mb + `"],"property":""}`, 422},
		{"100,000 documents, Weaviate", "/weaviate/rerank", `{"query":"q","documents":[` + many + `]}`, 422},
		{"100,000 documents, OIP", "/v2/models/bert/infer", `{"inputs":[{"name":"query","datatype":"BYTES","shape":[1],"data":["q"]},{"name":"documents","datatype":"BYTES","shape":[100000],"data":[` + many + `]}]}`, 422},
		{"a shape that lies, OIP", "/v2/models/bert/infer", `{"inputs":[{"name":"query","datatype":"BYTES","shape":[1],"data":["q"]},{"name":"documents","datatype":"BYTES","shape":[1],"data":[` + many + `]}]}`, 422},
		{"deep nesting in OIP data", "/v2/models/bert/infer", `{"inputs":[{"name":"documents","datatype":"BYTES","shape":[1,1,1,1,1,1,1,1],"data":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}]}`, 400},
		{"1 MB query, OIP", "/v2/models/xlmr/infer", `{"inputs":[{"name":"query","datatype":"BYTES","shape":[1],"data":["` + mb + `"]},{"name":"documents","datatype":"BYTES","shape":[1],"data":["a"]}]}`, 422},
		{"invalid UTF-8, OIP", "/v2/models/bert/infer", "{\"inputs\":[{\"name\":\"query\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"\xc3\x28\"]}]}", 400},
		{"unknown model, OIP", "/v2/models/..%2F..%2Fetc%2Fpasswd/infer", `{"inputs":[{"name":"query","datatype":"BYTES","shape":[1],"data":["q"]},{"name":"documents","datatype":"BYTES","shape":[1],"data":["a"]}]}`, 404},
		// Odd but valid: answered.
		{"control characters, OIP", "/v2/models/xlmr/infer", `{"inputs":[{"name":"query","datatype":"BYTES","shape":[1],"data":["\u0001"]},{"name":"documents","datatype":"BYTES","shape":[2,1],"data":[["\u001b[31m"],["\t"]]}]}`, 200},
		{"empty strings, Weaviate", "/weaviate/rerank", `{"query":"q","documents":["","",""],"property":""}`, 200},
		{"lone surrogate escape", "/rerank", `{"query":"\ud800","documents":["\udfff x"]}`, 200},
		{"control characters", "/v2/rerank", `{"model":"xlmr","query":"\u0001\u0002","documents":["\u001b[31mred\u001b[0m","\t\r\n"]}`, 200},
		{"whitespace-only document", "/rerank", `{"query":"q","documents":["   "]}`, 200},
		{"a 120 KiB word", "/v1/rerank", `{"model":"xlmr","query":"q","documents":["` + longWord + `"]}`, 200},
		{"a 120 KiB word, bert", "/rerank", `{"query":"q","texts":["` + longWord + `"]}`, 200},
		{"emoji and combining marks", "/rerank", `{"model":"xlmr","query":"🙂̈̈̈","documents":["👩‍👩‍👧‍👦 ǅ ﬁ ẞ","ﾊﾝｶｸ"]}`, 200},
		{"top_n above the document count", "/v2/rerank", `{"query":"q","documents":["a","b"],"top_n":100}`, 200},
		{"duplicate keys", "/rerank", `{"query":"a","query":"b","documents":["a"]}`, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := post(t, ts.URL+c.path, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %.300s", r.status, c.status, r.body)
			}
			if r.status != 200 {
				if msg := errorMessage(t, c.path, c.body, r.body); msg == "" {
					t.Errorf("no message: %s", r.body)
				}
			}
		})
	}
}

// TestAuthNoLeak: with an API key, near misses (the key in the wrong
// scheme, with a space, in the URL, in the body) are all refused with 401,
// and the key appears neither in the log lines nor in /metrics, whatever
// the request carried.
func TestAuthNoLeak(t *testing.T) {
	const key = "k3y-that-must-not-leak-7f2a"
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, ts := newTestServer(t, Config{APIKey: key, Logger: logger}, "m", &fakeRanker{})
	body := `{"query":"` + key + `","documents":["` + key + `"]}`
	for _, c := range []struct {
		path string
		hdr  []string
	}{
		{"/rerank", []string{"Authorization", "Basic " + key}},
		{"/rerank", []string{"Authorization", "Bearer  " + key}},
		{"/rerank", []string{"Authorization", "Bearer " + strings.ToUpper(key)}},
		{"/rerank", []string{"X-Api-Key", key}},
		{"/v1/rerank?api_key=" + key, nil},
		{"/v2/rerank/" + key, nil},
		{"/metrics?" + key, nil},
	} {
		if r := post(t, ts.URL+c.path, body, c.hdr...); r.status != http.StatusUnauthorized {
			t.Errorf("%s %v: status %d", c.path, c.hdr, r.status)
		}
	}
	if r := post(t, ts.URL+"/rerank", body, "Authorization", "Bearer "+key); r.status != 200 {
		t.Fatalf("with the key: %d %s", r.status, r.body)
	}
	m := get(t, ts.URL+"/metrics", "Authorization", "Bearer "+key)
	info := get(t, ts.URL+"/info", "Authorization", "Bearer "+key)
	mu.Lock()
	defer mu.Unlock()
	for what, text := range map[string]string{"logs": logs.String(), "/metrics": string(m.body), "/info": string(info.body)} {
		if strings.Contains(text, key) {
			t.Logf("%s", text)
		}
		if strings.Contains(text, key) || strings.Contains(strings.ToLower(text), strings.ToLower(key)) {
			t.Errorf("the API key appears in %s", what)
		}
	}
	var lines int
	for l := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) == nil {
			lines++
		}
	}
	if lines < 8 {
		t.Errorf("%d log lines for 8 requests: the check saw nothing", lines)
	}
}
