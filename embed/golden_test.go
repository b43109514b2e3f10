package embed

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/rerank"
)

// The bi-encoder fixtures (testdata/gen/embed.py): every model folder
// loaded as sentence-transformers saved it, every text embedded with each
// prompt the golden used, compared with SentenceTransformer.encode.

// tolerance is the bound per component. sentence-transformers ran
// padded batches of 8; crossrank packs without padding.
const tolerance = 1e-5

type goldenEmbedder struct {
	Dir        string   `json:"dir"`
	Golden     string   `json:"golden"`
	Dim        int      `json:"dim"`
	Normalized bool     `json:"normalized"`
	Plain      bool     `json:"plain"`
	Pooling    []string `json:"pooling"`
}

type goldenRecord struct {
	Text       string    `json:"text"`
	PromptName *string   `json:"prompt_name"`
	Prompt     string    `json:"prompt"`
	InputIDs   []int32   `json:"input_ids"`
	Truncated  bool      `json:"truncated"`
	Embedding  []float64 `json:"embedding"`
}

func testdata(p ...string) string {
	return filepath.Join(append([]string{"..", "testdata"}, p...)...)
}

func goldenEmbedders(t *testing.T) map[string]goldenEmbedder {
	t.Helper()
	raw, err := os.ReadFile(testdata("golden", "MANIFEST.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Embedders map[string]goldenEmbedder `json:"embedders"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Embedders) == 0 {
		t.Fatal("the manifest lists no embedders")
	}
	return m.Embedders
}

func readGolden(t *testing.T, path string) []goldenRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if filepath.Ext(path) == ".gz" {
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = gz
	}
	var out []goldenRecord
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var rec goldenRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// compareGolden embeds every record's text as the golden did and returns
// the worst component error.
func compareGolden(t *testing.T, e *Embedder, recs []goldenRecord) float64 {
	t.Helper()
	worst := 0.0
	groups := map[string][]int{} // prompt name ("" none) -> records
	var order []string
	for i, r := range recs {
		k := "\x00"
		if r.PromptName != nil {
			k = *r.PromptName
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range order {
		idx := groups[k]
		texts := make([]string, len(idx))
		for j, i := range idx {
			texts[j] = recs[i].Text
		}
		o := EmbedOptions{}
		if k != "\x00" {
			o.PromptName = k
		}
		res, err := e.Embed(context.Background(), texts, o)
		if err != nil {
			t.Fatalf("prompt %q: %v", k, err)
		}
		for j, i := range idx {
			want := recs[i]
			got := res[j]
			if got.Tokens != len(want.InputIDs) || got.Truncated != want.Truncated {
				t.Errorf("%q (prompt %q): %d tokens, truncated %v; sentence-transformers %d, %v", want.Text, k, got.Tokens, got.Truncated, len(want.InputIDs), want.Truncated)
			}
			if len(got.Vector) != len(want.Embedding) {
				t.Fatalf("%q: dim %d, want %d", want.Text, len(got.Vector), len(want.Embedding))
			}
			for c, w := range want.Embedding {
				d := math.Abs(float64(got.Vector[c]) - float64(float32(w)))
				if math.IsNaN(d) {
					d = math.Inf(1)
				}
				worst = max(worst, d)
				if d > tolerance {
					t.Errorf("%q (prompt %q): component %d = %v, sentence-transformers %v", want.Text, k, c, got.Vector[c], w)
					break
				}
			}
		}
	}
	return worst
}

func TestGoldenEmbeddings(t *testing.T) {
	for name, g := range goldenEmbedders(t) {
		t.Run(name, func(t *testing.T) {
			e, err := New(context.Background(), testdata(filepath.FromSlash(g.Dir)), Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			in := e.Info()
			if in.Dim != g.Dim || in.Normalized != g.Normalized || (g.Plain != (len(in.Notes) > 0)) {
				t.Errorf("info %+v; manifest dim %d normalized %v plain %v", in, g.Dim, g.Normalized, g.Plain)
			}
			if cls := slices.Equal(g.Pooling, []string{"cls"}); e.clsOnly != cls {
				t.Errorf("pooling %v: the one-row [cls] path is %v, want %v", g.Pooling, e.clsOnly, cls)
			}
			recs := readGolden(t, testdata(filepath.FromSlash(g.Golden)))
			worst := compareGolden(t, e, recs)
			t.Logf("%d records, worst |crossrank - sentence-transformers| %.2e", len(recs), worst)
		})
	}
}

// TestGoldenTokens: the ids crossrank feeds the encoder are the ones
// sentence-transformers fed it (prompt + text, cut at max_seq_length).
func TestGoldenTokens(t *testing.T) {
	g := goldenEmbedders(t)["embed-xlmr-e5"]
	e, err := New(context.Background(), testdata(filepath.FromSlash(g.Dir)), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	pre, post := e.enc.frame()
	for _, r := range readGolden(t, testdata(filepath.FromSlash(g.Golden))) {
		ids, types, err := e.enc.encode(r.Prompt + r.Text)
		if err != nil {
			t.Fatal(err)
		}
		s := seq{ids: ids, typeIDs: types}
		if len(ids) > e.maxLen {
			s = cut(s, e.maxLen, pre, post, false)
		}
		if !slices.Equal(s.ids, r.InputIDs) {
			t.Errorf("%q: ids %v, sentence-transformers %v", r.Prompt+r.Text, s.ids, r.InputIDs)
		}
	}
}

// TestWrongKind: a cross-encoder given to the embedder, and an embedding
// model given to the re-ranker, fail at load with errors that say so.
func TestWrongKind(t *testing.T) {
	quiet := Options{Logger: slog.New(slog.DiscardHandler)}
	if _, err := New(context.Background(), testdata("models", "bert"), quiet); !errors.Is(err, ErrNotEmbedder) || !strings.Contains(err.Error(), "cross-encoder") {
		t.Errorf("embed.New on a cross-encoder: %v", err)
	}
	if _, err := rerank.New(context.Background(), testdata("models", "embed-bert"), rerank.Options{Logger: slog.New(slog.DiscardHandler)}); !errors.Is(err, rerank.ErrNotReranker) || !strings.Contains(err.Error(), "BertModel") {
		t.Errorf("rerank.New on an embedding model: %v", err)
	}
	if !IsEmbedder(testdata("models", "embed-bert-plain")) || !IsEmbedder(testdata("models", "embed-bert")) || IsEmbedder(testdata("models", "bert")) {
		t.Error("IsEmbedder: wrong kind")
	}
	// sentence-transformers 6 saves a CrossEncoder with a modules.json of
	// one Transformer module: still a cross-encoder.
	ce := t.TempDir()
	cfg, err := os.ReadFile(testdata("models", "bert", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ce, "config.json"), cfg, 0o644)
	os.WriteFile(filepath.Join(ce, "modules.json"), []byte(`[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"}]`), 0o644)
	if IsEmbedder(ce) {
		t.Error("a CrossEncoder saved by sentence-transformers 6 counts as an embedder")
	}
}

func TestShared(t *testing.T) {
	dir := testdata("models", "embed-bert")
	a, err := Shared(context.Background(), dir, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Shared(context.Background(), dir, Options{})
	if a != b {
		t.Fatal("Shared loaded the model twice")
	}
	a.Close()
	c, err := Shared(context.Background(), dir, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil || c == a {
		t.Fatalf("after Close, Shared gave the closed Embedder again (%v)", err)
	}
	c.Close()
}

// FuzzEmbed: any text, prompt and truncation give vectors of the model's
// size within the maximum length, or an error; never a panic or NaN.
func FuzzEmbed(f *testing.F) {
	for _, s := range []string{"", "query: ", "[CLS] [SEP]", "héllo wörld 東京", strings.Repeat("long text ", 80), "\xff"} {
		f.Add(s, "passage: ", uint8(0), uint8(0))
	}
	e, err := New(context.Background(), testdata("models", "embed-bert-multi"), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { e.Close() })
	f.Fuzz(func(t *testing.T, text, prompt string, trunc, dims uint8) {
		o := EmbedOptions{Prompt: &prompt, Truncation: Truncation(trunc % 3), Dimensions: int(dims % 100)}
		res, err := e.Embed(context.Background(), []string{text, "x"}, o)
		if err != nil {
			return
		}
		want := e.Info().Dim
		if o.Dimensions > 0 {
			want = o.Dimensions
		}
		for _, r := range res {
			if len(r.Vector) != want || r.Tokens > e.Info().MaxLength || r.Tokens < 2 {
				t.Fatalf("%q: %d components (want %d), %d tokens", text, len(r.Vector), want, r.Tokens)
			}
			for _, v := range r.Vector {
				if math.IsNaN(float64(v)) {
					t.Fatalf("%q: NaN", text)
				}
			}
		}
	})
}
