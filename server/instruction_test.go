package server

import (
	"strings"
	"testing"
)

// The "instruction" field (decoder re-rankers) is read in every form and
// checked like the query.
func TestDecodeInstruction(t *testing.T) {
	for _, c := range []struct {
		ep   endpoint
		body string
	}{
		{epRerank, `{"query": "q", "documents": ["a"], "instruction": "find it"}`},
		{epRerank, `{"query": "q", "texts": ["a"], "instruction": "find it"}`},
		{epJina, `{"query": "q", "documents": ["a"], "instruction": "find it"}`},
		{epCohere, `{"query": "q", "documents": ["a"], "instruction": "find it"}`},
	} {
		r, err := decodeRequest(c.ep, []byte(c.body), DefaultLimits)
		if err != nil || r.Instruction != "find it" {
			t.Errorf("%s: %+v, %v", c.body, r, err)
		}
	}
	if r, err := decodeRequest(epRerank, []byte(`{"query": "q", "documents": ["a"]}`), DefaultLimits); err != nil || r.Instruction != "" {
		t.Errorf("no instruction: %+v, %v", r, err)
	}
	lim := DefaultLimits
	lim.MaxDocumentBytes = 8
	for body, want := range map[string]string{
		`{"query": "q", "documents": ["a"], "instruction": 3}`:               "instruction",
		`{"query": "q", "documents": ["a"], "instruction": "a\u0000b"}`:      "NUL",
		`{"query": "q", "documents": ["a"], "instruction": "much too long"}`: "more than the limit",
	} {
		_, err := decodeRequest(epRerank, []byte(body), lim)
		if err == nil || !strings.Contains(err.Message, want) {
			t.Errorf("%s: %v, want an error with %q", body, err, want)
		}
	}
}
