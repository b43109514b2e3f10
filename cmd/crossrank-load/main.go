// Command crossrank-load is crossrank's load test: it starts the real
// `crossrank serve` on 127.0.0.1 with the fixture models, measures the rate
// at which the server saturates, then offers a multiple of that rate (open
// loop, Poisson arrivals) for a fixed time with a mix of request forms
// (infinity, TEI, Jina, Cohere), models and sizes, and checks the promises
// docs/RELIABILITY.md makes:
//
//   - every request is answered: with scores equal to what the rerank
//     library itself gives for that input (precomputed here), or with an
//     explicit 429/503 carrying Retry-After; none hangs past the client
//     timeout and no connection is dropped (sent == answered);
//   - the admission queue stays within its configured bound;
//   - the server's peak RSS stays under a limit derived from the model size;
//   - once the load stops, the queue empties and RSS and the Go heap return
//     near their idle baseline.
//
// It prints a report (and JSON with --json) and exits 1 if a promise was
// broken. `make test-load` runs it for 5 minutes at twice the saturation
// rate; the package's test runs a short form inside `make test`.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("crossrank-load", flag.ExitOnError)
	fs.StringVar(&cfg.Server, "server", "", "path to the crossrank binary (empty: go build ./cmd/crossrank into a temp dir)")
	fs.StringVar(&cfg.Root, "root", cfg.Root, "repository root (for the fixtures and the build; default: found above the working directory)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long to offer the load")
	fs.Float64Var(&cfg.Factor, "factor", cfg.Factor, "offered rate as a multiple of the measured saturation rate")
	fs.DurationVar(&cfg.SatDuration, "saturation-duration", cfg.SatDuration, "how long to measure the saturation rate (closed loop)")
	fs.IntVar(&cfg.SatWorkers, "saturation-workers", cfg.SatWorkers, "closed-loop clients while measuring saturation")
	fs.Float64Var(&cfg.Rate, "rate", 0, "offer this many requests/s instead of factor x saturation (0: measure)")
	fs.DurationVar(&cfg.ClientTimeout, "client-timeout", cfg.ClientTimeout, "a request without an answer by then counts as hung")
	fs.DurationVar(&cfg.ServerTimeout, "server-timeout", cfg.ServerTimeout, "the server's --timeout")
	fs.IntVar(&cfg.MaxQueued, "max-queued-requests", cfg.MaxQueued, "the server's --max-queued-requests")
	fs.IntVar(&cfg.MaxPairs, "max-pairs-in-flight", cfg.MaxPairs, "the server's --max-pairs-in-flight")
	fs.DurationVar(&cfg.IdleWait, "idle-wait", cfg.IdleWait, "how long to wait, after the load, for memory to return to idle")
	fs.Int64Var(&cfg.RSSLimitMB, "rss-limit-mb", 0, "peak RSS limit in MiB (0: derived from the model size)")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the request mix and arrivals")
	fs.IntVar(&cfg.Templates, "templates", cfg.Templates, "distinct requests in the mix (each precomputed with the library)")
	asJSON := fs.Bool("json", false, "print the report as JSON too")
	fs.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.Log = os.Stderr
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crossrank-load:", err)
		os.Exit(1)
	}
	fmt.Print(rep.String())
	if *asJSON {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Println(string(b))
	}
	if f := rep.Failures(); len(f) > 0 {
		fmt.Fprintln(os.Stderr, "crossrank-load: FAILED:\n  "+strings.Join(f, "\n  "))
		os.Exit(1)
	}
	fmt.Println("PASS")
}
