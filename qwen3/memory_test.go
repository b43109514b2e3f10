package qwen3

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/ml"
)

// TestLoadMemory loads a bf16 checkpoint with a tied head and a large
// vocabulary on the fp32 CPU backend and counts the bytes the load
// allocates. The head's two rows are read alone (Binder.Rows), the table is
// streamed a block at a time (Float32Blocks converts block by block) and
// kept in bf16, its stored precision (cpu's BuildTable: exact for bf16
// values), so the load allocates the bf16 table, one block of float32 and
// the small layers; it allocated three float32 copies of the table before
// (the head's, the whole table widened for streaming, the fp32 table):
// about 600 MB each at Qwen3-0.6B's 151,669 x 1,024.
func TestLoadMemory(t *testing.T) {
	const (
		vocab, hidden, heads, kv, headDim, inter = 100_000, 64, 4, 2, 16, 64
		block                                    = 16 << 20 // weights' blockBytes: one block of float32
	)
	dir := t.TempDir()
	cfg := map[string]any{
		"architectures": []string{"Qwen3ForCausalLM"}, "model_type": "qwen3", "vocab_size": vocab, "hidden_size": hidden,
		"intermediate_size": inter, "num_hidden_layers": 1, "num_attention_heads": heads, "num_key_value_heads": kv,
		"head_dim": headDim, "rope_theta": 1e6, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
	}
	raw, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	shapes := map[string][]int{
		"model.embed_tokens.weight": {vocab, hidden}, "model.norm.weight": {hidden},
		"model.layers.0.input_layernorm.weight": {hidden}, "model.layers.0.post_attention_layernorm.weight": {hidden},
		"model.layers.0.self_attn.q_proj.weight": {heads * headDim, hidden}, "model.layers.0.self_attn.k_proj.weight": {kv * headDim, hidden},
		"model.layers.0.self_attn.v_proj.weight": {kv * headDim, hidden}, "model.layers.0.self_attn.o_proj.weight": {hidden, heads * headDim},
		"model.layers.0.self_attn.q_norm.weight": {headDim}, "model.layers.0.self_attn.k_norm.weight": {headDim},
		"model.layers.0.mlp.gate_proj.weight": {inter, hidden}, "model.layers.0.mlp.up_proj.weight": {inter, hidden},
		"model.layers.0.mlp.down_proj.weight": {hidden, inter},
	}
	writeBF16(t, filepath.Join(dir, "model.safetensors"), shapes)
	tableBF16 := 2 * vocab * hidden

	ids := map[string]int32{"yes": 5, "no": 7}
	tokenID := func(s string) (int32, error) { return ids[s], nil }
	b, err := cpu.New(cpu.Options{Precision: "fp32"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := ml.LoadWith(context.Background(), dir, b, ml.LoadOptions{TokenID: tokenID})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	alloc := int(after.TotalAlloc - before.TotalAlloc)
	// The bf16 table, one block, and 4 MB for the layers (200 KB here),
	// the config and the binder: less than one float32 copy of the table
	// (25.6 MB) plus the block.
	bound := tableBF16 + block + 4<<20
	t.Logf("load allocated %.1f MB (bf16 table %.1f MB, float32 %.1f MB; bound %.1f MB)",
		float64(alloc)/1e6, float64(tableBF16)/1e6, float64(2*tableBF16)/1e6, float64(bound)/1e6)
	if alloc > bound {
		t.Errorf("load allocated %d bytes, more than %d: the table was widened whole", alloc, bound)
	}
	if _, err := m.Forward(context.Background(), []ml.Sequence{{IDs: []int32{1, 99_999, 5}}}); err != nil {
		t.Fatal(err)
	}
}

// writeBF16 writes a safetensors file of random bf16 tensors.
func writeBF16(t *testing.T, path string, shapes map[string][]int) {
	t.Helper()
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	rng := rand.New(rand.NewPCG(4, 5))
	header := map[string]any{}
	var data []byte
	for _, n := range names {
		count := 1
		for _, d := range shapes[n] {
			count *= d
		}
		start := len(data)
		for range count {
			x := float32(rng.NormFloat64() * 0.05)
			if len(shapes[n]) == 1 {
				x += 1 // norm weights near 1
			}
			data = binary.LittleEndian.AppendUint16(data, uint16(math.Float32bits(x)>>16))
		}
		header[n] = map[string]any{"dtype": "BF16", "shape": shapes[n], "data_offsets": []int{start, len(data)}}
	}
	h, _ := json.Marshal(header)
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(append(out, h...), data...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
