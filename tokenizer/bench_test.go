package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time: on a shared machine it is
// a steadier measure than wall time (tokenizer_peer.py reports the same).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchCorpus is testdata/corpus.jsonl, the texts benchmarks/tokenizer_peer.py
// times the Rust library on.
func benchCorpus(b *testing.B) []string {
	f, err := os.Open("../testdata/corpus.jsonl")
	if err != nil {
		b.Skip("no corpus:", err)
	}
	defer f.Close()
	var texts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var r struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			b.Fatal(err)
		}
		texts = append(texts, r.Text)
	}
	return texts
}

// BenchmarkEncode encodes every corpus line as a single text with special
// tokens (tokens/s counts the ids produced). Run on one core:
//
//	go test -run '^$' -bench Encode -cpu 1 ./tokenizer/
func BenchmarkEncode(b *testing.B) {
	texts := benchCorpus(b)
	for _, m := range []string{"bert", "xlmr"} {
		tk, err := Load("../testdata/models/" + m)
		if err != nil {
			b.Skip("no fixture model:", err)
		}
		b.Run(m+"/single", func(b *testing.B) {
			tokens := 0
			cpu0 := cpuTime()
			for b.Loop() {
				for _, s := range texts {
					e, err := tk.Encode(s)
					if err != nil {
						b.Fatal(err)
					}
					tokens += e.Len()
				}
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(tokens)/cpu.Seconds(), "tokens/cpu-s")
			}
		})
		// Pairs: line i as the query and line i+1 as the document,
		// longest_first at 512, as a re-ranker encodes them.
		b.Run(m+"/pair512", func(b *testing.B) {
			tokens := 0
			opts := Truncation{MaxLength: 512}
			cpu0 := cpuTime()
			for b.Loop() {
				for i := 0; i+1 < len(texts); i += 2 {
					e, err := tk.EncodePair(texts[i], texts[i+1], opts)
					if err != nil {
						b.Fatal(err)
					}
					tokens += e.Len()
				}
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(tokens)/cpu.Seconds(), "tokens/cpu-s")
			}
		})
	}
}

// BenchmarkEncodeBPE encodes every corpus line with the byte-level BPE
// tokenizers (Qwen2-style and ModernBERT-style), with the word cache as
// shipped and without it (nocache), to show what the cache buys:
//
//	go test -run '^$' -bench EncodeBPE -cpu 1 ./tokenizer/
func BenchmarkEncodeBPE(b *testing.B) {
	texts := benchCorpus(b)
	for _, name := range []string{"bpe-qwen2", "bpe-modernbert"} {
		for _, cached := range []bool{true, false} {
			tk, err := Load("../testdata/tokenizers/" + name)
			if err != nil {
				b.Skip("no fixture tokenizer:", err)
			}
			label := name
			if !cached {
				tk.model.(*bpe).cache = nil
				label += "/nocache"
			}
			b.Run(label, func(b *testing.B) {
				tokens := 0
				cpu0 := cpuTime()
				for b.Loop() {
					for _, s := range texts {
						e, err := tk.Encode(s)
						if err != nil {
							b.Fatal(err)
						}
						tokens += e.Len()
					}
				}
				b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
				if cpu := cpuTime() - cpu0; cpu > 0 {
					b.ReportMetric(float64(tokens)/cpu.Seconds(), "tokens/cpu-s")
				}
			})
		}
	}
}
