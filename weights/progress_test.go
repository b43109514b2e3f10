package weights

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestProgressBar(t *testing.T) {
	h := newFakeHub(t)
	h.addRepo("org/m", tinyRepo(t))
	var buf bytes.Buffer
	opts := hubOpts(h, t.TempDir())
	opts.Progress = &buf
	if _, err := Download(context.Background(), Ref{"org/m", "main"}, opts); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Errorf("want one line per downloaded file (5), got %d:\n%s", len(lines), out)
	}
	if !strings.Contains(out, "model.safetensors") || !strings.Contains(out, "100%") || !strings.Contains(out, "\r") {
		t.Errorf("progress output:\n%q", out)
	}
	t.Logf("%q", lines[len(lines)-1])
	if got := humanBytes(1536); got != "1.5 KiB" {
		t.Errorf("humanBytes(1536) = %q", got)
	}
}
