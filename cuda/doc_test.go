package cuda

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
)

func TestParsePrecision(t *testing.T) {
	for s, want := range map[string]Precision{"fp32": FP32, "FP16": FP16, "half": FP16, "bf16": BF16, "bfloat16": BF16} {
		got, err := ParsePrecision(s)
		if err != nil || got != want {
			t.Errorf("ParsePrecision(%q) = %v, %v; want %v", s, got, err, want)
		}
		if back, _ := ParsePrecision(got.String()); back != got {
			t.Errorf("%v does not round-trip through String", got)
		}
	}
	if _, err := ParsePrecision("int8"); err == nil || !strings.Contains(err.Error(), "int8") {
		t.Errorf("ParsePrecision(int8): %v", err)
	}
}

// TestNewOrCPUFallback: without a usable GPU (or without the cuda tag) New
// fails with ErrNoDevice and NewOrCPU returns the CPU backend with a log line
// that says why.
func TestNewOrCPUFallback(t *testing.T) {
	if b, err := New(Options{}); err == nil {
		b.Close()
		// A GPU is here: the fallback is not reachable, but NewOrCPU must
		// then give the GPU, silently. With CROSSRANK_REQUIRE_GPU (a device
		// run) that is asserted; otherwise it is said and skipped.
		var log bytes.Buffer
		g := NewOrCPU(slog.New(slog.NewTextHandler(&log, nil)), Options{})
		defer g.Close()
		if !strings.HasPrefix(g.Name(), "cuda:") || strings.Contains(log.String(), "falling back") {
			t.Fatalf("with a GPU, NewOrCPU returned %q and logged %q", g.Name(), log.String())
		}
		if os.Getenv("CROSSRANK_REQUIRE_GPU") == "" {
			t.Skipf("a GPU is here (%s): the fallback is not reachable", g.Name())
		}
		return
	} else if !errors.Is(err, ErrNoDevice) {
		t.Fatalf("New without a device: %v, want ErrNoDevice", err)
	}
	var log bytes.Buffer
	b := NewOrCPU(slog.New(slog.NewTextHandler(&log, nil)), Options{})
	defer b.Close()
	if b.Name() != "cpu" {
		t.Fatalf("NewOrCPU without a device returned %q", b.Name())
	}
	if !strings.Contains(log.String(), "falling back to the CPU") {
		t.Fatalf("no fallback log line: %q", log.String())
	}
	t.Log(strings.TrimSpace(log.String()))
}
