package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/crossrank/crossrank/rerank"
)

// The answers, one type per peer, with the peers' own field names.

// infinityResponse is infinity's ReRankResult.
type infinityResponse struct {
	Object  string           `json:"object"`
	Results []infinityResult `json:"results"`
	Model   string           `json:"model"`
	Usage   usage            `json:"usage"`
	ID      string           `json:"id"`
	Created int64            `json:"created"`
}

type infinityResult struct {
	RelevanceScore json.Number `json:"relevance_score"`
	Index          int         `json:"index"`
	Document       *string     `json:"document,omitempty"`
}

type usage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

// teiRank is one element of text-embeddings-inference's RerankResponse, a
// bare JSON array.
type teiRank struct {
	Index int         `json:"index"`
	Text  *string     `json:"text,omitempty"`
	Score json.Number `json:"score"`
}

type docText struct {
	Text string `json:"text"`
}

// jinaResponse is Jina's /v1/rerank answer.
type jinaResponse struct {
	Model   string       `json:"model"`
	Usage   jinaUsage    `json:"usage"`
	Results []jinaResult `json:"results"`
}

type jinaUsage struct {
	TotalTokens int `json:"total_tokens"`
}

type jinaResult struct {
	Index          int         `json:"index"`
	Document       *docText    `json:"document,omitempty"`
	RelevanceScore json.Number `json:"relevance_score"`
}

// cohereResponse is Cohere's v2 RerankResponse.
type cohereResponse struct {
	ID      string         `json:"id"`
	Results []cohereResult `json:"results"`
	Meta    cohereMeta     `json:"meta"`
}

type cohereResult struct {
	Index          int         `json:"index"`
	RelevanceScore json.Number `json:"relevance_score"`
	Document       *docText    `json:"document,omitempty"`
}

type cohereMeta struct {
	APIVersion struct {
		Version string `json:"version"`
	} `json:"api_version"`
	BilledUnits struct {
		SearchUnits int `json:"search_units"`
	} `json:"billed_units"`
	Tokens struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
	} `json:"tokens"`
}

// weaviateResponse is the answer of the inference container Weaviate's
// reranker-transformers module was written for (CrossEncoderResponse):
// pydantic writes its unset optional fields as null.
type weaviateResponse struct {
	Query    string          `json:"query"`
	Scores   []weaviateScore `json:"scores"`
	Property *string         `json:"property"`
	Score    *json.Number    `json:"score"`
}

type weaviateScore struct {
	Document string      `json:"document"`
	Score    json.Number `json:"score"`
}

// encodeResponse builds req's answer from results, best first.
func encodeResponse(req *rankRequest, model string, results []rerank.Result, tokens, truncated int) (any, *apiError) {
	if req.Form == FormOIP {
		return encodeOIP(req, model, results, tokens, truncated)
	}
	scores := make([]json.Number, len(results))
	for i, r := range results {
		n, ok := scoreNumber(r, req.RawScores)
		if !ok {
			return nil, newErr(req.Form, http.StatusInternalServerError, kindBackend,
				"the model produced a score of %v for document %d", r.Score, r.Index)
		}
		scores[i] = n
	}
	text := func(i int) *string {
		if !req.ReturnDocs {
			return nil
		}
		t := req.Docs[results[i].Index]
		return &t
	}
	doc := func(i int) *docText {
		if !req.ReturnDocs {
			return nil
		}
		return &docText{req.Docs[results[i].Index]}
	}
	switch req.Form {
	case FormWeaviate:
		// Weaviate pairs scores[i] with its i-th document: document order.
		out := weaviateResponse{Query: req.Query}
		if req.Single {
			out.Property, out.Score = &req.Docs[0], &scores[0]
			return out, nil
		}
		out.Scores = make([]weaviateScore, len(req.Docs))
		for i, r := range results {
			out.Scores[r.Index] = weaviateScore{Document: req.Docs[r.Index], Score: scores[i]}
		}
		return out, nil
	case FormTEI:
		out := make([]teiRank, len(results))
		for i, r := range results {
			out[i] = teiRank{Index: r.Index, Text: text(i), Score: scores[i]}
		}
		return out, nil
	case FormJina:
		out := jinaResponse{Model: model, Usage: jinaUsage{tokens}, Results: make([]jinaResult, len(results))}
		for i, r := range results {
			out.Results[i] = jinaResult{Index: r.Index, Document: doc(i), RelevanceScore: scores[i]}
		}
		return out, nil
	case FormCohere:
		out := cohereResponse{ID: newID(""), Results: make([]cohereResult, len(results))}
		out.Meta.APIVersion.Version = "2"
		// Cohere bills one search unit per query of up to 100 documents.
		out.Meta.BilledUnits.SearchUnits = (len(req.Docs) + 99) / 100
		out.Meta.Tokens.InputTokens = tokens
		for i, r := range results {
			out.Results[i] = cohereResult{Index: r.Index, RelevanceScore: scores[i], Document: doc(i)}
		}
		return out, nil
	}
	out := infinityResponse{
		Object: "rerank", Model: model, Usage: usage{tokens, tokens},
		ID: newID("crossrank-"), Created: time.Now().Unix(),
		Results: make([]infinityResult, len(results)),
	}
	for i, r := range results {
		out.Results[i] = infinityResult{RelevanceScore: scores[i], Index: r.Index, Document: text(i)}
	}
	return out, nil
}

// scoreNumber writes a result's score exactly: the raw logit with float32
// precision (the shortest decimal that reads back as the same float32), the
// activated score with float64's. ok is false for NaN and infinities, which
// JSON cannot carry.
func scoreNumber(r rerank.Result, raw bool) (json.Number, bool) {
	if raw {
		f := float64(r.Logit)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", false
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 32)), true
	}
	if math.IsNaN(r.Score) || math.IsInf(r.Score, 0) {
		return "", false
	}
	return json.Number(strconv.FormatFloat(r.Score, 'g', -1, 64)), true
}

// newID is a random request id, as infinity ("infinity-<uuid4>") and Cohere
// send; clients use it only for logs.
func newID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return prefix + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
