package weights

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestReleaseGivesPagesBack reads every value of a 100 MB checkpoint (its
// pages become resident), releases every tensor, and checks that the
// resident set shrinks by most of the file and that the values read again
// afterwards are the same (the mapping stays valid).
func TestReleaseGivesPagesBack(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 100 MB file")
	}
	if runtime.GOOS != "linux" {
		t.Skip("Release is a no-op off Linux")
	}
	path := filepath.Join(t.TempDir(), "model.safetensors")
	size := write100MB(t, path)
	c, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sums := map[string]float64{}
	for _, n := range c.Names() {
		v, _, err := c.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		for _, x := range v {
			s += float64(x)
		}
		sums[n] = s
	}
	touched := procStatusKB(t, "VmRSS")
	for _, n := range c.Names() {
		c.Release(n)
	}
	c.Release("no.such.tensor") // ignored
	released := procStatusKB(t, "VmRSS")
	t.Logf("checkpoint %d bytes: VmRSS %d kB after reading it, %d kB after Release (-%d kB)", size, touched, released, touched-released)
	if (touched-released)*1024 < size*8/10 {
		t.Errorf("Release gave back %d kB of a %d-byte checkpoint, want most of it", touched-released, size)
	}
	for _, n := range c.Names() {
		v, _, _ := c.Float32(n)
		var s float64
		for _, x := range v {
			s += float64(x)
		}
		if s != sums[n] {
			t.Fatalf("%s: sum %g after Release, %g before", n, s, sums[n])
		}
	}
}

// TestFloat32Owned checks that Float32Owned returns the same values as
// Float32 in a slice of the caller's own (writing to it leaves the mapping
// alone), for F32 and converted dtypes, and on Linux that the peak RSS of
// owning a 100 MB checkpoint's copy is about one checkpoint, not two.
func TestFloat32Owned(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 100 MB file")
	}
	path := filepath.Join(t.TempDir(), "model.safetensors")
	size := write100MB(t, path)
	c, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	linux := runtime.GOOS == "linux"
	var before int64
	if linux {
		runtime.GC()
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
			t.Skip("cannot reset VmHWM:", err)
		}
		before = procStatusKB(t, "VmHWM")
	}
	var kept [][]float32
	for _, n := range c.Names() {
		own, shape, err := c.Float32Owned(n)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, own)
		if len(shape) != 2 || shape[0]*shape[1] != len(own) {
			t.Fatalf("%s: shape %v for %d values", n, shape, len(own))
		}
	}
	if linux {
		grew := (procStatusKB(t, "VmHWM") - before) * 1024
		t.Logf("owning every tensor of a %d-byte checkpoint: peak RSS +%d kB", size, grew/1024)
		if grew > size*13/10 {
			t.Errorf("peak RSS grew by %d bytes owning a %d-byte checkpoint: the mapped pages were kept beside the copy", grew, size)
		}
	}
	for i, n := range c.Names() {
		view, _, _ := c.Float32(n)
		own := kept[i]
		for j := range view {
			if math.Float32bits(view[j]) != math.Float32bits(own[j]) {
				t.Fatalf("%s[%d]: owned %v, mapped %v", n, j, own[j], view[j])
			}
		}
		own[0]++ // must not fault (the mapping is read-only) nor change the file's value
		if v, _, _ := c.Float32(n); math.Float32bits(v[0]) == math.Float32bits(own[0]) {
			t.Fatalf("%s: the owned slice aliases the mapping", n)
		}
	}
}
