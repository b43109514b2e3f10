package benchmarks

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"

	"github.com/crossrank/crossrank/ml"
)

//go:embed workload.json
var workloadJSON []byte

// Workload is the benchmark's input: sets of (query, documents) requests
// with the token ids every contender scores.
type Workload struct {
	Version     int               `json:"version"`
	Seed        int64             `json:"seed"`
	QueryTokens int               `json:"query_tokens"`
	Families    map[string]Family `json:"families"`
	Sets        []*Set            `json:"sets"`
}

// Family describes the tokenizer whose ids a set carries.
type Family struct {
	Tokenizer string   `json:"tokenizer"`
	Words     int      `json:"words"`
	Template  []string `json:"template"`
}

// Set is one request: a query and N documents, tokenized as pairs.
type Set struct {
	Name      string `json:"name"`   // "short" (32-256 doc tokens) or "long" (512-2048)
	Family    string `json:"family"` // "bert" or "xlmr"
	N         int    `json:"n"`
	DocTokens []int  `json:"doc_tokens"` // each document's own tokens
	Query     string `json:"query"`
	Pairs     []Pair `json:"pairs"`
}

// Pair is one (query, document) pair as the model sees it.
type Pair struct {
	Text         string  `json:"text"` // the document's text
	InputIDs     []int32 `json:"input_ids"`
	TokenTypeIDs []int32 `json:"token_type_ids"`
}

// DefaultWorkload returns the workload committed beside this package
// (benchmarks/workload.json), compiled into the binary.
func DefaultWorkload() (*Workload, error) { return ParseWorkload(workloadJSON) }

// LoadWorkload reads a workload file.
func LoadWorkload(path string) (*Workload, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	w, err := ParseWorkload(raw)
	if err != nil {
		return nil, fmt.Errorf("workload %s: %w", path, err)
	}
	return w, nil
}

// ParseWorkload decodes and checks a workload.
func ParseWorkload(raw []byte) (*Workload, error) {
	var w Workload
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	if w.Version != 1 {
		return nil, fmt.Errorf("workload: version %d, want 1", w.Version)
	}
	if len(w.Sets) == 0 {
		return nil, fmt.Errorf("workload: no sets")
	}
	for i, s := range w.Sets {
		if err := s.check(); err != nil {
			return nil, fmt.Errorf("workload: set %d (%s): %w", i, s.Key(), err)
		}
	}
	return &w, nil
}

// Key names a set: "short/bert/n20".
func (s *Set) Key() string { return fmt.Sprintf("%s/%s/n%d", s.Name, s.Family, s.N) }

func (s *Set) check() error {
	if s.N <= 0 || len(s.Pairs) != s.N || len(s.DocTokens) != s.N {
		return fmt.Errorf("n %d, but %d pairs and %d doc_tokens", s.N, len(s.Pairs), len(s.DocTokens))
	}
	for i, p := range s.Pairs {
		if len(p.InputIDs) == 0 {
			return fmt.Errorf("pair %d: no input_ids", i)
		}
		if len(p.TokenTypeIDs) != len(p.InputIDs) {
			return fmt.Errorf("pair %d: %d token_type_ids for %d input_ids", i, len(p.TokenTypeIDs), len(p.InputIDs))
		}
		if len(p.InputIDs) < s.DocTokens[i] {
			return fmt.Errorf("pair %d: %d input_ids, shorter than its document's %d tokens", i, len(p.InputIDs), s.DocTokens[i])
		}
		for j, id := range p.InputIDs {
			if id < 0 {
				return fmt.Errorf("pair %d: input_ids[%d] = %d", i, j, id)
			}
		}
	}
	return nil
}

// Find returns the set with that name, family and N.
func (w *Workload) Find(name, family string, n int) (*Set, error) {
	for _, s := range w.Sets {
		if s.Name == name && s.Family == family && s.N == n {
			return s, nil
		}
	}
	var have []string
	for _, s := range w.Sets {
		have = append(have, s.Key())
	}
	return nil, fmt.Errorf("workload: no set %s/%s/n%d (have %v)", name, family, n, have)
}

// Sequences are the set's pairs as the model's input.
func (s *Set) Sequences() []ml.Sequence {
	out := make([]ml.Sequence, len(s.Pairs))
	for i, p := range s.Pairs {
		out[i] = ml.Sequence{IDs: p.InputIDs, TypeIDs: p.TokenTypeIDs}
	}
	return out
}

// Lengths are the pairs' token counts, special tokens included.
func (s *Set) Lengths() []int {
	out := make([]int, len(s.Pairs))
	for i, p := range s.Pairs {
		out[i] = len(p.InputIDs)
	}
	return out
}

// Tokens is the sum of Lengths.
func (s *Set) Tokens() int {
	t := 0
	for _, p := range s.Pairs {
		t += len(p.InputIDs)
	}
	return t
}

// MaxID is the largest token id in the set: it must be below the model's
// vocab_size.
func (s *Set) MaxID() int32 {
	var m int32
	for _, p := range s.Pairs {
		for _, id := range p.InputIDs {
			m = max(m, id)
		}
	}
	return m
}
