package bert

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/ml"
	"github.com/crossrank/crossrank/reference"
	"github.com/crossrank/crossrank/weights"
)

// TestNewTruncatedCheckpoint: a checkpoint file truncated on disk after it
// was mapped makes New fail with weights.ErrChangedOnDisk naming the file,
// instead of a SIGBUS that kills the process.
func TestNewTruncatedCheckpoint(t *testing.T) {
	src := filepath.Join("..", "testdata", "models", "bert")
	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := weights.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	ckpt, err := weights.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ckpt.Close()
	path := filepath.Join(dir, "model.safetensors")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]ml.Backend{"reference": reference.New(), "fast": cpu.Default()} {
		m, err := New(context.Background(), cfg, ckpt, b)
		if err == nil {
			m.Close()
			t.Fatalf("%s: New on a truncated checkpoint succeeded", name)
		}
		if !errors.Is(err, weights.ErrChangedOnDisk) {
			t.Fatalf("%s: New = %v, want weights.ErrChangedOnDisk", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}
