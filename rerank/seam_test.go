package rerank

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/ml"
)

// Every architecture loads through ml's registry: an architecture nobody
// registered is refused with the list of those that are (the decoders
// among them), and a decoder re-ranker loaded without the tokenizer's ids
// says what it needs.
func TestSeamRegistry(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(fixtureDir("bert"), f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures": ["DebertaV2ForSequenceClassification"], "model_type": "deberta-v2"}`), 0o644)
	_, err := New(context.Background(), dir, Options{})
	if err == nil {
		t.Fatal("an unregistered architecture loaded")
	}
	for _, want := range []string{"DebertaV2ForSequenceClassification", "registered: ", "BertForSequenceClassification",
		"ModernBertForSequenceClassification", "Qwen3ForCausalLM", "Qwen2ForCausalLM"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}

	b, err := NewBackend(BackendCPU, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = ml.Load(context.Background(), qwen3Dir("qwen3-tied"), b)
	if err == nil || !strings.Contains(err.Error(), "TokenID") || !strings.Contains(err.Error(), `"yes"`) {
		t.Errorf("Qwen3ForCausalLM without token ids: %v", err)
	}
	// The converted form reads no answer tokens: it loads without them.
	m, err := ml.Load(context.Background(), qwen3Dir("qwen3-seq-cls"), b)
	if err != nil {
		t.Fatal(err)
	}
	if c := m.Config(); c.NumLabels != 1 || c.Labels()[0] != "yes-no" || c.Architectures[0] != "Qwen3ForSequenceClassification" || c.TypeVocabSize != 0 {
		t.Errorf("seq-cls config: %+v", c)
	}
	m.Close()
}
