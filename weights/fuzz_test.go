package weights

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseRef: whatever ParseRef accepts stays inside the cache folder and
// on the Hub's host when it becomes a path and a URL.
func FuzzParseRef(f *testing.F) {
	valid := map[string]bool{"org/name": true, "org/name@main": true, "a@refs/pr/1": true, "o/n@0123456789abcdef0123456789abcdef01234567": true}
	for s := range valid {
		f.Add(s)
	}
	for _, s := range []string{"../x", "org/..@..", "x@a/../../b", "https://h/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			if valid[s] {
				t.Fatalf("a valid reference %q refused: %v", s, err)
			}
			return
		}
		cache := "/cache"
		for _, p := range []string{
			filepath.Join(cache, r.folderName(), "refs", filepath.FromSlash(r.Revision)),
			filepath.Join(cache, r.folderName(), "snapshots", "0123456789abcdef0123456789abcdef01234567"),
		} {
			rel, err := filepath.Rel(filepath.Join(cache, r.folderName()), p)
			if err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("%q: %s escapes the repo folder", s, p)
			}
		}
		if strings.Contains(r.folderName(), "/") || strings.Contains(r.folderName(), "..") {
			t.Fatalf("%q: folder name %q", s, r.folderName())
		}
		u, err := url.Parse("https://hub.example/api/models/" + r.Repo + "/revision/" + url.PathEscape(r.Revision))
		if err != nil || u.Host != "hub.example" || !strings.HasPrefix(u.Path, "/api/models/") || strings.Contains(u.Path, "/../") {
			t.Fatalf("%q: URL %v, %v", s, u, err)
		}
	})
}

// FuzzParseConfig: any config.json gives a config or an error, never a
// panic, and an accepted one is safe to size a model with.
func FuzzParseConfig(f *testing.F) {
	valid := map[string]bool{miniLMConfig: true, bgeM3Config: true}
	f.Add([]byte(miniLMConfig))
	f.Add([]byte(bgeM3Config))
	f.Add([]byte(`{"model_type": "bert", "id2label": {"0": "a", "1": "b"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			if valid[string(b)] {
				t.Fatalf("a valid config refused: %v", err)
			}
			return
		}
		if c.HiddenSize <= 0 || c.NumAttentionHeads <= 0 || c.HiddenSize%c.NumAttentionHeads != 0 || c.NumLabels <= 0 || len(c.Labels()) != c.NumLabels || c.Arch() == ArchUnknown {
			t.Fatalf("accepted a config it cannot size a model with: %+v", c)
		}
	})
}
