package bert

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/reference"
)

// BenchmarkMiniLMWorkload runs the benchmark workload's short BERT sets
// (benchmarks/workload.json: a 12-token query with N documents of 32-256
// tokens, in packed batches of 32 pairs) through a random checkpoint of the
// all-MiniLM-L6-v2 shape, on the fast and the reference backend:
//
//	go test ./bert -run - -bench MiniLMWorkload -benchtime 20x
//
// GFLOP/s counts the work on real tokens only (as benchmarks.Shape.FLOPs
// does); compare it with the FMA peak measured in the same session
// (go test ./benchmarks -run MeasurePeak -v), never across runs.
func BenchmarkMiniLMWorkload(b *testing.B) {
	cfg := testConfig(b, `{"architectures":["BertForSequenceClassification"],"vocab_size":30522,"hidden_size":384,
		"num_hidden_layers":6,"num_attention_heads":12,"intermediate_size":1536,"num_labels":1}`)
	src := scaledCheckpoint(cfg, 3)
	sets := workloadSets(b, "short", "bert")
	for _, backend := range []struct {
		name string
		new  func() ml.Backend
	}{{"fast", cpu.Default}, {"fast-bf16", lowpCPU("bf16")}, {"fast-int8", lowpCPU("int8")}, {"reference", reference.New}} {
		m, err := newModel(context.Background(), cfg, src, backend.new())
		if err != nil {
			b.Fatal(err)
		}
		for _, set := range sets {
			b.Run(backend.name+"/n"+itoa(len(set)), func(b *testing.B) {
				var lens []int
				for _, s := range set {
					lens = append(lens, len(s.IDs))
				}
				flops := modelFLOPs(cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers, lens)
				b.ReportAllocs()
				for b.Loop() {
					for i := 0; i < len(set); i += 32 {
						if _, err := m.Forward(context.Background(), set[i:min(i+32, len(set))]); err != nil {
							b.Fatal(err)
						}
					}
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(float64(len(set))/sec, "pairs/s")
				b.ReportMetric(flops/sec/1e9, "GFLOP/s")
			})
		}
	}
}

// lowpCPU makes the fast backend in a reduced precision (bf16, int8).
func lowpCPU(prec string) func() ml.Backend {
	return func() ml.Backend {
		b, err := cpu.New(cpu.Options{Precision: prec})
		if err != nil {
			panic(err)
		}
		return b
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// workloadSets reads the sets of benchmarks/workload.json with the given
// name and family, as sequences.
func workloadSets(b *testing.B, name, family string) [][]ml.Sequence {
	raw, err := os.ReadFile(filepath.Join("..", "benchmarks", "workload.json"))
	if err != nil {
		b.Skip(err)
	}
	var w struct {
		Sets []struct {
			Name   string `json:"name"`
			Family string `json:"family"`
			Pairs  []struct {
				InputIDs     []int32 `json:"input_ids"`
				TokenTypeIDs []int32 `json:"token_type_ids"`
			} `json:"pairs"`
		} `json:"sets"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		b.Fatal(err)
	}
	var out [][]ml.Sequence
	for _, s := range w.Sets {
		if s.Name != name || s.Family != family {
			continue
		}
		var seqs []ml.Sequence
		for _, p := range s.Pairs {
			seqs = append(seqs, ml.Sequence{IDs: p.InputIDs, TypeIDs: p.TokenTypeIDs})
		}
		out = append(out, seqs)
	}
	return out
}

// modelFLOPs is benchmarks.Shape.FLOPs for a one-label model: per layer
// 2·T·(4h² + 2hi) for the dense layers and 4·ΣL²·h for attention, plus the
// head on the first token of each sequence.
func modelFLOPs(h, inter, layers int, lens []int) float64 {
	var tokens, sq float64
	for _, l := range lens {
		tokens += float64(l)
		sq += float64(l) * float64(l)
	}
	hf, i := float64(h), float64(inter)
	seqs := float64(len(lens))
	return float64(layers)*(2*tokens*(4*hf*hf+2*hf*i)+4*sq*hf) + 2*seqs*hf*hf + 2*seqs*hf
}

// BenchmarkForwardMiniLMShape runs the whole forward pass on a random
// checkpoint shaped like all-MiniLM-L6-v2 / ms-marco-MiniLM-L-6-v2 (6
// layers, hidden 384, 12 heads, intermediate 1536; a small vocabulary,
// which does not change the cost).
func BenchmarkForwardMiniLMShape(b *testing.B) {
	cfg := testConfig(b, `{"architectures":["BertForSequenceClassification"],"vocab_size":1000,"hidden_size":384,
		"num_hidden_layers":6,"num_attention_heads":12,"intermediate_size":1536,"num_labels":1}`)
	m, err := newModel(context.Background(), cfg, randomCheckpoint(cfg, 3), cpu.Default())
	if err != nil {
		b.Fatal(err)
	}
	for _, shape := range []struct {
		name       string
		seqs, toks int
	}{{"1x32", 1, 32}, {"4x64", 4, 64}} {
		b.Run(shape.name, func(b *testing.B) {
			lens := make([]int, shape.seqs)
			for i := range lens {
				lens[i] = shape.toks
			}
			seqs := randomSequences(rand.New(rand.NewPCG(4, 4)), cfg, lens...)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Forward(context.Background(), seqs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(shape.seqs*shape.toks), "us/token")
		})
	}
}
