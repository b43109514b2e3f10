package weights

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestDownloadKilledAtRandomPoints: a download killed at any byte leaves
// only blobs/<sha>.incomplete (never a blob or snapshot file that looks
// complete); the next run resumes from it and ends with the exact file.
// The kill is simulated by the partial file it leaves, at random offsets,
// the first and last bytes included (a kill between the last write and the
// rename).
func TestDownloadKilledAtRandomPoints(t *testing.T) {
	files := tinyRepo(t)
	st := files["model.safetensors"]
	rng := rand.New(rand.NewPCG(7, 7))
	offsets := []int{0, 1, len(st) - 1, len(st)}
	for range 6 {
		offsets = append(offsets, rng.IntN(len(st)))
	}
	for _, k := range offsets {
		h := newFakeHub(t)
		h.addRepo("org/m", files)
		cache := t.TempDir()
		blobs := filepath.Join(cache, "models--org--m", "blobs")
		blob := filepath.Join(blobs, sha256Hex(st))
		writeFile(t, blob+".incomplete", st[:k])
		if _, err := os.Stat(blob); err == nil {
			t.Fatalf("offset %d: the blob exists before the resume", k)
		}
		dir, err := Download(context.Background(), Ref{"org/m", "main"}, hubOpts(h, cache))
		if err != nil {
			t.Fatalf("offset %d: %v", k, err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "model.safetensors")); err != nil || !bytes.Equal(b, st) {
			t.Errorf("offset %d: the snapshot's model.safetensors differs after the resume (%v)", k, err)
		}
		if left, _ := filepath.Glob(filepath.Join(blobs, "*.incomplete")); len(left) != 0 {
			t.Errorf("offset %d: left behind %v", k, left)
		}
	}
}
