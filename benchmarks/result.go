package benchmarks

import (
	"bufio"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Result is one contender's figures on one model and set: the fields of
// results.json (the peers' scripts write the same object).
type Result struct {
	Contender string `json:"contender"`
	Precision string `json:"precision"`
	// Backend is "reference" when the reference backend ran; empty for
	// the default (package cpu).
	Backend         string   `json:"backend,omitempty"`
	Model           string   `json:"model"`
	N               int      `json:"n"`
	PairsPerS       float64  `json:"pairs_per_s"`
	LatencyP50Ms    float64  `json:"latency_p50_ms"`
	LatencyP95Ms    float64  `json:"latency_p95_ms"`
	PeakRSSMB       float64  `json:"peak_rss_mb"`
	MaxAbsLogitDiff *float64 `json:"max_abs_logit_diff"` // filled in by the driver against crossrank's logits

	Set         string `json:"set"`         // "short" or "long"
	Tokens      int    `json:"tokens"`      // real tokens in one request
	Reps        int    `json:"reps"`        // latency samples
	Concurrency int    `json:"concurrency"` // concurrent requests at which pairs_per_s was reached
	// GFLOPS is the forward pass's work on the real tokens (Shape.FLOPs)
	// per second at the throughput figure; PeakGFLOPS the FMA peak measured
	// in the same process; FractionOfPeak their ratio.
	GFLOPS         float64   `json:"gflops"`
	PeakGFLOPS     float64   `json:"peak_gflops,omitempty"`
	FractionOfPeak float64   `json:"fraction_of_peak,omitempty"`
	Threads        int       `json:"threads"`
	Notes          string    `json:"notes,omitempty"`
	Logits         []float32 `json:"logits,omitempty"` // one per pair, workload order (label 0)
}

// percentile is the nearest-rank percentile p (0..100) of d, in ms.
func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	// Nearest rank: the smallest value with at least p% of samples at or
	// below it.
	k := int(float64(len(s))*p/100+0.999999) - 1
	k = min(max(k, 0), len(s)-1)
	return float64(s[k]) / float64(time.Millisecond)
}

// PeakRSSMB is this process's peak resident set (VmHWM), in MB (2^20 bytes),
// or 0 where /proc is not there.
func PeakRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) >= 1 {
				kb, err := strconv.ParseFloat(fields[0], 64)
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	return 0
}
