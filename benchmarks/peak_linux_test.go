//go:build linux

package benchmarks

import (
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/gemm"
)

// cpuSeconds is the process's user + system CPU time.
func cpuSeconds(t *testing.T) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// TestMeasurePeak: MeasurePeak's figure, per second of CPU time (which a
// shared machine does not dilute), agrees with the FMA loop run
// and timed here by CPU time (0.65x to 1.5x: a sibling hyperthread can
// slow one measurement), and is physically possible (at most 64 FP32
// FLOPs a cycle at 6 GHz). A peak off by 2x either way fails.
func TestMeasurePeak(t *testing.T) {
	loop, perIter, isa := gemm.FMALoop()
	if loop == nil {
		t.Skip("no AVX2+FMA on this CPU: MeasurePeak measures nothing")
	}
	// The loop timed here: n iterations over the CPU time they took.
	runtime.LockOSThread()
	c0 := cpuSeconds(t)
	const n = 1 << 22
	loop(n)
	direct := float64(n) * perIter / (cpuSeconds(t) - c0) / 1e9
	runtime.UnlockOSThread()

	w0, c1 := time.Now(), cpuSeconds(t)
	p := MeasurePeak(1, 200*time.Millisecond)
	wall, cpu := time.Since(w0).Seconds(), cpuSeconds(t)-c1
	perCPU := p.GFLOPS * wall / cpu
	t.Logf("%s: MeasurePeak %.1f GFLOP/s (%.1f per CPU second); the loop timed directly %.1f per CPU second", isa, p.GFLOPS, perCPU, direct)
	if p.ISA != isa || p.Threads != 1 {
		t.Errorf("Peak %+v, want ISA %s on 1 thread", p, isa)
	}
	if r := perCPU / direct; r < 0.65 || r > 1.5 {
		t.Errorf("MeasurePeak gives %.1f GFLOP per CPU second, the loop timed directly %.1f (ratio %.2f)", perCPU, direct, r)
	}
	if perCPU > 64*6 || p.GFLOPS > perCPU*1.05 {
		t.Errorf("%.1f GFLOP/s (%.1f per CPU second): more than one core can do", p.GFLOPS, perCPU)
	}
}

// TestPeakRSS: PeakRSSMB is the process's high-water mark in MB: it
// counts 64 MiB touched and freed again, and agrees with getrusage's
// ru_maxrss (an independent source) within 2 MB.
func TestPeakRSS(t *testing.T) {
	buf := make([]byte, 64<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	runtime.KeepAlive(buf)
	buf = nil
	debug.FreeOSMemory() // the current RSS drops; the high-water mark stays
	got := PeakRSSMB()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	maxrss := float64(ru.Maxrss) / 1024 // kB on Linux
	t.Logf("PeakRSSMB %.1f, getrusage ru_maxrss %.1f MB", got, maxrss)
	if got < 64 || got-maxrss > 2 || maxrss-got > 2 {
		t.Errorf("PeakRSSMB %.1f MB; want >= 64 and within 2 MB of ru_maxrss %.1f", got, maxrss)
	}
}
