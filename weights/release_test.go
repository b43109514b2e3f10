package weights

import (
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
