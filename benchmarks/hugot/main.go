// Command hugot-bench times knights-analytics/hugot's cross-encoder pipeline
// on the benchmark workload, and writes the same JSON object as the other
// contenders. It is a module of its own so that crossrank's go.mod does not
// depend on hugot.
//
// --backend go (the default) is hugot's pure-Go backend (GoMLX simplego
// running the ONNX export). --backend ort is its ONNX Runtime backend on the
// same ONNX file; it exists only in a binary built with -tags ORT (cgo, the
// Rust tokenizers library libtokenizers.a; see build-ort.sh) and needs
// --ort-lib, the path of libonnxruntime.so (the onnxruntime wheel's will do).
//
// hugot takes text only: it joins query and document with the separator
// token and tokenizes the result as one sequence. It is given the
// workload's text, which tokenizes to the workload's ids (checked when the
// workload was written, and here through the logits: run.py compares them
// with crossrank's). It returns sigmoid scores; the logits are recovered as
// log(s/(1-s)).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/knights-analytics/hugot"
	"github.com/knights-analytics/hugot/options"
	"github.com/knights-analytics/hugot/pipelines"
)

type set struct {
	Name   string `json:"name"`
	Family string `json:"family"`
	N      int    `json:"n"`
	Query  string `json:"query"`
	Pairs  []struct {
		Text     string  `json:"text"`
		InputIDs []int32 `json:"input_ids"`
	} `json:"pairs"`
}

