package weights

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Model references: "org/name", "name", or either with "@revision" (a
// branch, tag or commit hash; "main" when absent), checked before any of it
// becomes part of a path or a URL.

// DefaultRevision is the revision a reference without "@" means.
const DefaultRevision = "main"

var (
	// repoPart is one component of a repo id as huggingface_hub's
	// validate_repo_id accepts it: word characters, '-' and '.', not
	// starting or ending with '-' or '.', at most 96 characters.
	repoPart = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$`)
	// revisionRe admits branch and tag names (including "refs/pr/1") and
	// commit hashes; anything else could escape refs/ or the URL path.
	revisionRe = regexp.MustCompile(`^[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)*$`)
	commitRe   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// Ref is a parsed model reference.
type Ref struct {
	Repo     string // "org/name" or "name"
	Revision string // "main" unless given
}

func (r Ref) String() string {
	if r.Revision == DefaultRevision {
		return r.Repo
	}
	return r.Repo + "@" + r.Revision
}

// folderName is the repo's folder in the cache, as huggingface_hub names it
// ("models--org--name").
func (r Ref) folderName() string {
	return "models--" + strings.ReplaceAll(r.Repo, "/", "--")
}

// ParseRef parses and validates "org/name[@revision]". It rejects
// everything that could make the cache path or the download URL point
// elsewhere: "..", absolute paths, URLs, backslashes, empty parts.
func ParseRef(s string) (Ref, error) {
	repo, rev, hasRev := strings.Cut(s, "@")
	if !hasRev {
		rev = DefaultRevision
	}
	bad := func(why string) (Ref, error) {
		return Ref{}, fmt.Errorf("weights: model %q: %s (want org/name or org/name@revision)", s, why)
	}
	if strings.Contains(repo, "://") || strings.HasPrefix(repo, "/") || strings.ContainsAny(repo, `\:?#%`) {
		return bad("not a Hugging Face repo id")
	}
	parts := strings.Split(repo, "/")
	if len(parts) > 2 {
		return bad("too many '/'")
	}
	for _, p := range parts {
		if !repoPart.MatchString(p) {
			return bad(fmt.Sprintf("%q is not a valid name (letters, digits, '-', '_', '.', not starting or ending with '-' or '.')", p))
		}
	}
	if strings.Contains(repo, "--") || strings.Contains(repo, "..") || strings.HasSuffix(repo, ".git") {
		return bad(`"--", ".." and a ".git" ending are not allowed`)
	}
	if !revisionRe.MatchString(rev) || len(rev) > 256 {
		return bad(fmt.Sprintf("revision %q is not a branch, tag or commit name", rev))
	}
	for _, seg := range strings.Split(rev, "/") {
		if seg == "." || seg == ".." || strings.HasPrefix(seg, ".") {
			return bad(fmt.Sprintf("revision %q has a '.' path segment", rev))
		}
	}
	return Ref{Repo: repo, Revision: rev}, nil
}

// Cache locations, with huggingface_hub's precedence: $HF_HUB_CACHE, the
// legacy $HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub,
// ~/.cache/huggingface/hub.

// HFHome is $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
func HFHome() string {
	if h := os.Getenv("HF_HOME"); h != "" {
		return expandHome(h)
	}
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(expandHome(x), "huggingface")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return filepath.Join(home, ".cache", "huggingface")
}

// HubCacheDir is the folder huggingface_hub keeps downloaded repos in.
func HubCacheDir() string {
	for _, k := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if d := os.Getenv(k); d != "" {
			return expandHome(d)
		}
	}
	return filepath.Join(HFHome(), "hub")
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return os.ExpandEnv(p)
}

// envTrue is huggingface_hub's _is_true: 1, ON, YES, TRUE in any case.
func envTrue(k string) bool {
	switch strings.ToUpper(os.Getenv(k)) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

// OfflineFromEnv is whether HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) forbids the network.
func OfflineFromEnv() bool { return envTrue("HF_HUB_OFFLINE") || envTrue("TRANSFORMERS_OFFLINE") }

// TokenFromEnv is $HF_TOKEN, else the token `hf auth login` saved
// ($HF_TOKEN_PATH, else $HF_HOME/token), else "".
func TokenFromEnv() string {
	if t := strings.TrimSpace(os.Getenv("HF_TOKEN")); t != "" {
		return t
	}
	path := os.Getenv("HF_TOKEN_PATH")
	if path == "" {
		path = filepath.Join(HFHome(), "token")
	}
	b, err := os.ReadFile(expandHome(path))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
