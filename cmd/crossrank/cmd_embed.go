package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/crossrank/crossrank/embed"
)

func init() {
	register(&command{
		name:  "embed",
		short: "embed texts (JSON lines or plain lines) with a bi-encoder: one vector per line",
		run:   runEmbed,
	})
}

// defaultEmbedModel is the most used sentence-transformers model.
const defaultEmbedModel = "sentence-transformers/all-MiniLM-L6-v2"

const embedUsage = `usage: crossrank embed [--model MODEL] [flags] < texts

Reads one text per line (plain text, a JSON string, or a JSON object with
"text" or "content" and an optional "id", as crossrank rerank reads
documents) and writes one JSON line per text, in input order:

  {"index": 0, "id": "...", "embedding": [...], "tokens": 12, "truncated": false}

MODEL is a sentence-transformers model (modules.json, 1_Pooling/, optional
2_Dense/ and Normalize) or a plain BertModel / XLMRobertaModel checkpoint
(mean pooling), as a folder or a Hugging Face reference. The vectors are
what sentence-transformers' encode returns for the same texts.

flags:
`

// embedFlags are the flags shared by embed and search --hybrid.
type embedFlags struct {
	maxLength int
	batchSize int
	precision string
}

func (f *embedFlags) register(fs *flag.FlagSet, prefix string) {
	fs.IntVar(&f.maxLength, prefix+"max-length", 0, "most tokens of one text (0: the model's max_seq_length)")
	fs.IntVar(&f.batchSize, prefix+"batch-size", 32, "texts per forward pass")
	fs.StringVar(&f.precision, prefix+"precision", "fp32", "matrix arithmetic: fp32, bf16 or int8")
}

func (f *embedFlags) options() embed.Options {
	return embed.Options{MaxLength: f.maxLength, BatchSize: f.batchSize, Precision: f.precision}
}

func runEmbed(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("embed", stderr)
	model := fs.String("model", defaultEmbedModel, "embedding model folder or Hugging Face reference")
	input := fs.String("input", "", "read texts from `FILE` instead of standard input")
	normalize := fs.Bool("normalize", false, "scale every vector to unit length (the model's own stack may already)")
	promptName := fs.String("prompt-name", "", "the model's prompt to put before each text, e.g. query or passage (default: the model's default_prompt_name)")
	prompt := fs.String("prompt", "", "a prompt `text` to put before each text (instead of --prompt-name)")
	dims := fs.Int("dimensions", 0, "keep the first `N` components (Matryoshka models; 0: all)")
	truncate := fs.String("truncate", "end", "a text longer than the maximum length: cut its end, its start, or none (fail)")
	var ef embedFlags
	ef.register(fs, "")
	fs.Usage = func() {
		fmt.Fprint(stderr, embedUsage)
		fs.PrintDefaults()
	}
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "crossrank embed: "+format+"\n", a...)
		return code
	}
	if fs.NArg() > 0 {
		return fail(2, "unexpected argument %q (texts come on standard input or --input)", fs.Arg(0))
	}
	o := embed.EmbedOptions{PromptName: *promptName, Normalize: *normalize, Dimensions: *dims}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["prompt"] {
		if set["prompt-name"] {
			return fail(2, "--prompt and --prompt-name exclude each other")
		}
		o.Prompt = prompt
	}
	switch *truncate {
	case "end":
	case "start":
		o.Truncation = embed.TruncateStart
	case "none":
		o.Truncation = embed.NoTruncation
	default:
		return fail(2, "--truncate %q: want end, start or none", *truncate)
	}
	if *dims < 0 {
		return fail(2, "--dimensions %d: want 0 or more", *dims)
	}
	in := stdin
	if *input != "" {
		f, err := os.Open(*input)
		if err != nil {
			return fail(1, "%v", err)
		}
		defer f.Close()
		in = f
	}
	docs, err := readDocuments(in)
	if err != nil {
		return fail(1, "input: %v", err)
	}
	if len(docs) == 0 {
		return fail(1, "no texts on the input")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e, err := loadEmbedder(ctx, *model, ef.options(), stderr)
	if err != nil {
		return fail(1, "%v", err)
	}
	defer e.Close()
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	const chunk = 1024 // texts per call: output streams, memory stays bounded
	for lo := 0; lo < len(docs); lo += chunk {
		hi := min(lo+chunk, len(docs))
		texts := make([]string, hi-lo)
		for i := range texts {
			texts[i] = docs[lo+i].Text
		}
		res, err := e.Embed(ctx, texts, o)
		if err != nil {
			if ie, ok := err.(*embed.InputError); ok {
				return fail(1, "line %d: %v", lo+ie.Index+1, ie.Err)
			}
			return fail(1, "%v", err)
		}
		for i, r := range res {
			if err := writeEmbedding(w, lo+i, docs[lo+i].ID, r); err != nil {
				return fail(1, "%v", err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		return fail(1, "%v", err)
	}
	return 0
}

func writeEmbedding(w *bufio.Writer, index int, id string, r embed.Embedding) error {
	w.WriteString(`{"index":`)
	w.WriteString(strconv.Itoa(index))
	if id != "" {
		b, err := json.Marshal(id)
		if err != nil {
			return err
		}
		w.WriteString(`,"id":`)
		w.Write(b)
	}
	w.WriteString(`,"embedding":[`)
	for j, v := range r.Vector {
		if j > 0 {
			w.WriteByte(',')
		}
		// The shortest decimal that reads back as the same float32.
		w.WriteString(strconv.FormatFloat(float64(v), 'g', -1, 32))
	}
	fmt.Fprintf(w, `],"tokens":%d,"truncated":%t}`+"\n", r.Tokens, r.Truncated)
	return nil
}

// loadEmbedder loads an embedding model by folder or Hub reference, with
// the same download progress and offline hint as loadModel.
func loadEmbedder(ctx context.Context, ref string, opts embed.Options, stderr io.Writer) (*embed.Embedder, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	var resolveErr error
	opts.Resolve = cliResolve(stderr, &resolveErr)
	e, err := embed.New(ctx, ref, opts)
	if err != nil && resolveErr != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("%w\n\n%s", err, offlineHint(ref))
	}
	return e, err
}
