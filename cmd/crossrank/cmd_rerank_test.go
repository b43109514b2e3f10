package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/crossrank/crossrank/rerank"
)

func TestReadDocuments(t *testing.T) {
	in := `{"id": "a1", "text": "first", "source": "wiki", "page": 3}

{"content": "seed style", "id": 7}
"a JSON string"
plain line of text
  {"text": "indented object"}
`
	docs, err := readDocuments(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []rerank.Document{
		{ID: "a1", Text: "first", Metadata: map[string]any{"source": "wiki", "page": json.Number("3")}},
		{ID: "7", Text: "seed style"},
		{Text: "a JSON string"},
		{Text: "plain line of text"},
		{Text: "indented object"},
	}
	if len(docs) != len(want) {
		t.Fatalf("got %d documents: %+v", len(docs), docs)
	}
	for i := range want {
		g, w := docs[i], want[i]
		if g.ID != w.ID || g.Text != w.Text || len(g.Metadata) != len(w.Metadata) {
			t.Errorf("doc %d: got %+v, want %+v", i, g, w)
		}
		for k, v := range w.Metadata {
			if g.Metadata[k] != v {
				t.Errorf("doc %d: metadata %s = %#v, want %#v", i, k, g.Metadata[k], v)
			}
		}
	}

	for _, c := range []struct{ in, msg string }{
		{"ok\n{\"text\": 3}\n", `line 2: "text" must be a string`},
		{"{\"id\": \"x\"}", `line 1: the object has no "text"`},
		{"a\nb\n{broken\n", "line 3: a line starting with '{' must be a JSON object"},
		{"{\"text\":\"a\",\"id\":[1]}", `line 1: "id" must be a string or a number`},
		{"\"unterminated\n", "line 1: a line starting with '\"' must be a JSON string"},
		{"ok\n\xff\xfe\n", "line 2: not valid UTF-8"},
		{"{\"text\":\"a\"} {}", "line 1: data after the JSON object"},
	} {
		_, err := readDocuments(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: error %v, want %q", c.in, err, c.msg)
		}
	}
}

// FuzzReadDocuments: any input gives documents or an error naming a line,
// never a panic; every document is valid UTF-8.
func FuzzReadDocuments(f *testing.F) {
	valid := map[string]bool{ // documents that must be read
		`{"id": 1, "text": "a", "m": {"x": [1, 2]}}`: true, "plain\n\n\"quoted\"\n": true, `{"content": "c"}`: true,
		"{\"text\":\"a\"}\r\n{\"text\":\"b\"}": true,
	}
	for s := range valid {
		f.Add([]byte(s))
	}
	for _, s := range []string{`{"text": null}`, `{`, `"`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		docs, err := readDocuments(bytes.NewReader(in))
		if err != nil {
			if valid[string(in)] {
				t.Fatalf("valid documents refused: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error without a line number: %v", err)
			}
			return
		}
		for _, d := range docs {
			if !utf8.ValidString(d.Text) || !utf8.ValidString(d.ID) {
				t.Fatalf("invalid UTF-8 in %+v", d)
			}
		}
	})
}

// cliResult is one JSON line of `crossrank rerank` / `search` output.
type cliResult struct {
	ID     string   `json:"id"`
	Text   string   `json:"text"`
	Index  int      `json:"index"`
	Score  *float64 `json:"score"`
	Logit  *float64 `json:"logit"`
	Tokens int      `json:"tokens"`
	Source string   `json:"source"`
}

