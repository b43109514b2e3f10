package weights

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGuardTruncatedWhileOpen: reading the view of a tensor whose file was
// truncated after it was mapped faults; Guard turns that into an error that
// names the file, and the process lives on.
func TestGuardTruncatedWhileOpen(t *testing.T) {
	src := filepath.Join("..", "testdata", "models", "bert", "model.safetensors")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	var sum float32
	err = c.Guard(func() error {
		for _, name := range c.Names() {
			data, _, err := c.Float32(name)
			if err != nil {
				return err
			}
			for _, v := range data {
				sum += v
			}
		}
		return nil
	})
	if !errors.Is(err, ErrChangedOnDisk) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Guard = %v (sum %v), want ErrChangedOnDisk naming %s", err, sum, path)
	}
}

// TestGuardPassesThrough: fn's own error and other panics are not changed.
func TestGuardPassesThrough(t *testing.T) {
	c := &Checkpoint{}
	want := errors.New("mine")
	if err := c.Guard(func() error { return want }); err != want {
		t.Fatalf("Guard = %v, want %v", err, want)
	}
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want the original panic", r)
		}
	}()
	_ = c.Guard(func() error { panic("boom") })
}
