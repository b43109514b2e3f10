package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/crossrank/crossrank/weights"
)

func init() {
	register(&command{
		name:  "download",
		short: "download a model from the Hugging Face Hub into the shared cache",
		run:   runDownload,
	})
}

func runDownload(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("download", stderr)
	cache := fs.String("cache", "", "Hugging Face cache folder (default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)")
	endpoint := fs.String("endpoint", "", "Hub address (default $HF_ENDPOINT, else https://huggingface.co)")
	quiet := fs.Bool("q", false, "no progress bar")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: crossrank download [flags] org/name[@revision]")
		fmt.Fprintln(stderr, "\nDownloads what a cross-encoder or an embedding model needs (config, tokenizer,")
		fmt.Fprintln(stderr, "safetensors weights; for sentence-transformers models also modules.json and the")
		fmt.Fprintln(stderr, "module folders it names: 1_Pooling/, 2_Dense/, ...)")
		fmt.Fprintln(stderr, "into the Hugging Face cache that Python's huggingface_hub also uses, and prints")
		fmt.Fprintln(stderr, "the snapshot folder. Interrupted downloads resume. HF_TOKEN authenticates;")
		fmt.Fprintln(stderr, "HF_HUB_OFFLINE=1 only checks the cache.\n\nflags:")
		fs.PrintDefaults()
	}
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	ref, err := weights.ParseRef(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "crossrank download:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := weights.ResolveOptions{
		CacheDir: *cache,
		Endpoint: *endpoint,
		Logf:     func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) },
	}
	if !*quiet && isTerminal(stderr) {
		opts.Progress = stderr
	}
	dir, err := weights.Download(ctx, ref, opts)
	if err != nil {
		fmt.Fprintln(stderr, "crossrank download:", err)
		return 1
	}
	fmt.Fprintln(stdout, dir)
	return 0
}

// isTerminal is whether w is a character device (a terminal), where a
// progress bar redrawn with '\r' makes sense; not a pipe or a file.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
