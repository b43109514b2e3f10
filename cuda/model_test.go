//go:build cuda

package cuda

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/bert"
	"github.com/crossrank/crossrank/ml"
)

// The fixture checkpoints through bert.Load with this backend, against the
// logits transformers computed (testdata/golden/logits-<model>.jsonl.gz):
// each pair alone and the pairs packed in batches of 8.

const testdata = "../testdata"

type goldenRecord struct {
	InputIDs      []int32   `json:"input_ids"`
	TokenTypeIDs  []int32   `json:"token_type_ids"`
	Logits        []float64 `json:"logits"`
	BatchedLogits []float64 `json:"batched_logits"`
}

func readGolden(t *testing.T, name string) []goldenRecord {
	t.Helper()
	f, err := os.Open(filepath.Join(testdata, "golden", "logits-"+name+".jsonl.gz"))
	if err != nil {
		t.Fatalf("committed golden missing (MANIFEST.json lists it): %v", err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var recs []goldenRecord
	sc := bufio.NewScanner(z)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r goldenRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// fixtureTolerance is the max |logit error| allowed. fp32: 6e-5, under 3x
// the largest error cuda/NOTES.md records over all 7 fixtures (2.2e-5,
// xlmr-long at 2048 tokens; the goldens of the checkpoints stored in
// fp16/bf16 are transformers' fp32 pass over the stored values, so the same
// bound holds for them).
//
// For fp16/bf16 the design's 2e-2 is out of reach on these small
// random-weight models, for PyTorch itself: run in fp16 and bf16 it lands
// up to ~0.04 and ~0.23 from its own fp32 logits (half_reference.py wrote
// testdata/half-reference.json). NOTES.md records our errors only as ranges
// over the models (fp16 0.010-0.035, bf16 0.115-0.217), all under twice
// PyTorch's error on each model, which is the bound; the per-model values
// are in this test's log on the next device run.
func fixtureTolerance(t *testing.T, model string, p Precision) float64 {
	if p == FP32 {
		return 6e-5
	}
	ref := halfReference(t)[model][p.String()]
	if ref == 0 {
		t.Fatalf("testdata/half-reference.json has no %s error for %s: run cuda/half_reference.py", p, model)
	}
	return 2 * ref
}

func halfReference(t *testing.T) map[string]map[string]float64 {
	data, err := os.ReadFile(filepath.Join("testdata", "half-reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for k, v := range raw {
		var m map[string]float64
		if json.Unmarshal(v, &m) == nil {
			out[k] = m
		}
	}
	return out
}

var fixtureModels = []string{"bert", "xlmr", "bert-2labels", "bert-fp16", "xlmr-bf16", "xlmr-sharded", "xlmr-long"}

func TestFixtureLogits(t *testing.T) {
	for _, p := range precisions {
		for _, name := range fixtureModels {
			t.Run(p.String()+"/"+name, func(t *testing.T) {
				b := testBackend(t, p)
				dir := filepath.Join(testdata, "models", name)
				if _, err := os.Stat(dir); err != nil {
					t.Fatalf("committed fixture missing: %v", err)
				}
				ctx := context.Background()
				m, err := bert.Load(ctx, dir, bert.Options{Backend: b})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				recs := readGolden(t, name)
				seqs := make([]ml.Sequence, len(recs))
				for i, r := range recs {
					seqs[i] = ml.Sequence{IDs: r.InputIDs, TypeIDs: r.TokenTypeIDs}
				}
				tol := fixtureTolerance(t, name, p)
				worstAlone, worstBatched, worstAt := 0.0, 0.0, 0
				for i := range seqs {
					out, err := m.Forward(ctx, seqs[i:i+1])
					if err != nil {
						t.Fatalf("record %d: %v", i, err)
					}
					if d := maxDiff(out[0], recs[i].Logits); d > worstAlone {
						worstAlone, worstAt = d, i
					}
				}
				const batch = 8
				for s := 0; s < len(seqs); s += batch {
					e := min(s+batch, len(seqs))
					out, err := m.Forward(ctx, seqs[s:e])
					if err != nil {
						t.Fatalf("batch at %d: %v", s, err)
					}
					for i := range out {
						worstBatched = max(worstBatched, maxDiff(out[i], recs[s+i].BatchedLogits))
					}
				}
				t.Logf("%s %s: %d pairs, max |logit error| alone %.3g (record %d, %d tokens), batched %.3g; tolerance %g",
					name, p, len(recs), worstAlone, worstAt, len(recs[worstAt].InputIDs), worstBatched, tol)
				if worstAlone > tol || worstBatched > tol {
					t.Errorf("%s %s: logit error alone %.3g, batched %.3g, tolerance %g", name, p, worstAlone, worstBatched, tol)
				}
			})
		}
	}
}

func maxDiff(got []float32, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range got {
		if math.IsNaN(float64(got[i])) {
			return math.Inf(1)
		}
		d = max(d, math.Abs(float64(got[i])-want[i]))
	}
	return d
}
