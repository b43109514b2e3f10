package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/crossrank/crossrank/rerank"
	"github.com/crossrank/crossrank/weights"
	"golang.org/x/term"
)

func init() {
	register(&command{
		name:  "rerank",
		short: "re-rank documents (JSON lines or plain lines) for a query, best first",
		run:   runRerank,
	})
}

// defaultModel is the seed's production recommendation.
const defaultModel = "BAAI/bge-reranker-base"

const rerankUsage = `usage: crossrank rerank [--model MODEL] --query Q [flags] [< docs | --docs FILE]

Scores every document against the query with a cross-encoder and prints them
best first. Documents are read one per line from --docs or standard input:
either a JSON object {"id": ..., "text": ..., ...metadata} ("content" is
accepted for "text"; other fields are kept and printed back), or a plain line
of text. Blank lines are skipped.

Output is JSON lines, best first: the document's id, text and metadata, then
"index" (its position in the input), "score" (the activated score, 0-1 for
one-label models), "logit" (the raw model output), "tokens" and, when the
pair was cut to fit, "truncated" (document tokens cut). On a terminal the
output is a table instead (--format json forces JSON).

MODEL is a folder holding a Hugging Face checkpoint (config.json,
model.safetensors, tokenizer.json) or org/name[@revision], found in the
Hugging Face cache or downloaded into it (HF_HUB_OFFLINE=1: cache only).

flags:
`

func runRerank(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("rerank", stderr)
	model := fs.String("model", defaultModel, "model folder or Hugging Face reference")
	query := fs.String("query", "", "the query (required)")
	docsPath := fs.String("docs", "", "read documents from this `file` instead of standard input")
	var mf modelFlags
	mf.register(fs)
	var of outputFlags
	of.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, rerankUsage)
		fs.PrintDefaults()
	}
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "crossrank rerank: "+format+"\n", a...)
		return code
	}
	if fs.NArg() > 0 {
		return fail(2, "unexpected argument %q (the query goes in --query)", fs.Arg(0))
	}
	if strings.TrimSpace(*query) == "" {
		return fail(2, "--query is required and must not be blank")
	}
	ropts, err := mf.rerankOptions(fs)
	if err != nil {
		return fail(2, "%v", err)
	}
	if err := of.check(); err != nil {
		return fail(2, "%v", err)
	}

	in := stdin
	if *docsPath != "" {
		f, err := os.Open(*docsPath)
		if err != nil {
			return fail(1, "%v", err)
		}
		defer f.Close()
		in = f
	} else if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintln(stderr, "crossrank rerank: reading documents from the terminal, one per line; end with Ctrl-D")
	}
	docs, err := readDocuments(in)
	if err != nil {
		return fail(1, "%v", err)
	}
	if len(docs) == 0 {
		return fail(1, "no documents: give them one per line on standard input or in --docs FILE")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := loadModel(ctx, *model, mf.options(), stderr)
	if err != nil {
		return fail(1, "%v", err)
	}
	defer r.Close()
	results, err := r.Rerank(ctx, *query, docs, ropts)
	if err != nil {
		return fail(1, "%v", err)
	}
	if err := of.write(stdout, results); err != nil {
		return fail(1, "%v", err)
	}
	return 0
}

// modelFlags are the flags rerank and search share about the model and
// scoring.
type modelFlags struct {
	topK        int
	minScore    float64
	minLogit    float64
	maxLength   int
	longDocs    bool
	batchSize   int
	precision   string
	backend     string
	instruction string
}

func (m *modelFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&m.topK, "top-k", 0, "keep only the best `K` results (0: all)")
	fs.Float64Var(&m.minScore, "min-score", 0, "drop results whose score is below `S` (the activated score, 0-1 for one-label models)")
	fs.Float64Var(&m.minLogit, "min-logit", 0, "drop results whose raw logit is below `L` (the seed's bge-reranker threshold: 0.0)")
	fs.IntVar(&m.maxLength, "max-length", 0, "most tokens per (query, document) pair, special tokens included (0: the model's limit)")
	fs.BoolVar(&m.longDocs, "long-docs", false, "score a document too long for the model window by window (its best window's score) instead of cutting it")
	fs.IntVar(&m.batchSize, "batch-size", 0, "pairs per forward pass (0: 32)")
	fs.StringVar(&m.precision, "precision", "fp32", precisionUsage)
	fs.StringVar(&m.backend, "backend", rerank.BackendAuto, backendUsage)
	fs.StringVar(&m.instruction, "instruction", "", instructionUsage)
}

// instructionUsage documents --instruction (rerank, search, serve).
const instructionUsage = "the task a decoder re-ranker (Qwen3-Reranker) is told in its prompt (default: the model card's \"" + rerank.DefaultInstruction + "\"); other models take none"

