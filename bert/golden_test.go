package bert

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/ml"
)

// Tests against the goldens that transformers computed for the fixture
// checkpoints (testdata/gen/generate.py): the logits of each pair alone
// ("logits") and in padded batches of 8 ("batched_logits"), with the
// input_ids and token_type_ids used, so no tokenizer is involved.

const testdata = "../testdata"

// goldenModels are the fixture checkpoints and their logit tolerance: fp16
// and bf16 checkpoints are widened to float32 at load, but transformers ran
// them in their own dtype, so they agree less.
var goldenModels = []struct {
	name string
	tol  float64
}{
	{"bert", 1e-4},
	{"xlmr", 1e-4},
	{"bert-2labels", 1e-4},
	{"bert-fp16", 1e-3},
	{"xlmr-bf16", 1e-3},
	{"xlmr-sharded", 1e-4},
	{"xlmr-long", 1e-4},
}

// goldenBatch is the batch size the generator padded to.
const goldenBatch = 8

// The plain-loop attention is quadratic in the sequence length and runs on
// two shared cores, so the test keeps every short record but only a few
// long ones: maxLong records of longTokens or more, and for xlmr-long one of
// veryLongTokens or more (positions past 1,024, which is what that
// checkpoint is for).
const (
	longTokens     = 256
	maxLong        = 6
	veryLongTokens = 1024
)

type logitRecord struct {
	InputIDs      []int32   `json:"input_ids"`
	TokenTypeIDs  []int32   `json:"token_type_ids"`
	Logits        []float64 `json:"logits"`
	BatchedLogits []float64 `json:"batched_logits"`
}

func readJSONL[T any](t testing.TB, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []T
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<28)
	for line := 1; sc.Scan(); line++ {
		var rec T
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s:%d: %v", path, line, err)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

func loadFixture(t testing.TB, name string) *Model {
	t.Helper()
	m, err := Load(context.Background(), filepath.Join(testdata, "models", name), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// maxDiff is the largest |got - want| over a sequence's logits.
func maxDiff(got []float32, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range got {
		d = max(d, math.Abs(float64(got[i])-want[i]))
	}
	return d
}

func TestGoldenLogits(t *testing.T) {
	for _, gm := range goldenModels {
		t.Run(gm.name, func(t *testing.T) {
			t.Parallel()
			m := loadFixture(t, gm.name)
			recs := readJSONL[logitRecord](t, filepath.Join(testdata, "golden", "logits-"+gm.name+".jsonl.gz"))
			checkLogits(t, gm.name, m, fewLong(recs), gm.tol, len(recs))
		})
	}
}

// checkLogits runs the records one at a time and (the first maxBatched of
// them) in packed batches of 8 mixed lengths, and compares with
// transformers' logits alone and in padded batches, and the two runs with
// each other (batch invariance). On a mismatch it names the first layer that
// departs from the hidden-state golden, if there is one.
func checkLogits(t *testing.T, name string, m *Model, recs []logitRecord, tol float64, maxBatched int) {
	if len(recs) < goldenBatch {
		t.Fatalf("%s: %d records", name, len(recs))
	}
	ctx := context.Background()
	seqs := make([]ml.Sequence, len(recs))
	for i, r := range recs {
		seqs[i] = ml.Sequence{IDs: r.InputIDs, TypeIDs: r.TokenTypeIDs}
	}

	alone := make([][]float32, len(recs))
	worstAlone, worstAt := 0.0, 0
	for i := range seqs {
		out, err := m.Forward(ctx, seqs[i:i+1])
		if err != nil {
			t.Fatalf("%s: record %d: %v", name, i, err)
		}
		alone[i] = out[0]
		if d := maxDiff(out[0], recs[i].Logits); d > worstAlone {
			worstAlone, worstAt = d, i
		}
	}

	worstBatched, worstInvariance := 0.0, 0.0
	batched := min(maxBatched, len(seqs))
	for b := 0; b < batched; b += goldenBatch {
		end := min(b+goldenBatch, batched)
		out, err := m.Forward(ctx, seqs[b:end])
		if err != nil {
			t.Fatalf("%s: batch at %d: %v", name, b, err)
		}
		for i := range out {
			worstBatched = max(worstBatched, maxDiff(out[i], recs[b+i].BatchedLogits))
			worstInvariance = max(worstInvariance, maxDiff(out[i], f64(alone[b+i])))
		}
	}
	t.Logf("%s: %d pairs (%d batched), max |logit error| alone %.3g, batched %.3g (tolerance %g); max |alone - batched| %.3g",
		name, len(recs), batched, worstAlone, worstBatched, tol, worstInvariance)
	if worstAlone > tol || worstBatched > tol {
		t.Errorf("%s: logit error %.3g (record %d, %d tokens) / batched %.3g, tolerance %g\n%s",
			name, worstAlone, worstAt, len(recs[worstAt].InputIDs), worstBatched, tol, diagnoseLayers(t, m, name))
	}
	// Packed batches do the same arithmetic for a pair wherever it sits
	// (gemm's TestMatMulRowIndependentOfBatch), so the two runs agree to the
	// bit, on every architecture.
	if worstInvariance != 0 {
		t.Errorf("%s: a pair's logits depend on its batch: max |alone - batched| %.3g, want 0", name, worstInvariance)
	}
}

// fewLong selects the records to run (see longTokens). Any subset can be
// packed into batches and compared with batched_logits: transformers'
// padded batches are batch-invariant up to float rounding.
func fewLong(recs []logitRecord) []logitRecord {
	var out []logitRecord
	long, veryLong := 0, 0
	for _, r := range recs {
		switch n := len(r.InputIDs); {
		case n >= veryLongTokens:
			if veryLong == 1 {
				continue
			}
			veryLong++
		case n >= longTokens:
			if long == maxLong {
				continue
			}
			long++
		}
		out = append(out, r)
	}
	return out
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// diagnoseLayers says where the model first departs from transformers'
// hidden states, when the golden file has them.
func diagnoseLayers(t testing.TB, m *Model, name string) string {
	path := filepath.Join(testdata, "golden", "hidden-"+name+".jsonl.gz")
	if _, err := os.Stat(path); err != nil {
		return "(no hidden-state golden to name the failing layer)"
	}
	for _, rec := range readJSONL[hiddenRecord](t, path) {
		if msg := compareHidden(m, rec, 1e-4); msg != "" {
			return msg
		}
	}
	return "hidden states all agree within 1e-4: the head differs"
}

// TestReal checks the real all-MiniLM-L6-v2 weights (with the seeded
// cross-encoder head the fixture generator gives them) against
// transformers' logits, every pair alone and the first realBatched in
// batches. The checkpoint is too large to commit: `make test-real` points
// CROSSRANK_REAL at it. With gonum's sgemm the 208 pairs alone take about
// 100 s of CPU; the batched pass is cut short to stay well inside go test's
// default 10-minute timeout on a shared machine.
func TestReal(t *testing.T) {
	root := os.Getenv("CROSSRANK_REAL")
	if root == "" {
		t.Skip("CROSSRANK_REAL is not set (make test-real)")
	}
	m, err := Load(context.Background(), filepath.Join(root, "minilm-cross"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	recs := readJSONL[logitRecord](t, filepath.Join(testdata, "golden", "real-minilm.jsonl.gz"))
	const realBatched = 64
	checkLogits(t, "real-minilm", m, recs, 1e-4, realBatched)
}