func main() {
	model := flag.String("model", "", "stand-in folder (config.json, tokenizer.json, onnx/model.onnx)")
	workload := flag.String("workload", "benchmarks/workload.json", "workload file")
	setName := flag.String("set", "short", "workload set")
	n := flag.Int("n", 20, "documents per request")
	batch := flag.Int("batch", 32, "pairs per forward pass")
	budget := flag.Float64("budget", 10, "seconds of latency sampling once --min-reps are in")
	minReps := flag.Int("min-reps", 5, "at least this many latency samples")
	maxReps := flag.Int("max-reps", 200, "at most this many latency samples")
	out := flag.String("json", "", "result file")
	backend := flag.String("backend", "go", "go (pure Go, GoMLX) or ort (ONNX Runtime; needs -tags ORT)")
	ortLib := flag.String("ort-lib", "", "--backend ort: path of libonnxruntime.so")
	flag.Parse()
	if *model == "" || *out == "" {
		log.Fatal("hugot-bench: --model and --json are required")
	}
	switch *backend {
	case "go":
	case "ort":
		if newORTSession == nil {
			log.Fatal("hugot-bench: --backend ort: this binary was built without -tags ORT (see build-ort.sh)")
		}
		if *ortLib == "" {
			log.Fatal("hugot-bench: --backend ort needs --ort-lib (the path of libonnxruntime.so)")
		}
		if _, err := os.Stat(*ortLib); err != nil {
			log.Fatalf("hugot-bench: --ort-lib: %v", err)
		}
	default:
		log.Fatalf("hugot-bench: --backend %q: want go or ort", *backend)
	}

	var cfg struct {
		ModelType string `json:"model_type"`
	}
	readJSON(filepath.Join(*model, "config.json"), &cfg)
	family := "bert"
	if cfg.ModelType == "xlm-roberta" {
		family = "xlmr"
	}
	var w struct {
		Sets []set `json:"sets"`
	}
	readJSON(*workload, &w) // before the Chdir below
	var s *set
	for i := range w.Sets {
		if w.Sets[i].Name == *setName && w.Sets[i].Family == family && w.Sets[i].N == *n {
			s = &w.Sets[i]
		}
	}
	if s == nil {
		log.Fatalf("hugot-bench: no set %s/%s/n%d in %s", *setName, family, *n, *workload)
	}
	docs := make([]string, len(s.Pairs))
	longest := 0
	for i, p := range s.Pairs {
		docs[i] = p.Text
		longest = max(longest, len(p.InputIDs))
	}

	// Sequence buckets up to the workload's longest pair, so no pair is
	// cut: hugot pads each batch up to the smallest bucket that holds it.
	// Steps of 64 up to 512 (as a user tuning hugot for short passages
	// would set them; its default is 32, 128, 512), then powers of two.
	var buckets []int
	for b := 64; b <= 512; b += 64 {
		buckets = append(buckets, b)
	}
	for b := 1024; buckets[len(buckets)-1] < longest; b *= 2 {
		buckets = append(buckets, b)
	}
	// hugot finds the .onnx files under ModelPath but joins a subfolder's
	// name relative to the working directory: run from the model's folder.
	abs, err := filepath.Abs(*model)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.Chdir(abs); err != nil {
		log.Fatal(err)
	}
	var session *hugot.Session
	if *backend == "ort" {
		session, err = newORTSession(*ortLib, runtime.NumCPU())
	} else {
		session, err = hugot.NewGoSession(
			options.WithGoMLXSequenceBuckets(buckets),
			options.WithGoMLXBatchBuckets([]int{1, 8, 32}),
		)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer session.Destroy()
	p, err := hugot.NewPipeline(session, hugot.CrossEncoderConfig{
		ModelPath:    abs,
		Name:         "bench",
		OnnxFilename: "model.onnx",
		Options:      []hugot.CrossEncoderOption{pipelines.WithBatchSize(*batch)},
	})
	if err != nil {
		log.Fatal(err)
	}
	request := func() []float32 {
		o, err := p.RunPipeline(s.Query, docs)
		if err != nil {
			log.Fatal(err)
		}
		logits := make([]float32, len(docs))
		for _, r := range o.Results {
			sc := float64(r.Score)
			logits[r.Index] = float32(math.Log(sc / (1 - sc)))
		}
		return logits
	}
	logits := request() // warm-up: compiles the graphs for the buckets used
	var lat []float64
	t0 := time.Now()
	for len(lat) < *maxReps && (len(lat) < *minReps || time.Since(t0).Seconds() < *budget) {
		a := time.Now()
		request()
		lat = append(lat, float64(time.Since(a))/1e6)
	}
	elapsed := time.Since(t0).Seconds()
	sort.Float64s(lat)
	pct := func(q float64) float64 {
		k := min(max(int(math.Ceil(float64(len(lat))*q/100))-1, 0), len(lat)-1)
		return lat[k]
	}
	tokens := 0
	for _, p := range s.Pairs {
		tokens += len(p.InputIDs)
	}
	// What hugot computes: each batch (in input order) padded to its
	// longest pair (ORT), or to the smallest batch and sequence buckets
	// that hold it (GoMLX, which compiles a graph per shape).
	padded := 0
	for i := 0; i < len(s.Pairs); i += *batch {
		b := s.Pairs[i:min(i+*batch, len(s.Pairs))]
		l := 0
		for _, p := range b {
			l = max(l, len(p.InputIDs))
		}
		rows := len(b)
		if *backend == "ort" {
			padded += rows * l
			continue
		}
		for _, bb := range []int{1, 8, 32} {
			if bb >= rows {
				rows = bb
				break
			}
		}
		for _, sb := range buckets {
			if sb >= l {
				l = sb
				break
			}
		}
		padded += rows * l
	}
	contender := "hugot"
	notes := fmt.Sprintf("hugot pure-Go backend (GoMLX simplego), text input, batch %d, sequence buckets %v", *batch, buckets)
	threads := runtime.GOMAXPROCS(0)
	if *backend == "ort" {
		contender = "hugot-ort"
		threads = runtime.NumCPU()
		notes = fmt.Sprintf("hugot ONNX Runtime backend (%s, intra-op threads %d), Rust tokenizers, text input, batch %d padded to its longest pair", filepath.Base(*ortLib), threads, *batch)
	}
	res := map[string]any{
		"contender":          contender,
		"precision":          "fp32",
		"model":              filepath.Base(filepath.Clean(*model)),
		"n":                  *n,
		"pairs_per_s":        float64(*n*len(lat)) / elapsed,
		"latency_p50_ms":     pct(50),
		"latency_p95_ms":     pct(95),
		"peak_rss_mb":        peakRSSMB(),
		"max_abs_logit_diff": nil,
		"set":                *setName,
		"tokens":             tokens,
		"padded_tokens":      padded,
		"reps":               len(lat),
		"concurrency":        1,
		"threads":            threads,
		"notes":              notes,
		"logits":             logits,
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.NewEncoder(f).Encode(res); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s n=%d: p50 %.1f ms, %.2f pairs/s, %d reps\n", contender, res["model"], *n, pct(50), res["pairs_per_s"], len(lat))
}

// newORTSession starts hugot's ONNX Runtime session on the library at lib
// with threads intra-op threads; nil unless built with -tags ORT (ort.go).
var newORTSession func(lib string, threads int) (*hugot.Session, error)

func readJSON(path string, v any) {
	raw, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		log.Fatalf("%s: %v", path, err)
	}
}

func peakRSSMB() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
