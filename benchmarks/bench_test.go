package benchmarks

import (
	"math"
	"path/filepath"
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

func TestFLOPsDecoder(t *testing.T) {
	// Worked by hand: h=2, i=3, 2 query heads and 1 key-value head of 2
	// (q=4, kv=2), causal, a SwiGLU MLP, the 2 rows of lm_head; one layer,
	// sequences of 1 and 3 tokens (T=4). Projections: Q 2*4*2*4 = 64, K and
	// V 2*4*2*2 = 32 each, O 2*4*4*2 = 64: 192. MLP 2*4*3*(2*3) = 144.
	// Causal pairs 1 + (1+2+3) = 7: scores and their use on V 2*2*7*4 =
	// 112. Head 2 sequences * 2*2*2 = 16.
	s := Shape{Hidden: 2, Layers: 1, Intermediate: 3, Heads: 2, KVHeads: 1, HeadDim: 2, Gated: true, Causal: true, HeadRows: 2}
	if got := s.FLOPs([]int{1, 3}); got != 464 {
		t.Errorf("FLOPs = %v, want 464", got)
	}
	// Qwen3-Reranker-0.6B on one token, from its published config: per
	// layer 2*(1024*2048 + 2*1024*1024 + 2048*1024 + 3*1024*3072) =
	// 31,457,280, 28 of them; attention 28 * 4*1*2048; yes and no rows
	// 2*1024*2. Not 2*1024*151669 for the whole lm_head.
	q := Shape{Hidden: 1024, Layers: 28, Intermediate: 3072, Labels: 1, Heads: 16, KVHeads: 8, HeadDim: 128, Gated: true, Causal: true, HeadRows: 2}
	if got, want := q.FLOPs([]int{1}), 28*31457280.0+28*4*2048+2*1024*2; got != want {
		t.Errorf("Qwen3-0.6B one token: %.10g FLOPs, want %.10g", got, want)
	}
}

func TestFLOPsLocalWindow(t *testing.T) {
	// Worked by hand: h=2, i=1, GeGLU, 2 layers of which 1 local with a
	// window of 1 token either side, one label; one sequence of 4 tokens.
	// Per layer projections 2*4*(4+8+4) = 128 and MLP 2*4*3*2*1 = 48: 352
	// for both. The global layer scores 16 pairs: 4*16*2 = 128; the local
	// one 2+3+3+2 = 10: 4*10*2 = 80. Head 2*2*2 + 2*2*1 = 12.
	s := Shape{Hidden: 2, Layers: 2, Intermediate: 1, Labels: 1, Gated: true, LocalLayers: 1, Window: 1}
	if got := s.FLOPs([]int{4}); got != 572 {
		t.Errorf("FLOPs = %v, want 572", got)
	}
	// windowPairs against counting the pairs one by one.
	for w := 0; w <= 5; w++ {
		for l := 0; l <= 20; l++ {
			n := 0
			for i := range l {
				for j := range l {
					if i-j <= w && j-i <= w {
						n++
					}
				}
			}
			if got := windowPairs(l, w); got != float64(n) {
				t.Errorf("windowPairs(%d, %d) = %v, want %d", l, w, got, n)
			}
		}
	}
	// Past the window a local layer's cost grows linearly with length.
	long := Shape{Hidden: 768, Layers: 1, Intermediate: 1152, Labels: 1, Gated: true, LocalLayers: 1, Window: 64}
	d1 := long.FLOPs([]int{2000}) - long.FLOPs([]int{1000})
	d2 := long.FLOPs([]int{3000}) - long.FLOPs([]int{2000})
	if d1 != d2 {
		t.Errorf("local layer: +1000 tokens costs %v then %v, want equal", d1, d2)
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want Shape
		fam  string
	}{
		// testdata/models/*/config.json: hidden 32, 2 layers, 4 heads of
		// 16 over 2 key-value heads, intermediate 64.
		{"qwen3-tied", Shape{Hidden: 32, Layers: 2, Intermediate: 64, Labels: 1, Heads: 4, KVHeads: 2, HeadDim: 16, Gated: true, Causal: true, HeadRows: 2}, "bert"},
		{"qwen3-seq-cls", Shape{}, "bert"},
		// hidden 32, 3 layers, global every 2nd: layers 0 and 2 global.
		{"modernbert", Shape{Hidden: 32, Layers: 3, Intermediate: 32, Labels: 1, Gated: true, LocalLayers: 1, Window: 8}, "xlmr"},
		{"bert", Shape{}, "bert"},
		{"xlmr", Shape{}, "xlmr"},
	} {
		ck, err := Describe(filepath.Join("..", "testdata", "models", tc.dir))
		if err != nil {
			t.Errorf("%s: %v", tc.dir, err)
			continue
		}
		if ck.SetFamily != tc.fam {
			t.Errorf("%s: set family %q, want %q", tc.dir, ck.SetFamily, tc.fam)
		}
		if tc.want != (Shape{}) && ck.Shape != tc.want {
			t.Errorf("%s: shape %+v, want %+v", tc.dir, ck.Shape, tc.want)
		}
		if tc.dir == "qwen3-seq-cls" && ck.Shape.HeadRows != 1 {
			t.Errorf("%s: %d head rows, want 1 (score)", tc.dir, ck.Shape.HeadRows)
		}
	}
	if _, err := Describe(t.TempDir()); err == nil {
		t.Error("Describe of a folder without config.json: no error")
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
