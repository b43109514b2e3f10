package weights

import (
	"strings"
	"testing"
)

// TestParseRefRefusesEscapes adds to TestParseRef the encodings of a path
// escape that a cache path or Hub URL built from the reference could turn
// back into "..": percent-encoding, full-width dots, NUL, scheme-relative
// URLs, and dot segments inside a revision.
func TestParseRefRefusesEscapes(t *testing.T) {
	for _, s := range []string{
		"%2e%2e/x", "org/%2e%2e", "%2E%2E/%2E%2E", "org/m@%2e%2e", "org/m@refs/%2e%2e/x", "org/m@refs%2F..%2F..",
		"org/m@..", "org/m@.", "org/m@main/../../x", "org/m@refs/pr/1/../../..", "org/m@refs/pr/1/..",
		"..", ".", "org/.", "./m", "org/m/", "//evil.example/m", "file:///etc/passwd", "file:/etc/passwd",
		"ｏｒｇ/．．", "org/．．", "org/m\x00", "org/m@main\x00", "org/m@main%00", "org/m@~/x", "~/m",
		"org/m@main\\..\\..", "org/m@C:", "org/m@\n", "org\n/m", "org/m@main?x", "org/m@main#x",
	} {
		if r, err := ParseRef(s); err == nil {
			t.Errorf("ParseRef(%q) = %+v, want an error", s, r)
		}
	}
	// What is accepted maps to one folder name inside the cache.
	for _, s := range []string{"org/m", "m", "org/m@refs/pr/1", "org/m.v2@v1.0"} {
		r, err := ParseRef(s)
		if err != nil {
			t.Fatalf("ParseRef(%q): %v", s, err)
		}
		if f := r.folderName(); strings.ContainsAny(f, `/\`) || strings.Contains(f, "..") {
			t.Errorf("ParseRef(%q) folder %q", s, f)
		}
	}
}
