package bert

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/weights"
)

// Tests on random checkpoints built here, tensor by tensor from the
// Hugging Face names (not from the binder), so that loading errors and
// batching can be tested without fixture files.

// mapSource is a checkpoint in memory.
type mapSource map[string]fakeTensor

type fakeTensor struct {
	data  []float32
	shape []int
}

func (s mapSource) Names() []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	return names
}

func (s mapSource) Float32(name string) ([]float32, []int, error) {
	t, ok := s[name]
	if !ok {
		return nil, nil, fmt.Errorf("tensor %q: %w", name, weights.ErrNotFound)
	}
	return t.data, t.shape, nil
}

// testConfig parses a config.json the way a checkpoint's is parsed.
func testConfig(t testing.TB, js string) *weights.Config {
	t.Helper()
	cfg, err := weights.ParseConfig([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const tinyBert = `{"architectures":["BertForSequenceClassification"],"vocab_size":50,"hidden_size":16,
	"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":24,"max_position_embeddings":20,
	"type_vocab_size":2,"num_labels":3}`

const tinyXLMR = `{"architectures":["XLMRobertaForSequenceClassification"],"vocab_size":50,"hidden_size":16,
	"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":24,"max_position_embeddings":20,
	"type_vocab_size":1,"pad_token_id":1,"layer_norm_eps":1e-5,"hidden_act":"gelu_new","num_labels":1}`

// randomCheckpoint lists every tensor of a sequence-classification
// checkpoint by its transformers name, with random values.
func randomCheckpoint(cfg *weights.Config, seed uint64) mapSource {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	src := mapSource{}
	add := func(name string, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(rng.NormFloat64()) * 0.5
			if strings.HasSuffix(name, "LayerNorm.weight") {
				data[i] += 1
			}
		}
		src[name] = fakeTensor{data, shape}
	}
	h, inter := cfg.HiddenSize, cfg.IntermediateSize
	linear := func(name string, out, in int) {
		add(name+".weight", out, in)
		add(name+".bias", out)
	}
	norm := func(name string) {
		add(name+".weight", h)
		add(name+".bias", h)
	}
	p := cfg.Arch().Prefix()
	add(p+".embeddings.word_embeddings.weight", cfg.VocabSize, h)
	add(p+".embeddings.position_embeddings.weight", cfg.MaxPositionEmbeddings, h)
	add(p+".embeddings.token_type_embeddings.weight", cfg.TypeVocabSize, h)
	norm(p + ".embeddings.LayerNorm")
	for i := 0; i < cfg.NumHiddenLayers; i++ {
		l := fmt.Sprintf("%s.encoder.layer.%d.", p, i)
		linear(l+"attention.self.query", h, h)
		linear(l+"attention.self.key", h, h)
		linear(l+"attention.self.value", h, h)
		linear(l+"attention.output.dense", h, h)
		norm(l + "attention.output.LayerNorm")
		linear(l+"intermediate.dense", inter, h)
		linear(l+"output.dense", h, inter)
		norm(l + "output.LayerNorm")
	}
	if cfg.Arch() == weights.Bert {
		linear("bert.pooler.dense", h, h)
		linear("classifier", cfg.NumLabels, h)
	} else {
		linear("classifier.dense", h, h)
		linear("classifier.out_proj", cfg.NumLabels, h)
	}
	return src
}

func randomSequences(rng *rand.Rand, cfg *weights.Config, lens ...int) []ml.Sequence {
	seqs := make([]ml.Sequence, len(lens))
	for i, n := range lens {
		s := ml.Sequence{IDs: make([]int32, n), TypeIDs: make([]int32, n)}
		for j := range s.IDs {
			s.IDs[j] = int32(rng.IntN(cfg.VocabSize))
			if j > n/2 {
				s.TypeIDs[j] = int32(cfg.TypeVocabSize - 1)
			}
		}
		seqs[i] = s
	}
	return seqs
}

func TestRandomModelBatchInvariance(t *testing.T) {
	for _, js := range []string{tinyBert, tinyXLMR} {
		cfg := testConfig(t, js)
		m, err := newModel(context.Background(), cfg, randomCheckpoint(cfg, 7), cpu.Default())
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(8, 9))
		seqs := randomSequences(rng, cfg, 3, m.MaxTokens(), 1, 11, 4)
		batched, err := m.Forward(context.Background(), seqs)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i, s := range seqs {
			alone, err := m.Forward(context.Background(), []ml.Sequence{s})
			if err != nil {
				t.Fatal(err)
			}
			if len(alone[0]) != cfg.NumLabels || len(batched[i]) != cfg.NumLabels {
				t.Fatalf("%v: %d and %d logits, want %d", cfg.Arch(), len(alone[0]), len(batched[i]), cfg.NumLabels)
			}
			for j := range alone[0] {
				worst = max(worst, math.Abs(float64(alone[0][j]-batched[i][j])))
			}
		}
		if worst >= 1e-5 {
			t.Errorf("%v: max |alone - batched| = %g, want < 1e-5", cfg.Arch(), worst)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	cfg := testConfig(t, tinyBert)
	tests := []struct {
		name   string
		cfg    *weights.Config
		change func(mapSource)
		want   string
	}{
		{"missing tensor", cfg, func(s mapSource) { delete(s, "bert.encoder.layer.1.output.dense.bias") },
			`"bert.encoder.layer.1.output.dense.bias"`},
		{"shape mismatch", cfg, func(s mapSource) {
			s["bert.encoder.layer.0.intermediate.dense.weight"] = fakeTensor{make([]float32, 16*16), []int{16, 16}}
		}, `tensor "bert.encoder.layer.0.intermediate.dense.weight": shape [16 16], want [24 16]`},
		{"NaN weight", cfg, func(s mapSource) { s["classifier.weight"].data[5] = float32(math.NaN()) },
			`tensor "classifier.weight": element 5 is NaN`},
		{"Inf weight", cfg, func(s mapSource) {
			s["bert.embeddings.LayerNorm.bias"].data[0] = float32(math.Inf(-1))
		}, `tensor "bert.embeddings.LayerNorm.bias": element 0 is -Inf`},
		{"config does not fit", testConfig(t, strings.Replace(tinyBert, `"intermediate_size":24`, `"intermediate_size":32`, 1)), nil,
			`tensor "bert.encoder.layer.0.intermediate.dense.weight": shape [24 16], want [32 16]`},
		{"more layers than the config", testConfig(t, strings.Replace(tinyBert, `"num_hidden_layers":2`, `"num_hidden_layers":1`, 1)), nil,
			`checkpoint has tensor "bert.encoder.layer.1.`},
		{"unknown activation", testConfig(t, strings.Replace(tinyBert, `"vocab_size"`, `"hidden_act":"swish","vocab_size"`, 1)), nil,
			`hidden_act "swish" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := randomCheckpoint(cfg, 1)
			if tt.change != nil {
				tt.change(src)
			}
			_, err := newModel(context.Background(), tt.cfg, src, cpu.Default())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %s", err, tt.want)
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newModel(ctx, cfg, randomCheckpoint(cfg, 1), cpu.Default()); !errors.Is(err, context.Canceled) {
		t.Errorf("load with a cancelled context: %v", err)
	}
}

func TestForwardErrors(t *testing.T) {
	bcfg, xcfg := testConfig(t, tinyBert), testConfig(t, tinyXLMR)
	bm, err := newModel(context.Background(), bcfg, randomCheckpoint(bcfg, 1), cpu.Default())
	if err != nil {
		t.Fatal(err)
	}
	xm, err := newModel(context.Background(), xcfg, randomCheckpoint(xcfg, 1), cpu.Default())
	if err != nil {
		t.Fatal(err)
	}
	if bm.MaxTokens() != 20 || xm.MaxTokens() != 20-1-1 {
		t.Fatalf("MaxTokens: bert %d (want 20), xlmr %d (want 18: positions start after pad_token_id 1)", bm.MaxTokens(), xm.MaxTokens())
	}
	ok := ml.Sequence{IDs: []int32{2, 5, 3}}
	tests := []struct {
		name string
		m    *Model
		seqs []ml.Sequence
		want string
	}{
		{"too long", bm, []ml.Sequence{ok, {IDs: make([]int32, 21)}}, "sequence 1 has 21 tokens, more than the 20"},
		{"too long xlmr", xm, []ml.Sequence{{IDs: make([]int32, 19)}}, "sequence 0 has 19 tokens, more than the 18"},
		{"id outside vocab", bm, []ml.Sequence{ok, ok, {IDs: []int32{2, 50}}}, "sequence 2, token 1: id 50 is outside the vocabulary [0, 50)"},
		{"negative id", bm, []ml.Sequence{{IDs: []int32{-1}}}, "id -1 is outside"},
		{"type id", bm, []ml.Sequence{{IDs: []int32{2, 3}, TypeIDs: []int32{0, 2}}}, "sequence 0, token 1: type id 2 is outside [0, 2)"},
		{"type ids length", bm, []ml.Sequence{{IDs: []int32{2, 3}, TypeIDs: []int32{0}}}, "2 ids and 1 type ids"},
		{"empty", bm, []ml.Sequence{ok, {}}, "sequence 1 is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.m.Forward(context.Background(), tt.seqs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	// The longest allowed sequence works.
	if _, err := xm.Forward(context.Background(), []ml.Sequence{{IDs: make([]int32, 18)}}); err != nil {
		t.Errorf("18 tokens on xlmr: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := bm.Forward(ctx, []ml.Sequence{ok}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Forward: %v, want context.Canceled", err)
	}
}

// TestXLMRPositionIDs checks create_position_ids_from_input_ids' rule,
// including a padding token inside a sequence.
func TestXLMRPositionIDs(t *testing.T) {
	e := Embeddings{PaddingIdx: 1}
	got := e.positionIDs(nil, []int32{0, 7, 1, 9, 2})
	want := []int32{2, 3, 1, 4, 5}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("xlmr positions %v, want %v", got, want)
	}
	e = Embeddings{PaddingIdx: -1}
	if got := e.positionIDs([]int32{9}, []int32{0, 1, 1}); fmt.Sprint(got) != "[9 0 1 2]" {
		t.Errorf("bert positions appended to [9]: %v", got)
	}
}

// TestConcurrentForward checks that one Model serves many goroutines (each
// Forward takes its own Run) with the results of serial calls.
func TestConcurrentForward(t *testing.T) {
	cfg := testConfig(t, tinyXLMR)
	m, err := newModel(context.Background(), cfg, randomCheckpoint(cfg, 11), cpu.Default())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(12, 13))
	seqs := randomSequences(rng, cfg, 7, 2, 15, 9)
	want, err := m.Forward(context.Background(), seqs)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := 0; g < cap(errs); g++ {
		go func() {
			got, err := m.Forward(context.Background(), seqs)
			if err == nil && fmt.Sprint(got) != fmt.Sprint(want) {
				err = fmt.Errorf("concurrent Forward = %v, serial %v", got, want)
			}
			errs <- err
		}()
	}
	for g := 0; g < cap(errs); g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// FuzzForward feeds arbitrary ids, type ids and sequence splits to a tiny
// model: Forward must return an error or one vector of finite logits per
// sequence, never panic, and a batch that is valid (every sequence 1 to
// MaxTokens ids inside the vocabulary, type ids inside type_vocab_size)
// must not be refused.
func FuzzForward(f *testing.F) {
	cfg := testConfig(f, tinyXLMR)
	m, err := newModel(context.Background(), cfg, randomCheckpoint(cfg, 21), cpu.Default())
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{0, 5, 7, 2}, []byte{4})
	f.Add([]byte{1, 1, 1}, []byte{1, 1, 1})
	f.Add([]byte{200, 3}, []byte{0, 2})
	f.Add([]byte{4, 10, 20, 30, 53, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}, []byte{4, 18}) // valid: 4 and 18 tokens
	f.Fuzz(func(t *testing.T, ids, splits []byte) {
		var seqs []ml.Sequence
		rest := ids
		valid := len(splits) > 0
		for _, s := range splits {
			n := min(int(s)%24, len(rest))
			seq := ml.Sequence{IDs: make([]int32, n)}
			for i, b := range rest[:n] {
				seq.IDs[i] = int32(b) - 4 // some negative, some past vocab_size 50
				valid = valid && seq.IDs[i] >= 0 && int(seq.IDs[i]) < cfg.VocabSize
			}
			if s%3 == 0 {
				seq.TypeIDs = make([]int32, n)
				if n > 0 {
					seq.TypeIDs[n-1] = int32(s % 2)
					valid = valid && int(s%2) < cfg.TypeVocabSize
				}
			}
			valid = valid && n >= 1 && n <= m.MaxTokens()
			seqs = append(seqs, seq)
			rest = rest[n:]
		}
		out, err := m.Forward(context.Background(), seqs)
		if err != nil {
			if valid {
				t.Fatalf("a valid batch refused: %v", err)
			}
			return
		}
		if len(out) != len(seqs) {
			t.Fatalf("%d outputs for %d sequences", len(out), len(seqs))
		}
		for i, l := range out {
			if len(l) != cfg.NumLabels {
				t.Fatalf("sequence %d: %d logits, want %d", i, len(l), cfg.NumLabels)
			}
			for _, v := range l {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("sequence %d: logits %v", i, l)
				}
			}
		}
	})
}
