package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/crossrank/crossrank/embed"
	"github.com/crossrank/crossrank/server"
	"github.com/crossrank/crossrank/weights"
)

// servedKind says whether ref is an embedding model (a sentence-transformers
// folder, or an encoder without a head), resolving a Hub reference first;
// it returns the folder to load. A reference that cannot be resolved is
// left to loadModel, whose error explains it.
func servedKind(ctx context.Context, ref string, stderr io.Writer) (bool, string, error) {
	dir := ref
	if st, err := os.Stat(ref); err != nil || !st.IsDir() {
		ro := weights.ResolveOptions{Logf: func(string, ...any) {}}
		if isTerminal(stderr) {
			ro.Progress = stderr
		}
		d, err := weights.Resolve(ctx, ref, ro)
		if err != nil {
			return false, "", err
		}
		dir = d
	}
	return embed.IsEmbedder(dir), dir, nil
}

// serveEmbedder loads the embedding model in dir and adds it to srv under name.
func serveEmbedder(ctx context.Context, srv *server.Server, name, dir string, maxLength, batchSize, maxInputs int, precision string, log *slog.Logger, stderr io.Writer) error {
	start := time.Now()
	e, err := loadEmbedder(ctx, dir, embed.Options{MaxLength: maxLength, BatchSize: batchSize, MaxInputs: maxInputs,
		Precision: precision, OnBatch: srv.OnEmbedBatch(name), Logger: log}, stderr)
	if err != nil {
		return err
	}
	in := e.Info()
	log.Info("embedding model loaded", "name", name, "dir", in.Dir, "architecture", in.Architecture, "dim", in.Dim,
		"pooling", in.Pooling, "normalized", in.Normalized, "max_length", in.MaxLength, "device", in.Device,
		"precision", in.Precision, "seconds", time.Since(start).Seconds())
	srv.AddEmbedder(name, e)
	return nil
}
