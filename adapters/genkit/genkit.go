// Package genkit plugs crossrank into firebase/genkit (Go): a retriever
// that wraps another one, re-ranks its candidates with a cross-encoder and
// keeps the best TopK, each with its score in Metadata["score"] (the key
// of Genkit's RankedDocumentMetadata).
package genkit

import (
	"context"
	"strings"

	"github.com/crossrank/crossrank/rerank"
	"github.com/firebase/genkit/go/ai"
	"github.com/firebase/genkit/go/genkit"
)

// Config configures a re-ranking retriever.
type Config struct {
	// TopK is how many documents to return (default 5).
	TopK int
	// InnerOptions, if not nil, replace the request's options when the
	// inner retriever is called: how to make it over-fetch, since each
	// plugin has its own option type (e.g. &localvec.RetrieverOptions{K: 20}).
	// nil passes the request's options through.
	InnerOptions any
	// Rerank are the options of the re-ranking call (MinScore, truncation);
	// its TopK is TopK.
	Rerank rerank.RerankOptions
}

// ScoreKey is the metadata key the cross-encoder's score is stored under.
const ScoreKey = "score"

// Wrap returns a retriever named name over inner, not registered (call it
// directly, or pass it to genkit.Retrieve with ai.WithRetriever).
func Wrap(name string, inner ai.Retriever, r rerank.DocumentRanker, cfg Config) ai.Retriever {
	return ai.NewRetriever(name, &ai.RetrieverOptions{Label: name}, retrieveFunc(inner, r, cfg))
}

// Define is Wrap, registered with g under name.
func Define(g *genkit.Genkit, name string, inner ai.Retriever, r rerank.DocumentRanker, cfg Config) ai.Retriever {
	return genkit.DefineRetriever(g, name, &ai.RetrieverOptions{Label: name}, retrieveFunc(inner, r, cfg))
}

func retrieveFunc(inner ai.Retriever, r rerank.DocumentRanker, cfg Config) ai.RetrieverFunc {
	if cfg.TopK <= 0 {
		cfg.TopK = 5
	}
	cfg.Rerank.TopK = cfg.TopK
	return func(ctx context.Context, req *ai.RetrieverRequest) (*ai.RetrieverResponse, error) {
		in := *req
		if cfg.InnerOptions != nil {
			in.Options = cfg.InnerOptions
		}
		resp, err := inner.Retrieve(ctx, &in)
		if err != nil {
			return nil, err
		}
		ranked, err := rerank.Items(ctx, r, text(req.Query), resp.Documents, text, cfg.Rerank)
		if err != nil {
			return nil, err
		}
		out := &ai.RetrieverResponse{Documents: make([]*ai.Document, len(ranked))}
		for i, x := range ranked {
			d := *x.Item // the inner retriever's document is left as it was
			d.Metadata = make(map[string]any, len(x.Item.Metadata)+1)
			for k, v := range x.Item.Metadata {
				d.Metadata[k] = v
			}
			d.Metadata[ScoreKey] = x.Score
			out.Documents[i] = &d
		}
		return out, nil
	}
}

// text is a document's text parts joined by newlines (media parts have
// no text to score).
func text(d *ai.Document) string {
	if d == nil {
		return ""
	}
	var parts []string
	for _, p := range d.Content {
		if p.IsText() {
			parts = append(parts, p.Text)
		}
	}
	return strings.Join(parts, "\n")
}