// precisionUsage documents --precision (rerank, search, serve, score, bench).
const precisionUsage = "arithmetic of the matrix products: fp32, bf16 or int8 (bf16/int8 on AMX tiles where the CPU and OS allow them, else AVX512_BF16/VNNI; fp32 where it has none)"

// backendUsage documents --backend (rerank, search, serve, score, bench).
const backendUsage = "what runs the model: auto (CUDA in a cuda build with a GPU present, else cpu), cpu, cuda, or reference: " +
	"plain loops on gorgonia.org/tensor, fp32 only and slow (gonum's sgemm, about 4% of the CPU's peak), " +
	"there to check a surprising score against the plain definition of the forward pass"

// options are the rerank.Options the flags ask for.
func (m *modelFlags) options() rerank.Options {
	o := rerank.Options{MaxLength: m.maxLength, BatchSize: m.batchSize, Precision: m.precision, BackendName: m.backend, Instruction: m.instruction}
	if m.longDocs {
		o.LongDocs = &rerank.Windows{}
	}
	return o
}

// rerankOptions are the per-call options; fs tells which flags were given.
func (m *modelFlags) rerankOptions(fs *flag.FlagSet) (rerank.RerankOptions, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var o rerank.RerankOptions
	switch {
	case m.topK < 0:
		return o, fmt.Errorf("--top-k %d: want 0 (all) or more", m.topK)
	case m.maxLength < 0:
		return o, fmt.Errorf("--max-length %d: want 0 (the model's) or more", m.maxLength)
	case m.batchSize < 0:
		return o, fmt.Errorf("--batch-size %d: want 0 (the default) or more", m.batchSize)
	case set["min-score"] && set["min-logit"]:
		return o, errors.New("give --min-score or --min-logit, not both")
	}
	o.TopK = m.topK
	switch {
	case set["min-score"]:
		o.MinScore = new(m.minScore)
	case set["min-logit"]:
		o.MinScore = new(m.minLogit)
		o.MinScoreScale = rerank.ScaleLogit
	}
	return o, nil
}

// loadModel loads a cross-encoder by folder or Hub reference. When the
// reference cannot be resolved (offline, no network, not in the cache), the
// error says how to use a folder instead.
func loadModel(ctx context.Context, ref string, opts rerank.Options, stderr io.Writer) (*rerank.Reranker, error) {
	if opts.Logger == nil {
		// The library's notes (documents cut to fit, ...) go where the
		// command's own messages go.
		opts.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	var resolveErr error
	opts.Resolve = cliResolve(stderr, &resolveErr)
	r, err := rerank.New(ctx, ref, opts)
	if err != nil && resolveErr != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("%w\n\n%s", err, offlineHint(ref))
	}
	return r, err
}

// cliResolve resolves Hub references with the command's notes on stderr and
// a progress bar on a terminal; *failed keeps the last resolve error, so the
// caller can add the offline hint.
func cliResolve(stderr io.Writer, failed *error) func(context.Context, string) (string, error) {
	ro := weights.ResolveOptions{Logf: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }}
	if isTerminal(stderr) {
		ro.Progress = stderr
	}
	return func(ctx context.Context, ref string) (string, error) {
		dir, err := weights.Resolve(ctx, ref, ro)
		*failed = err
		return dir, err
	}
}

func offlineHint(ref string) string {
	return fmt.Sprintf(`The model %s could not be found in the Hugging Face cache or downloaded.
With network access, fetch it once:    crossrank download %s
Without it, point --model at a local folder holding a Hugging Face checkpoint
(config.json, model.safetensors, tokenizer.json), for example the test fixture
in this repository:                    --model testdata/models/bert
(a fixture has random weights: its scores carry no meaning).`, ref, ref)
}

// readDocuments reads one document per line: a JSON object with "text" (or
// "content"), an optional "id" and metadata; a JSON string; or plain text.
// Blank lines are skipped. A line that starts with '{' must be a valid
// object with a text, so that a typo is reported instead of scored as text.
func readDocuments(r io.Reader) ([]rerank.Document, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var docs []rerank.Document
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, err
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			d, perr := parseDocumentLine(t)
			if perr != nil {
				return nil, fmt.Errorf("line %d: %v", lineNo, perr)
			}
			docs = append(docs, d)
		}
		if err == io.EOF {
			return docs, nil
		}
	}
}