func parseLines(t *testing.T, b []byte) []cliResult {
	t.Helper()
	var out []cliResult
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r cliResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func TestRerankCommand(t *testing.T) {
	dir := fixtureDir(t, "bert")
	input := `{"id": "d1", "text": "Cross-encoders read the query and the document together.", "source": "seed"}
{"id": "d2", "text": "The quick brown fox jumps over the lazy dog."}
Photosynthesis converts light energy into chemical energy.
{"id": "d4", "text": "Bi-encoders embed the query and the document independently."}
`
	query := "what does a cross-encoder read?"
	var out, errb bytes.Buffer
	rc := runMain([]string{"rerank", "--model", dir, "--query", query, "--top-k", "3", "--format", "json"},
		strings.NewReader(input), &out, &errb)
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	got := parseLines(t, out.Bytes())

	// The reference: the library on the same documents.
	r, err := rerank.New(context.Background(), dir, rerank.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	docs, _ := readDocuments(strings.NewReader(input))
	want, err := r.Rerank(context.Background(), query, docs, rerank.RerankOptions{TopK: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d:\n%s", len(got), len(want), out.String())
	}
	for i, w := range want {
		g := got[i]
		if g.Index != w.Index || g.ID != w.Document.ID || g.Text != w.Document.Text || g.Score == nil || *g.Score != w.Score ||
			g.Logit == nil || float32(*g.Logit) != w.Logit || g.Tokens != w.Tokens {
			t.Errorf("result %d: got %+v, library %+v", i, g, w)
		}
		if w.Document.ID == "d1" && g.Source != "seed" {
			t.Errorf("metadata lost: %+v", g)
		}
	}

	// --min-score keeps exactly the library's survivors; --docs reads a file.
	path := filepath.Join(t.TempDir(), "docs.jsonl")
	os.WriteFile(path, []byte(input), 0o644)
	all, _ := r.Rerank(context.Background(), query, docs, rerank.RerankOptions{})
	threshold := all[1].Score // keeps the best two (unless tied)
	out.Reset()
	if rc := runMain([]string{"rerank", "--model", dir, "--query", query, "--docs", path,
		"--min-score", jsonFloat(threshold)}, nil, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	wantMin, _ := r.Rerank(context.Background(), query, docs, rerank.RerankOptions{MinScore: new(threshold)})
	if got := parseLines(t, out.Bytes()); len(got) != len(wantMin) || len(got) < 2 {
		t.Errorf("--min-score: %d results, library %d", len(got), len(wantMin))
	}

	// A table when asked.
	out.Reset()
	if rc := runMain([]string{"rerank", "--model", dir, "--query", query, "--format", "table"},
		strings.NewReader(input), &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 5 ||
		!strings.HasPrefix(lines[0], "rank") || !strings.Contains(out.String(), "d1") {
		t.Errorf("table:\n%s", out.String())
	}
}

func jsonFloat(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func TestRerankCommandErrors(t *testing.T) {
	dir := fixtureDir(t, "bert")
	for _, c := range []struct {
		args  []string
		stdin string
		rc    int
		msg   string
	}{
		{[]string{"rerank", "--model", dir}, "a\n", 2, "--query is required"},
		{[]string{"rerank", "--model", dir, "--query", "q", "extra"}, "a\n", 2, `unexpected argument "extra"`},
		{[]string{"rerank", "--model", dir, "--query", "q"}, "\n\n", 1, "no documents"},
		{[]string{"rerank", "--model", dir, "--query", "q", "--top-k", "-1"}, "a\n", 2, "--top-k -1"},
		{[]string{"rerank", "--model", dir, "--query", "q", "--min-score", "0", "--min-logit", "0"}, "a\n", 2, "not both"},
		{[]string{"rerank", "--model", dir, "--query", "q", "--format", "xml"}, "a\n", 2, `--format "xml"`},
		{[]string{"rerank", "--model", dir, "--query", "q"}, "ok\n{bad\n", 1, "line 2"},
		{[]string{"rerank", "--model", "./no/such/folder", "--query", "q"}, "a\n", 1, "no/such/folder"},
		{[]string{"rerank", "--model", dir, "--query", "q", "--precision", "fp16"}, "a\n", 1, `precision "fp16"`},
	} {
		var out, errb bytes.Buffer
		rc := runMain(c.args, strings.NewReader(c.stdin), &out, &errb)
		if rc != c.rc || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("%v: rc %d, stderr %q; want rc %d and %q", c.args, rc, errb.String(), c.rc, c.msg)
		}
	}
}

// TestDefaultModelOffline: without network and without the model in the
// cache, the error says how to point --model at a folder.
func TestDefaultModelOffline(t *testing.T) {
	t.Setenv("HF_HUB_OFFLINE", "1")
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	var out, errb bytes.Buffer
	rc := runMain([]string{"rerank", "--query", "q"}, strings.NewReader("a document\n"), &out, &errb)
	if rc != 1 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	for _, want := range []string{defaultModel, "--model testdata/models/bert", "crossrank download " + defaultModel, "carry no meaning"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

func TestHelpForEveryCommand(t *testing.T) {
	if len(commands) < 8 {
		t.Fatalf("%d commands registered, want at least 8", len(commands))
	}
	for name := range commands {
		var out, errb bytes.Buffer
		rc := runMain([]string{"help", name}, nil, &out, &errb)
		help := out.String() + errb.String()
		if rc != 0 || !strings.Contains(help, name) || !strings.Contains(help, "-") {
			t.Errorf("help %s: rc %d, %q", name, rc, help)
		}
	}
	for _, name := range []string{"rerank", "search", "serve"} {
		var out, errb bytes.Buffer
		if rc := runMain([]string{"help", name}, nil, &out, &errb); rc != 0 || !strings.Contains(errb.String(), "usage: crossrank "+name) {
			t.Errorf("help %s: rc %d, %q", name, rc, errb.String())
		}
	}
}

// TestRerankLongDocs: --long-docs scores a document too long for the model
// by its best window, as the library does, and says so; without it the
// document is cut and the output counts the cut tokens.
func TestRerankLongDocs(t *testing.T) {
	dir := fixtureDir(t, "bert")
	long := strings.Repeat("the quick brown fox jumps over the lazy dog and keeps running ", 60)
	input := "a short document\n" + long + "\n"
	query := "where does the fox run?"
	docs, _ := readDocuments(strings.NewReader(input))
	for _, longDocs := range []bool{false, true} {
		args := []string{"rerank", "--model", dir, "--query", query, "--format", "json", "--max-length", "64"}
		opts := rerank.Options{MaxLength: 64}
		if longDocs {
			args = append(args, "--long-docs")
			opts.LongDocs = &rerank.Windows{}
		}
		var out, errb bytes.Buffer
		if rc := runMain(args, strings.NewReader(input), &out, &errb); rc != 0 {
			t.Fatalf("rc %d: %s", rc, errb.String())
		}
		r, err := rerank.New(context.Background(), dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		want, err := r.Rerank(context.Background(), query, docs, rerank.RerankOptions{})
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		var got []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			got = append(got, m)
		}
		if len(got) != 2 {
			t.Fatalf("long-docs=%v: %s", longDocs, out.String())
		}
		for i, w := range want {
			g := got[i]
			if int(g["index"].(float64)) != w.Index || g["score"].(float64) != w.Score {
				t.Errorf("long-docs=%v result %d: got %v, library %+v", longDocs, i, g, w)
			}
			if w.Index != 1 {
				continue
			}
			if longDocs && (w.Windows < 2 || g["windows"] == nil || int(g["windows"].(float64)) != w.Windows) {
				t.Errorf("long document: windows %v, library %d", g["windows"], w.Windows)
			}
			if !longDocs && (w.Truncated == 0 || g["truncated"] == nil || int(g["truncated"].(float64)) != w.Truncated) {
				t.Errorf("long document: truncated %v, library %d", g["truncated"], w.Truncated)
			}
		}
	}
}
