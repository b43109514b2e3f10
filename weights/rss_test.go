package weights

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// procStatusKB reads a "VmXxx:  123 kB" line of /proc/self/status.
func procStatusKB(t *testing.T, key string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), key+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skipf("no %s in /proc/self/status", key)
	return 0
}

// write100MB streams a checkpoint of 25 F32 tensors of 1M floats (100 MB)
// without holding it in memory, so the test's own peak stays low.
func write100MB(t *testing.T, path string) int64 {
	const tensors, elems = 25, 1 << 20
	header := map[string]any{}
	for i := range tensors {
		header[fmt.Sprintf("layer.%d.weight", i)] = map[string]any{
			"dtype": "F32", "shape": []int{1024, 1024},
			"data_offsets": []int{i * elems * 4, (i + 1) * elems * 4},
		}
	}
	h, _ := json.Marshal(header)
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	binary.Write(w, binary.LittleEndian, uint64(len(h)))
	w.Write(h)
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7) // not zero, so no sparse file
	}
	for range tensors * elems * 4 / len(chunk) {
		w.Write(chunk)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	return st.Size()
}

// TestLoadDoesNotCopy checks that opening a checkpoint and taking its F32
// tensors maps them instead of copying: the peak RSS must not grow by
// anything near the checkpoint's size.
func TestLoadDoesNotCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 100 MB file")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	path := filepath.Join(t.TempDir(), "model.safetensors")
	size := write100MB(t, path)
	runtime.GC()
	// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skip("cannot reset VmHWM:", err)
	}
	before := procStatusKB(t, "VmHWM")
	c, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var views int
	for _, n := range c.Names() {
		if _, ok := c.Info(n); !ok {
			t.Fatal(n)
		}
		v, _, err := c.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		views += len(v)
	}
	afterLoad := procStatusKB(t, "VmHWM")
	grew := (afterLoad - before) * 1024
	t.Logf("checkpoint %d bytes; VmHWM before %d kB, after Open+Info+Float32 of every tensor %d kB (+%d kB)", size, before, afterLoad, afterLoad-before)
	if grew > size/10 {
		t.Errorf("peak RSS grew by %d bytes loading a %d-byte checkpoint: tensor bytes were copied", grew, size)
	}
	// Reading every value brings the file's pages in (shared with the page
	// cache); the peak is then about one checkpoint, never two.
	var sum float32
	for _, n := range c.Names() {
		v, _, _ := c.Float32(n)
		for _, x := range v {
			sum += x
		}
	}
	afterTouch := procStatusKB(t, "VmHWM")
	t.Logf("after reading every value: VmHWM %d kB (+%d kB); %d floats, sum %g", afterTouch, afterTouch-before, views, sum)
	if (afterTouch-before)*1024 > size*3/2 {
		t.Errorf("peak RSS grew by %d kB reading a %d-byte checkpoint", afterTouch-before, size)
	}
}