func parseDocumentLine(line []byte) (rerank.Document, error) {
	if !utf8.Valid(line) {
		return rerank.Document{}, errors.New("not valid UTF-8")
	}
	switch line[0] {
	case '"':
		var s string
		if err := json.Unmarshal(line, &s); err != nil {
			return rerank.Document{}, fmt.Errorf("a line starting with '\"' must be a JSON string: %v", err)
		}
		return rerank.Document{Text: s}, nil
	case '{':
	default:
		return rerank.Document{Text: string(line)}, nil
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber() // ids and metadata numbers come back as they were written
	if err := dec.Decode(&obj); err != nil {
		return rerank.Document{}, fmt.Errorf("a line starting with '{' must be a JSON object: %v", err)
	}
	if dec.More() {
		return rerank.Document{}, errors.New("data after the JSON object")
	}
	var d rerank.Document
	key := "text"
	if _, ok := obj[key]; !ok {
		key = "content" // the seed's chunk dicts
	}
	text, ok := obj[key].(string)
	if !ok {
		if _, has := obj[key]; has {
			return d, fmt.Errorf("%q must be a string", key)
		}
		return d, errors.New(`the object has no "text" (or "content") string`)
	}
	d.Text = text
	delete(obj, key)
	switch id := obj["id"].(type) {
	case nil:
	case string:
		d.ID = id
	case json.Number:
		d.ID = id.String()
	default:
		return d, errors.New(`"id" must be a string or a number`)
	}
	delete(obj, "id")
	if len(obj) > 0 {
		d.Metadata = obj
	}
	return d, nil
}

// outputFlags choose between JSON lines and a table.
type outputFlags struct {
	format string
}

func (o *outputFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.format, "format", "auto", "output `format`: json (JSON lines), table, or auto (a table on a terminal, else JSON)")
}

func (o *outputFlags) check() error {
	switch o.format {
	case "auto", "json", "table":
		return nil
	}
	return fmt.Errorf("--format %q: want json, table or auto", o.format)
}

func (o *outputFlags) write(w io.Writer, results []rerank.Result) error {
	table := o.format == "table"
	if o.format == "auto" {
		f, ok := w.(*os.File)
		table = ok && term.IsTerminal(int(f.Fd()))
	}
	bw := bufio.NewWriter(w)
	if table {
		writeTable(bw, results, terminalWidth(w))
	} else {
		for _, r := range results {
			b, err := resultJSON(r)
			if err != nil {
				return err
			}
			bw.Write(b)
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

// resultJSON is one output line: the document as it came in (id, text,
// metadata), then what re-ranking found. Our fields win over metadata of
// the same name, as in the seed's {**chunk, "rerank_score": score}.
func resultJSON(r rerank.Result) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	field := func(k string, v any) error {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("document %d: field %q: %v", r.Index, k, err)
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
		return nil
	}
	ours := map[string]bool{"id": true, "text": true, "index": true, "score": true, "logit": true,
		"tokens": true, "truncated": true, "window": true, "windows": true}
	if r.Document.ID != "" {
		field("id", r.Document.ID)
	}
	field("text", r.Document.Text)
	keys := make([]string, 0, len(r.Document.Metadata))
	for k := range r.Document.Metadata {
		if !ours[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := field(k, r.Document.Metadata[k]); err != nil {
			return nil, err
		}
	}
	field("index", r.Index)
	if r.Logits == nil {
		// Not re-ranked (the pipeline skipped it): no scores to report.
		b.WriteByte('}')
		return b.Bytes(), nil
	}
	if math.IsNaN(r.Score) || math.IsInf(r.Score, 0) {
		return nil, fmt.Errorf("document %d: the model produced a score of %v", r.Index, r.Score)
	}
	field("score", json.Number(strconv.FormatFloat(r.Score, 'g', -1, 64)))
	field("logit", json.Number(strconv.FormatFloat(float64(r.Logit), 'g', -1, 32)))
	field("tokens", r.Tokens)
	if r.Truncated > 0 {
		field("truncated", r.Truncated)
	}
	if r.Windows > 0 {
		field("window", r.Window)
		field("windows", r.Windows)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 40 {
			return cols
		}
	}
	return 100
}

// writeTable prints results for people: rank, score, logit, id and as much
// of the text as fits on one line.
func writeTable(w *bufio.Writer, results []rerank.Result, width int) {
	fmt.Fprintf(w, "%4s  %-8s  %-9s  %-10s  %s\n", "rank", "score", "logit", "id", "text")
	for i, r := range results {
		id := r.Document.ID
		if id == "" {
			id = "#" + strconv.Itoa(r.Index)
		}
		id = clip(id, 10)
		score, logit := "-", "-"
		if r.Logits != nil {
			score = strconv.FormatFloat(r.Score, 'f', 4, 64)
			logit = strconv.FormatFloat(float64(r.Logit), 'f', 3, 32)
		}
		text := strings.Join(strings.Fields(r.Document.Text), " ")
		if r.Truncated > 0 {
			text = "[cut] " + text
		}
		fmt.Fprintf(w, "%4d  %-8s  %-9s  %-10s  %s\n", i+1, score, logit, id, clip(text, max(width-41, 10)))
	}
}

// clip cuts s to n runes, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}
