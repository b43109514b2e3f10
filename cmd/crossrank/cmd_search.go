package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/crossrank/crossrank/embed"
	"github.com/crossrank/crossrank/rerank"
)

// progressTo returns a progress callback that redraws one line on a
// terminal and, elsewhere, reports every tenth of the way.
func progressTo(w io.Writer, what string) func(done, total int) {
	term := isTerminal(w)
	lastTenth := -1
	return func(done, total int) {
		if term {
			fmt.Fprintf(w, "\r%s: %d/%d", what, done, total)
			if done == total {
				fmt.Fprintln(w)
			}
			return
		}
		if tenth := done * 10 / max(total, 1); tenth != lastTenth {
			lastTenth = tenth
			fmt.Fprintf(w, "%s: %d/%d\n", what, done, total)
		}
	}
}

func init() {
	register(&command{
		name:  "search",
		short: "search a JSON lines corpus: BM25 (or hybrid BM25 + dense) retrieval, then cross-encoder re-ranking",
		run:   runSearch,
	})
}

const searchUsage = `usage: crossrank search --corpus docs.jsonl --query Q [--model MODEL] [flags]

The seed's retrieve-then-rerank pipeline with no other service: an in-memory
BM25 index of the corpus retrieves --retrieval-k candidates, the cross-encoder
re-ranks them and the best --top-k are printed (JSON lines, or a table on a
terminal; the fields are those of crossrank rerank). As in the seed,
re-ranking is skipped when there are no more candidates than --top-k.

With --hybrid, retrieval is hybrid: BM25 and a dense index (the corpus
embedded by --embed-model, cosine similarity) each give --retrieval-k
candidates, fused by reciprocal rank fusion (score = sum of 1/(k + rank),
--rrf-k 60), as the seed's RetrievalConfig(strategy="hybrid"). The corpus's
vectors are computed once and cached beside it (--embed-cache), keyed by the
model and the corpus's content; progress goes to standard error.

The corpus has one JSON object per line with "text" (or "content"), an
optional "id" (default: the line number) and any other fields, which are
kept as metadata; "tenant" restricts a document to --tenant searches.

flags:
`

func runSearch(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("search", stderr)
	model := fs.String("model", defaultModel, "model folder or Hugging Face reference")
	corpus := fs.String("corpus", "", "JSON lines corpus `file` (required)")
	query := fs.String("query", "", "the query (required)")
	tenant := fs.String("tenant", "", "search only documents whose \"tenant\" is this (default: all)")
	retrievalK := fs.Int("retrieval-k", 20, "candidates BM25 retrieves")
	noRerank := fs.Bool("no-rerank", false, "print the retrieved candidates without re-ranking")
	hybrid := fs.Bool("hybrid", false, "hybrid retrieval: BM25 and dense (--embed-model) fused by reciprocal rank fusion")
	embedModel := fs.String("embed-model", defaultEmbedModel, "with --hybrid: the embedding model (folder or Hugging Face reference)")
	rrfK := fs.Float64("rrf-k", rerank.RRFK, "with --hybrid: the reciprocal rank fusion constant")
	embedCache := fs.String("embed-cache", "", "with --hybrid: the `file` caching the corpus's vectors (default: beside the corpus, named by the model; \"none\": no cache)")
	var ef embedFlags
	ef.register(fs, "embed-")
	var mf modelFlags
	mf.register(fs)
	var of outputFlags
	of.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, searchUsage)
		fs.PrintDefaults()
	}
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "crossrank search: "+format+"\n", a...)
		return code
	}
	switch {
	case fs.NArg() > 0:
		return fail(2, "unexpected argument %q (the query goes in --query)", fs.Arg(0))
	case *corpus == "":
		return fail(2, "--corpus is required")
	case strings.TrimSpace(*query) == "":
		return fail(2, "--query is required and must not be blank")
	case *retrievalK < 1:
		return fail(2, "--retrieval-k %d: want at least 1", *retrievalK)
	case *hybrid && !(*rrfK > 0):
		return fail(2, "--rrf-k %v: want more than 0", *rrfK)
	}
	ropts, err := mf.rerankOptions(fs)
	if err != nil {
		return fail(2, "%v", err)
	}
	if err := of.check(); err != nil {
		return fail(2, "%v", err)
	}
	topK := ropts.TopK
	if topK == 0 {
		topK = 5 // the seed's rerank_k
	}
	ropts.TopK = 0 // the pipeline's RerankK is the top-k

	f, err := os.Open(*corpus)
	if err != nil {
		return fail(1, "%v", err)
	}
	docs, err := rerank.ReadDocumentsJSONL(f)
	f.Close()
	if err != nil {
		return fail(1, "%s: %v", *corpus, err)
	}
	var index rerank.Retriever = rerank.NewBM25(docs, rerank.BM25Options{})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *hybrid {
		e, err := loadEmbedder(ctx, *embedModel, ef.options(), stderr)
		if err != nil {
			return fail(1, "%v", err)
		}
		defer e.Close()
		cache := *embedCache
		switch cache {
		case "none":
			cache = ""
		case "":
			cache = *corpus + "." + embed.CacheKey(e) + ".embeddings"
		}
		dense, err := embed.NewDenseIndex(ctx, e, docs, embed.DenseOptions{CacheFile: cache, Progress: progressTo(stderr, "embedding the corpus")})
		if err != nil {
			return fail(1, "%v", err)
		}
		if dense.FromCache {
			fmt.Fprintf(stderr, "crossrank search: corpus vectors read from %s\n", cache)
		}
		index = &rerank.Fusion{Retrievers: []rerank.Retriever{index, dense}, K: *rrfK, Depth: *retrievalK}
	}
	cfg := rerank.PipelineConfig{RetrievalK: *retrievalK, RerankK: topK, SkipRerank: *noRerank, Rerank: ropts}
	var results []rerank.Result
	if *noRerank {
		// No model is needed to print the candidates.
		docs, err := index.Retrieve(ctx, *query, *tenant, *retrievalK)
		if err != nil {
			return fail(1, "%v", err)
		}
		for i, d := range docs {
			results = append(results, rerank.Result{Document: d, Index: i, Window: -1})
		}
	} else {
		r, err := loadModel(ctx, *model, mf.options(), stderr)
		if err != nil {
			return fail(1, "%v", err)
		}
		defer r.Close()
		results, err = r.Pipeline(index, cfg).Run(ctx, *query, *tenant)
		if err != nil {
			return fail(1, "%v", err)
		}
	}
	if len(results) == 0 {
		fmt.Fprintln(stderr, "crossrank search: no document matches the query")
	}
	if err := of.write(stdout, results); err != nil {
		return fail(1, "%v", err)
	}
	return 0
}
