package modernbert

import (
	"slices"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/tokenizer"
)

// TestTokenizerGolden: the fixtures' byte-level BPE tokenizer.json
// (ModernBERT's pipeline: NFC, ByteLevel, [CLS] $A [SEP] $B [SEP]) through
// package tokenizer gives transformers' ids on the corpus pairs, uncut and
// cut longest_first, and on every logits pair (9 of them cut at 128).
func TestTokenizerGolden(t *testing.T) {
	g := loadIndex(t)
	tok, err := tokenizer.Load(testdata + "/" + g.Tokenizer)
	if err != nil && strings.Contains(err.Error(), `"BPE" is not supported`) {
		t.Skipf("the fixtures' tokenizer is a byte-level BPE, which package tokenizer does not read yet: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		Query, Document string
		InputIDs        []int32 `json:"input_ids"`
		Cut24           []int32 `json:"longest_first_24"`
		Cut64           []int32 `json:"longest_first_64"`
	}
	check := func(what string, q, d string, max int, want []int32) {
		t.Helper()
		enc, err := tok.EncodePair(q, d, tokenizer.Truncation{MaxLength: max})
		if err != nil {
			t.Errorf("%s %q / %q: %v", what, q, d, err)
			return
		}
		if !slices.Equal(enc.IDs, want) {
			t.Errorf("%s %q / %q:\n got %v\nwant %v", what, q, d, enc.IDs, want)
		}
	}
	recs := readRecords[rec](t, g.Tokens)
	for _, r := range recs {
		if r.Document == "" {
			continue // transformers encodes (q, "") as a single text; rerank handles that case
		}
		check("uncut", r.Query, r.Document, 0, r.InputIDs)
		check("longest_first 24", r.Query, r.Document, 24, r.Cut24)
		check("longest_first 64", r.Query, r.Document, 64, r.Cut64)
	}
	for _, r := range readRecords[logitRecord](t, g.Models[modelNames[0]].Logits) {
		if r.Document != "" {
			check("logits pair", r.Query, r.Document, g.MaxLength, r.InputIDs)
		}
	}
	t.Logf("%d corpus pairs x 3 and the logits pairs equal to transformers", len(recs))
}
