package benchmarks

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestDefaultWorkload(t *testing.T) {
	w, err := DefaultWorkload()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, fam string
		n, lo, hi int
	}{
		{"short", "bert", 20, 32, 256},
		{"short", "bert", 100, 32, 256},
		{"short", "xlmr", 20, 32, 256},
		{"short", "xlmr", 100, 32, 256},
		{"long", "xlmr", 20, 512, 2048},
	} {
		s, err := w.Find(c.name, c.fam, c.n)
		if err != nil {
			t.Fatal(err)
		}
		// The workload: a 12-token query, documents within the
		// set's range, pairs = query + document + the family's specials.
		specials := map[string]int{"bert": 3, "xlmr": 4}[c.fam]
		for i, p := range s.Pairs {
			d := s.DocTokens[i]
			if d < c.lo || d > c.hi {
				t.Errorf("%s pair %d: document of %d tokens, outside %d..%d", s.Key(), i, d, c.lo, c.hi)
			}
			if got, want := len(p.InputIDs), w.QueryTokens+d+specials; got != want {
				t.Errorf("%s pair %d: %d ids, want %d", s.Key(), i, got, want)
			}
			if strings.Count(p.Text, " ")+1 != d {
				t.Errorf("%s pair %d: text of %d words for %d tokens", s.Key(), i, strings.Count(p.Text, " ")+1, d)
			}
		}
	}
	if w.QueryTokens != 12 {
		t.Errorf("query of %d tokens, want 12", w.QueryTokens)
	}
	if _, err := w.Find("short", "bert", 7); err == nil || !strings.Contains(err.Error(), "short/bert/n7") {
		t.Errorf("Find of a missing set: %v", err)
	}
}

func TestParseWorkloadErrors(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{`{`, "workload:"},
		{`{"version":2,"sets":[{}]}`, "version 2"},
		{`{"version":1}`, "no sets"},
		{`{"version":1,"sets":[{"name":"s","family":"bert","n":1,"doc_tokens":[1],"pairs":[{"input_ids":[1,2],"token_type_ids":[0]}]}]}`, "pair 0: 1 token_type_ids for 2 input_ids"},
		{`{"version":1,"sets":[{"name":"s","family":"bert","n":2,"doc_tokens":[1],"pairs":[{"input_ids":[1],"token_type_ids":[0]}]}]}`, "n 2, but 1 pairs"},
		{`{"version":1,"sets":[{"name":"s","family":"bert","n":1,"doc_tokens":[1],"pairs":[{"input_ids":[-1],"token_type_ids":[0]}]}]}`, "input_ids[0] = -1"},
	} {
		_, err := ParseWorkload([]byte(c.raw))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseWorkload(%s) = %v, want an error with %q", c.raw, err, c.want)
		}
	}
}

func TestFLOPs(t *testing.T) {
	// Worked by hand: h=2, i=4, one layer, one label, sequences of 1 and 2
	// tokens (T=3). Projections 2*3*4*2*2 = 96, feed-forward 2*3*2*2*4 = 96,
	// attention 2*2*(1+4)*2 = 40; head 2*2*2*2 + 2*2*2*1 = 24.
	s := Shape{Hidden: 2, Layers: 1, Intermediate: 4, Labels: 1}
	if got := s.FLOPs([]int{1, 2}); got != 256 {
		t.Errorf("FLOPs = %v, want 256", got)
	}
	// Two layers double the encoder, not the head.
	s.Layers = 2
	if got := s.FLOPs([]int{1, 2}); got != 2*232+24 {
		t.Errorf("two layers: FLOPs = %v, want %v", got, 2*232+24)
	}
	// Padding to the batch's longest: [1 3] in one batch costs [3 3];
	// in batches of one it costs what it is.
	if got, want := s.PaddedFLOPs([]int{1, 3}, 2), s.FLOPs([]int{3, 3}); got != want {
		t.Errorf("PaddedFLOPs = %v, want %v", got, want)
	}
	if got, want := s.PaddedFLOPs([]int{1, 3}, 1), s.FLOPs([]int{1, 3}); got != want {
		t.Errorf("PaddedFLOPs batch 1 = %v, want %v", got, want)
	}
	// MiniLM-L6 on one 128-token pair, from its published shape: dense
	// 6 layers x 2 x 128 x (4 x 384^2 + 2 x 384 x 1536) = 2.72e9, attention
	// 6 x 4 x 128^2 x 384 = 1.51e8, pooler and classifier 2 x 384 x 385.
	m := Shape{Hidden: 384, Layers: 6, Intermediate: 1536, Labels: 1}
	want := 2717908992.0 + 150994944 + 295680
	if got := m.FLOPs([]int{128}); math.Abs(got-want) > 1 {
		t.Errorf("MiniLM-L6 128 tokens: %.10g FLOPs, want %.10g", got, want)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 20; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if got := percentile(d, 50); got != 10 {
		t.Errorf("p50 of 1..20 ms = %v, want 10", got)
	}
	if got := percentile(d, 95); got != 19 {
		t.Errorf("p95 of 1..20 ms = %v, want 19", got)
	}
	if got := percentile(d[:1], 95); got != 20 {
		t.Errorf("p95 of one sample = %v, want 20", got)
	}
}

func TestCPUBackendPrecision(t *testing.T) {
	if _, err := cpuBackend("fp16"); err == nil || !strings.Contains(err.Error(), "fp16") {
		t.Errorf("fp16: err %v, want one naming fp16", err)
	}
	for _, tc := range []struct{ in, want string }{{"", "fp32"}, {"float32", "fp32"}, {"bf16", "bf16"}, {"bfloat16", "bf16"}, {"int8", "int8"}} {
		be, err := cpuBackend(tc.in)
		if err != nil {
			// Only a CPU without the kernel may refuse, and it must say so.
			if tc.want == "fp32" || !strings.Contains(err.Error(), "fp32") {
				t.Errorf("%q: %v", tc.in, err)
			}
			continue
		}
		if be.Precision() != tc.want {
			t.Errorf("%q: runs %s, want %s", tc.in, be.Precision(), tc.want)
		}
	}
}
