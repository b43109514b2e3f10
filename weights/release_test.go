package weights

import (
	"errors"
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

// TestFloat32Blocks builds a copy of every tensor of a 100 MB checkpoint
// from Float32Blocks: the blocks cover each tensor in order with the same
// values as Float32, and on Linux the peak RSS of holding the copies is
// about one checkpoint, not two (each block's mapped pages are given back).
// An error from fn stops the reading and comes back.
func TestFloat32Blocks(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 100 MB file")
	}
	defer func(b int) { blockBytes = b }(blockBytes)
	blockBytes = 1 << 20 // four blocks a tensor
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
		info, _ := c.Info(n)
		own := make([]float32, 0, info.Elements())
		blocks := 0
		err := c.Float32Blocks(n, func(off int, vals []float32) error {
			if off != len(own) {
				t.Fatalf("%s: block at %d after %d values", n, off, len(own))
			}
			own = append(own, vals...)
			blocks++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(own)) != info.Elements() || blocks != 4 {
			t.Fatalf("%s: %d values in %d blocks, want %d in 4", n, len(own), blocks, info.Elements())
		}
		kept = append(kept, own)
	}
	if linux {
		grew := (procStatusKB(t, "VmHWM") - before) * 1024
		t.Logf("copying every tensor of a %d-byte checkpoint block by block: peak RSS +%d kB", size, grew/1024)
		if grew > size*13/10 {
			t.Errorf("peak RSS grew by %d bytes copying a %d-byte checkpoint: the mapped pages were kept beside the copy", grew, size)
		}
	}
	for i, n := range c.Names() {
		view, _, _ := c.Float32(n)
		for j := range view {
			if math.Float32bits(view[j]) != math.Float32bits(kept[i][j]) {
				t.Fatalf("%s[%d]: copied %v, mapped %v", n, j, kept[i][j], view[j])
			}
		}
	}
	stop := errors.New("stop")
	calls := 0
	if err := c.Float32Blocks(c.Names()[0], func(int, []float32) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("fn's error: got %v after %d calls, want it after 1", err, calls)
	}
	if err := c.Float32Blocks("no.such.tensor", func(int, []float32) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown tensor: %v, want ErrNotFound", err)
	}
}

// TestHalfBlocksAndRows reads F16 and BF16 tensors block by block and row
// by row: the same values as Float32's whole-tensor widening, each block
// converted on its own (the buffer is reused, so fn must copy), and rows
// read alone; a row outside the tensor is an error.
func TestHalfBlocksAndRows(t *testing.T) {
	defer func(b int) { blockBytes = b }(blockBytes)
	blockBytes = 4 * 1000 // 1,000 values a block: 3 blocks and a tail
	const rows, cols = 65, 50
	vals := seq(rows*cols, 1.0/64)
	for i, v := range vals { // exact in F16 (11 bits) and BF16 (8 bits)
		vals[i] = math.Float32frombits(math.Float32bits(v) &^ 0xffff)
	}
	var tensors []testTensor
	for _, dt := range []DType{F16, BF16, F32} {
		tensors = append(tensors, testTensor{"t." + string(dt), dt, []int{rows, cols}, vals})
	}
	path := filepath.Join(t.TempDir(), "model.safetensors")
	writeFile(t, path, safetensorsBytes(tensors, nil))
	c, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tt := range tensors {
		whole, _, err := c.Float32(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		var got []float32
		blocks := 0
		if err := c.Float32Blocks(tt.name, func(off int, v []float32) error {
			if off != len(got) || len(v) > 1000 {
				t.Fatalf("%s: block of %d at %d after %d values", tt.name, len(v), off, len(got))
			}
			got = append(got, v...)
			blocks++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if blocks != 4 || len(got) != len(whole) {
			t.Fatalf("%s: %d values in %d blocks", tt.name, len(got), blocks)
		}
		for i := range whole {
			if got[i] != whole[i] || whole[i] != vals[i] {
				t.Fatalf("%s[%d]: blocks %v, whole %v, written %v", tt.name, i, got[i], whole[i], vals[i])
			}
		}
		r, shape, err := c.Float32Rows(tt.name, 64, 0, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(shape) != 2 || shape[0] != rows || shape[1] != cols || len(r) != 3*cols {
			t.Fatalf("%s: rows: shape %v, %d values", tt.name, shape, len(r))
		}
		for k, i := range []int{64, 0, 7} {
			for j := range cols {
				if r[k*cols+j] != vals[i*cols+j] {
					t.Fatalf("%s: row %d col %d: %v, want %v", tt.name, i, j, r[k*cols+j], vals[i*cols+j])
				}
			}
		}
		if _, _, err := c.Float32Rows(tt.name, rows); err == nil {
			t.Errorf("%s: row %d of %d: no error", tt.name, rows, rows)
		}
	}
	if _, _, err := c.Float32Rows("no.such.tensor", 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown tensor: %v, want ErrNotFound", err)
	}
}
