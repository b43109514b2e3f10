package bert

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/internal/testrand"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/reference"
	"github.com/crossrank/crossrank/weights"
)

// fastTestConfig is a random BERT or XLM-R shape with heads of a size the
// assembly takes (32, 64) or not (16, 48).
func fastTestConfig(t testing.TB, rng *rand.Rand) string {
	headDim := []int{16, 32, 48, 64}[rng.IntN(4)]
	heads := 1 + rng.IntN(4)
	hidden := heads * headDim
	act := []string{"gelu", "gelu_new", "relu"}[rng.IntN(3)]
	if rng.IntN(2) == 0 {
		return fmt.Sprintf(`{"architectures":["BertForSequenceClassification"],"vocab_size":60,"hidden_size":%d,
			"num_hidden_layers":2,"num_attention_heads":%d,"intermediate_size":%d,"max_position_embeddings":300,
			"type_vocab_size":2,"num_labels":%d,"hidden_act":%q}`, hidden, heads, 4*hidden, 1+rng.IntN(3), act)
	}
	return fmt.Sprintf(`{"architectures":["XLMRobertaForSequenceClassification"],"vocab_size":60,"hidden_size":%d,
		"num_hidden_layers":2,"num_attention_heads":%d,"intermediate_size":%d,"max_position_embeddings":302,
		"type_vocab_size":1,"pad_token_id":1,"layer_norm_eps":1e-5,"hidden_act":%q,"num_labels":1}`, hidden, heads, 3*hidden, act)
}

// TestFastModelMatchesReference runs whole random models on both backends
// with ragged packed batches (1-token sequences included) and compares the
// logits and every layer's hidden states.
func TestFastModelMatchesReference(t *testing.T) {
	rng := testrand.Fresh(t)
	for range 6 {
		js := fastTestConfig(t, rng)
		cfg := testConfig(t, js)
		src := scaledCheckpoint(cfg, rng.Uint64())
		fast, err := newModel(context.Background(), cfg, src, cpu.Default())
		if err != nil {
			t.Fatal(err)
		}
		ref, err := newModel(context.Background(), cfg, src, reference.New())
		if err != nil {
			t.Fatal(err)
		}
		lens := testrand.Lengths(rng, 1+rng.IntN(8), 1+rng.IntN(fast.MaxTokens()))
		seqs := randomSequences(rng, cfg, lens...)
		var hf, hr [][]float32
		fast.observe = func(_ int, h []float32) { hf = append(hf, h) }
		ref.observe = func(_ int, h []float32) { hr = append(hr, h) }
		got, err := fast.Forward(context.Background(), seqs)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.Forward(context.Background(), seqs)
		if err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("%v hidden %d heads %d act %s, lengths %v", cfg.Arch(), cfg.HiddenSize, cfg.NumAttentionHeads, cfg.HiddenAct, lens)
		for l := range hr {
			for i := range hr[l] {
				if d := math.Abs(float64(hf[l][i]-hr[l][i])) / max(1, math.Abs(float64(hr[l][i]))); d > 1e-4 {
					t.Fatalf("%s: %s: element %d: fast %v, reference %v", what, layerName(l), i, hf[l][i], hr[l][i])
				}
			}
		}
		for s := range want {
			for j := range want[s] {
				if d := math.Abs(float64(got[s][j] - want[s][j])); d > 1e-4 {
					t.Fatalf("%s: sequence %d logit %d: fast %v, reference %v", what, s, j, got[s][j], want[s][j])
				}
			}
		}
	}
}

// scaledCheckpoint is randomCheckpoint with each Linear weight scaled by
// 1/sqrt(in), as initialisers do, so that activations keep the size of a
// trained model's instead of growing layer by layer (which would make any
// float32 rounding difference look large).
func scaledCheckpoint(cfg *weights.Config, seed uint64) mapSource {
	src := randomCheckpoint(cfg, seed)
	for name, t := range src {
		if len(t.shape) == 2 && !strings.Contains(name, "embeddings") {
			s := float32(2 / math.Sqrt(float64(t.shape[1])))
			for i := range t.data {
				t.data[i] *= s
			}
		}
	}
	return src
}

// TestFastForwardAllocs checks that the backend allocates nothing in the
// steady state: a layer's operations on a warm arena.
func TestFastForwardAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	cfg := testConfig(t, `{"architectures":["BertForSequenceClassification"],"vocab_size":100,"hidden_size":64,
		"num_hidden_layers":2,"num_attention_heads":2,"intermediate_size":256,"num_labels":1}`)
	m, err := newModel(context.Background(), cfg, randomCheckpoint(cfg, 1), cpu.Default())
	if err != nil {
		t.Fatal(err)
	}
	seqs := randomSequences(rand.New(rand.NewPCG(1, 2)), cfg, 20, 1, 90, 33)
	b, err := m.pack(seqs)
	if err != nil {
		t.Fatal(err)
	}
	pass := func() {
		r, _ := m.backend.NewRun(context.Background(), len(b.ids))
		x := m.embeddings.Forward(r, b.ids, b.typeIDs, b.positions)
		x = m.encoder.Forward(r, x, b.offsets, b.first, nil) // the last layer on b.first only
		m.head.Forward(r, x)
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
		r.Close()
	}
	pass()
	// A GC empties the sync.Pool of arenas (then one pass allocates them
	// again): with the collector off while measuring, nothing may allocate.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	if allocs := testing.AllocsPerRun(20, pass); allocs != 0 {
		t.Errorf("a forward pass on a warm arena: %v allocations, want 0", allocs)
	}
}

// TestFastConcurrentRuns runs forward passes on several goroutines at once
// (they share the helper pool and the GEMM pool) and checks each result.
func TestFastConcurrentRuns(t *testing.T) {
	cfg := testConfig(t, tinyBert)
	src := randomCheckpoint(cfg, 5)
	fast, _ := newModel(context.Background(), cfg, src, cpu.Default())
	ref, _ := newModel(context.Background(), cfg, src, reference.New())
	rng := rand.New(rand.NewPCG(6, 7))
	batches := make([][]ml.Sequence, 8)
	wants := make([][][]float32, len(batches))
	for i := range batches {
		batches[i] = randomSequences(rng, cfg, testrand.Lengths(rng, 1+rng.IntN(5), 1+rng.IntN(fast.MaxTokens()))...)
		wants[i], _ = ref.Forward(context.Background(), batches[i])
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := range 10 {
				i := (g + rep) % len(batches)
				got, err := fast.Forward(context.Background(), batches[i])
				if err != nil {
					t.Error(err)
					return
				}
				for s := range got {
					for j := range got[s] {
						if math.Abs(float64(got[s][j]-wants[i][s][j])) > 1e-4 {
							t.Errorf("batch %d sequence %d: %v, reference %v", i, s, got[s], wants[i][s])
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}

// TestGoldenLogitsReference keeps the reference backend checked against
// transformers on a few records of each architecture (TestGoldenLogits
// runs every fixture on the default backend, the fast one).
func TestGoldenLogitsReference(t *testing.T) {
	const records = 16
	for _, name := range []string{"bert", "xlmr"} {
		t.Run(name, func(t *testing.T) {
			m, err := Load(context.Background(), filepath.Join(testdata, "models", name), Options{Backend: reference.New()})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			recs := readJSONL[logitRecord](t, filepath.Join(testdata, "golden", "logits-"+name+".jsonl.gz"))
			checkLogits(t, name+" (reference backend)", m, recs[:records], 1e-4, records)
		})
	}
}
