package weights

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The Hugging Face cache, as huggingface_hub lays it out (file_download.py):
//
//	<cache>/models--org--name/
//	    refs/<revision>            the commit hash the revision pointed to
//	    blobs/<etag>               file contents, named by ETag (sha256 for LFS files, git sha1 otherwise)
//	    snapshots/<commit>/<file>  relative symlinks into ../../blobs/
//	    .no_exist/<commit>/<file>  files known to be absent from that commit
//	<cache>/.locks/models--org--name/<etag>.lock
//
// A model a Python user downloaded is used as it is, and what we download
// Python finds.

// ErrChecksum is a downloaded file whose content does not match its ETag.
var ErrChecksum = errors.New("checksum mismatch")

// ErrOffline is a model that is not in the cache while the network is off limits.
var ErrOffline = errors.New("not in the Hugging Face cache and offline mode is on")

// ResolveOptions says where the cache and the Hub are. Zero fields take the
// environment's values, as huggingface_hub does.
type ResolveOptions struct {
	CacheDir string       // default HubCacheDir()
	Endpoint string       // default $HF_ENDPOINT, else https://huggingface.co
	Token    string       // default TokenFromEnv()
	Offline  bool         // never touch the network; also on when OfflineFromEnv()
	Client   *http.Client // default: a client with no overall timeout (files are large)
	// Progress receives a progress bar (carriage-return redrawn lines); nil
	// for none. The command line passes stderr when it is a terminal.
	Progress io.Writer
	// Logf receives one-line notes (falling back to the cache, retries); may be nil.
	Logf func(format string, args ...any)
}

const defaultEndpoint = "https://huggingface.co"

func (o ResolveOptions) withDefaults() ResolveOptions {
	if o.CacheDir == "" {
		o.CacheDir = HubCacheDir()
	}
	if o.Endpoint == "" {
		o.Endpoint = os.Getenv("HF_ENDPOINT")
	}
	if o.Endpoint == "" {
		o.Endpoint = defaultEndpoint
	}
	o.Endpoint = strings.TrimRight(o.Endpoint, "/")
	if o.Token == "" {
		o.Token = TokenFromEnv()
	}
	o.Offline = o.Offline || OfflineFromEnv()
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o
}

// Resolve turns a model reference into a local folder holding config.json,
// the tokenizer files and the safetensors checkpoint. ref is a local folder
// (used as it is), or "org/name[@revision]", found in the Hugging Face cache
// or downloaded into it. Offline, only the cache is read.
func Resolve(ctx context.Context, ref string, opts ResolveOptions) (string, error) {
	if st, err := os.Stat(ref); err == nil && st.IsDir() {
		return filepath.Abs(ref)
	}
	if looksLikePath(ref) {
		return "", fmt.Errorf("weights: model folder %s does not exist", ref)
	}
	r, err := ParseRef(ref)
	if err != nil {
		return "", err
	}
	opts = opts.withDefaults()
	if opts.Offline {
		return cachedSnapshot(opts.CacheDir, r)
	}
	// A pinned commit that is complete in the cache needs no network, as in
	// huggingface_hub.
	if commitRe.MatchString(r.Revision) {
		if dir, err := cachedSnapshot(opts.CacheDir, r); err == nil {
			return dir, nil
		}
	}
	return Download(ctx, r, opts)
}

func looksLikePath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") ||
		strings.HasPrefix(s, "~") || s == "." || s == ".." || strings.Count(s, "/") > 1 && !strings.Contains(s, "@")
}

// cachedSnapshot finds the snapshot a reference points to in the cache and
// checks that it holds a whole cross-encoder.
func cachedSnapshot(cacheDir string, r Ref) (string, error) {
	repoDir := filepath.Join(cacheDir, r.folderName())
	commit := r.Revision
	if !commitRe.MatchString(commit) {
		b, err := os.ReadFile(filepath.Join(repoDir, "refs", filepath.FromSlash(r.Revision)))
		if err != nil {
			return "", fmt.Errorf("weights: %s: %w (no %s in %s)", r, ErrOffline, filepath.Join("refs", r.Revision), repoDir)
		}
		commit = strings.TrimSpace(string(b))
		if !commitRe.MatchString(commit) {
			return "", fmt.Errorf("weights: %s: %s holds %q, not a commit hash", r, filepath.Join(repoDir, "refs", r.Revision), commit)
		}
	}
	dir := filepath.Join(repoDir, "snapshots", commit)
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("weights: %s: %w (no snapshot %s)", r, ErrOffline, dir)
	}
	if missing := missingFiles(dir); len(missing) > 0 {
		return "", fmt.Errorf("weights: %s: the cached snapshot %s lacks %s: %w", r, dir, strings.Join(missing, ", "), ErrOffline)
	}
	return dir, nil
}

// missingFiles lists what a folder lacks to be a usable cross-encoder.
func missingFiles(dir string) []string {
	exists := func(n string) bool {
		_, err := os.Stat(filepath.Join(dir, n))
		return err == nil
	}
	var missing []string
	if !exists(ConfigFile) {
		missing = append(missing, ConfigFile)
	}
	switch {
	case exists(SafetensorsFile):
	case exists(SafetensorsIndex):
		shards, err := indexShards(filepath.Join(dir, SafetensorsIndex))
		if err != nil {
			missing = append(missing, SafetensorsIndex+" (unreadable)")
		}
		for _, s := range shards {
			if !exists(s) {
				missing = append(missing, s)
			}
		}
	default:
		missing = append(missing, SafetensorsFile)
	}
	if !exists("tokenizer.json") && !exists("vocab.txt") && !exists("sentencepiece.bpe.model") {
		missing = append(missing, "tokenizer.json")
	}
	return append(missing, missingSentenceFiles(dir)...)
}

// indexShards reads the shard file names of an index, validated as plain
// file names.
func indexShards(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var idx shardIndex
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	seen := map[string]bool{}
	var out []string
	for name, s := range idx.WeightMap {
		if !shardNameRe.MatchString(s) {
			return nil, fmt.Errorf("weights: %s: tensor %q: shard %q is not a .safetensors file name", path, name, s)
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

var shardNameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*\.safetensors$`)

// Files a cross-encoder needs, beyond the checkpoint. The tokenizer's
// fallbacks are fetched only when tokenizer.json is absent.
var (
	neededFiles    = []string{ConfigFile, "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}
	tokenizerFalls = []string{"vocab.txt", "sentencepiece.bpe.model"}
)

// repoInfo is the part of GET /api/models/{repo}/revision/{rev} we read.
type repoInfo struct {
	SHA      string `json:"sha"`
	Siblings []struct {
		RFilename string `json:"rfilename"`
	} `json:"siblings"`
}

// Download fetches what a cross-encoder (or a sentence-transformers
// bi-encoder: modules.json and the module folders it names) needs from the Hub into the cache
// and returns the snapshot folder. Files already in the cache are not
// fetched again. When the Hub cannot be reached and the cache already holds
// the revision, the cache is used (as huggingface_hub does).
func Download(ctx context.Context, r Ref, opts ResolveOptions) (string, error) {
	opts = opts.withDefaults()
	if opts.Offline {
		return cachedSnapshot(opts.CacheDir, r)
	}
	h := &hubClient{opts: opts, ref: r, repoDir: filepath.Join(opts.CacheDir, r.folderName())}
	info, err := h.repoInfo(ctx)
	if err != nil {
		var ne netError
		if errors.As(err, &ne) {
			if dir, cerr := cachedSnapshot(opts.CacheDir, r); cerr == nil {
				opts.Logf("weights: %v; using the cached %s", err, dir)
				return dir, nil
			}
		}
		return "", err
	}
	files := map[string]bool{}
	for _, s := range info.Siblings {
		files[s.RFilename] = true
	}
	var want []string
	for _, f := range neededFiles {
		if files[f] {
			want = append(want, f)
		}
	}
	if !files[ConfigFile] {
		return "", fmt.Errorf("weights: %s has no config.json: not a transformers model", r)
	}
	if !files["tokenizer.json"] {
		for _, f := range tokenizerFalls {
			if files[f] {
				want = append(want, f)
			}
		}
	}
	index := false
	switch {
	case files[SafetensorsFile]:
		want = append(want, SafetensorsFile)
	case files[SafetensorsIndex]:
		want = append(want, SafetensorsIndex)
		index = true
	default:
		var pickles []string
		for f := range files {
			if strings.HasSuffix(f, ".bin") || strings.HasSuffix(f, ".pt") || strings.HasSuffix(f, ".pth") {
				pickles = append(pickles, f)
			}
		}
		if len(pickles) > 0 {
			return "", fmt.Errorf("weights: %s has only pickle weights (%s): crossrank needs model.safetensors, because a pickle file can run arbitrary code when loaded and cannot be memory-mapped; look for a revision with safetensors (the Hub's convert bot opens one as a pull request, refs/pr/N) or convert it with transformers", r, strings.Join(pickles, ", "))
		}
		return "", fmt.Errorf("weights: %s has no %s or %s", r, SafetensorsFile, SafetensorsIndex)
	}
	tagCacheDir(opts.CacheDir)
	for _, f := range want {
		if err := h.fetch(ctx, info.SHA, f); err != nil {
			return "", err
		}
	}
	if files[ModulesFile] {
		if err := h.fetchSentenceTransformer(ctx, info.SHA, files); err != nil {
			return "", err
		}
	}
	snap := filepath.Join(h.repoDir, "snapshots", info.SHA)
	if index {
		shards, err := indexShards(filepath.Join(snap, SafetensorsIndex))
		if err != nil {
			return "", err
		}
		for _, s := range shards {
			if !files[s] {
				return "", fmt.Errorf("weights: %s: %s names shard %s, which the repo does not have: %w", r, SafetensorsIndex, s, ErrMissingShard)
			}
			if err := h.fetch(ctx, info.SHA, s); err != nil {
				return "", err
			}
		}
	}
	if r.Revision != info.SHA {
		if err := writeRef(h.repoDir, r.Revision, info.SHA); err != nil {
			return "", err
		}
	}
	return snap, nil
}

// tagCacheDir marks the cache with a CACHEDIR.TAG (bford.info/cachedir),
// as huggingface_hub does, so backup tools skip it. Best effort.
func tagCacheDir(dir string) {
	p := filepath.Join(dir, "CACHEDIR.TAG")
	if _, err := os.Stat(p); err == nil {
		return
	}
	if os.MkdirAll(dir, 0o755) == nil {
		os.WriteFile(p, []byte("Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag (Hugging Face cache, written by crossrank).\n# For information about cache directory tags, see:\n#\thttps://bford.info/cachedir/\n"), 0o644)
	}
}

// writeRef records refs/<revision> = commit atomically (temporary file and
// rename), so a reader never sees half a hash.
func writeRef(repoDir, revision, commit string) error {
	p := filepath.Join(repoDir, "refs", filepath.FromSlash(revision))
	if b, err := os.ReadFile(p); err == nil && string(b) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".ref-*.tmp")
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	_, werr := tmp.WriteString(commit)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("weights: writing %s: %v", p, errors.Join(werr, cerr))
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("weights: %w", err)
	}
	return nil
}

// netError marks a failure to reach the Hub at all (as opposed to an HTTP
// answer), after which the cache may stand in.
type netError struct{ err error }

func (e netError) Error() string { return e.err.Error() }
func (e netError) Unwrap() error { return e.err }

type hubClient struct {
	opts    ResolveOptions
	ref     Ref
	repoDir string
}

func (h *hubClient) newRequest(ctx context.Context, method, u string, auth bool) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "crossrank")
	// Sizes and checksums are of the raw bytes: no transparent compression.
	req.Header.Set("Accept-Encoding", "identity")
	if auth && h.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.opts.Token)
	}
	return req, nil
}

func (h *hubClient) repoInfo(ctx context.Context) (*repoInfo, error) {
	u := fmt.Sprintf("%s/api/models/%s/revision/%s", h.opts.Endpoint, h.ref.Repo, url.PathEscape(h.ref.Revision))
	req, err := h.newRequest(ctx, http.MethodGet, u, true)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	resp, err := h.opts.Client.Do(req)
	if err != nil {
		return nil, netError{fmt.Errorf("weights: %s: cannot reach the Hub: %w", h.ref, err)}
	}
	defer resp.Body.Close()
	if err := h.statusError(resp, ""); err != nil {
		return nil, err
	}
	var info repoInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&info); err != nil {
		return nil, fmt.Errorf("weights: %s: reading %s: %w", h.ref, u, err)
	}
	if !commitRe.MatchString(info.SHA) {
		return nil, fmt.Errorf("weights: %s: the Hub gave commit %q, not a 40-digit hash", h.ref, info.SHA)
	}
	return &info, nil
}

// statusError explains a non-2xx answer the way a user can act on.
func (h *hubClient) statusError(resp *http.Response, file string) error {
	if resp.StatusCode/100 == 2 {
		return nil
	}
	what := h.ref.String()
	if file != "" {
		what += ": " + file
	}
	msg := resp.Header.Get("X-Error-Message")
	if msg == "" {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		msg = strings.TrimSpace(string(b))
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		hint := "set HF_TOKEN to a token with access"
		if h.opts.Token != "" {
			hint = "the token in use has no access (gated repo: accept its terms on the Hub)"
		}
		return fmt.Errorf("weights: %s: %s (%s): %s", what, resp.Status, hint, msg)
	case http.StatusNotFound:
		return fmt.Errorf("weights: %s: not found on %s (no such repo, revision or file, or a private repo without HF_TOKEN): %s", what, h.opts.Endpoint, msg)
	}
	if resp.StatusCode >= 500 {
		return netError{fmt.Errorf("weights: %s: %s: %s", what, resp.Status, msg)}
	}
	return fmt.Errorf("weights: %s: %s: %s", what, resp.Status, msg)
}

// fileMeta is what a HEAD on resolve/<commit>/<file> tells.
type fileMeta struct {
	etag     string
	size     int64
	location string // where to GET the bytes (a CDN for LFS files)
	commit   string
}

var etagRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// head asks for a file's ETag, size and location. Like huggingface_hub it
// follows relative redirects (a renamed repo) and stops at an absolute one
// (the CDN a large file is served from), whose headers carry the LFS
// object's X-Linked-Etag and X-Linked-Size.
func (h *hubClient) head(ctx context.Context, commit, file string) (fileMeta, error) {
	u := fmt.Sprintf("%s/%s/resolve/%s/%s", h.opts.Endpoint, h.ref.Repo, commit, escapePath(file))
	client := *h.opts.Client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for range 10 {
		req, err := h.newRequest(ctx, http.MethodHead, u, true)
		if err != nil {
			return fileMeta{}, fmt.Errorf("weights: %w", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fileMeta{}, netError{fmt.Errorf("weights: %s: %s: cannot reach the Hub: %w", h.ref, file, err)}
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode/100 == 3 && loc != "" {
			lu, err := url.Parse(loc)
			if err != nil {
				return fileMeta{}, fmt.Errorf("weights: %s: %s: bad redirect %q", h.ref, file, loc)
			}
			if lu.Host == "" { // relative: follow
				base, _ := url.Parse(u)
				u = base.ResolveReference(lu).String()
				continue
			}
		} else if err := h.statusError(resp, file); err != nil {
			return fileMeta{}, err
		} else {
			loc = u
		}
		m := fileMeta{location: loc, commit: resp.Header.Get("X-Repo-Commit")}
		m.etag = normalizeETag(resp.Header.Get("X-Linked-Etag"))
		if m.etag == "" {
			m.etag = normalizeETag(resp.Header.Get("ETag"))
		}
		sz := resp.Header.Get("X-Linked-Size")
		if sz == "" && resp.StatusCode/100 == 2 {
			sz = resp.Header.Get("Content-Length")
		}
		if m.size, err = strconv.ParseInt(sz, 10, 64); err != nil || m.size < 0 {
			return fileMeta{}, fmt.Errorf("weights: %s: %s: the Hub gave no file size", h.ref, file)
		}
		if !etagRe.MatchString(m.etag) {
			return fileMeta{}, fmt.Errorf("weights: %s: %s: the Hub gave ETag %q, which cannot name a blob", h.ref, file, m.etag)
		}
		if m.commit != "" && m.commit != commit {
			return fileMeta{}, fmt.Errorf("weights: %s: %s: the Hub answered for commit %s, asked for %s", h.ref, file, m.commit, commit)
		}
		return m, nil
	}
	return fileMeta{}, fmt.Errorf("weights: %s: %s: too many redirects", h.ref, file)
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// normalizeETag strips W/ and quotes, as huggingface_hub's _normalize_etag.
func normalizeETag(e string) string {
	return strings.Trim(strings.TrimPrefix(e, "W/"), `"`)
}

// fetch makes snapshots/<commit>/<file> exist: a relative symlink to the
// blob, downloading the blob first if no repo file shares it yet.
func (h *hubClient) fetch(ctx context.Context, commit, file string) error {
	pointer := filepath.Join(h.repoDir, "snapshots", commit, filepath.FromSlash(file))
	if _, err := os.Stat(pointer); err == nil {
		return nil
	}
	m, err := h.head(ctx, commit, file)
	if err != nil {
		return err
	}
	blob := filepath.Join(h.repoDir, "blobs", m.etag)
	if _, err := os.Stat(blob); err != nil {
		if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
			return fmt.Errorf("weights: %w", err)
		}
		// The lock is the one huggingface_hub takes, so a Python download
		// of the same blob and ours wait for each other.
		unlock, err := lockFile(ctx, filepath.Join(filepath.Dir(h.repoDir), ".locks", h.ref.folderName(), m.etag+".lock"))
		if err != nil {
			return err
		}
		err = h.downloadBlob(ctx, file, m, blob)
		unlock()
		if err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(pointer), 0o755); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	rel, err := filepath.Rel(filepath.Dir(pointer), blob)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	os.Remove(pointer) // a dangling link from an earlier, interrupted run
	if err := os.Symlink(rel, pointer); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("weights: %w", err)
	}
	return nil
}

// maxStalls is how many times in a row a download may fail without
// receiving a byte before we give up (huggingface_hub: 5).
const maxStalls = 5

// downloadBlob downloads into blobs/<etag>.incomplete, resuming what an
// earlier run left there with a Range request, checks the size and the
// checksum the ETag gives, and renames it into place. Only a complete,
// verified file ever has the blob's name.
func (h *hubClient) downloadBlob(ctx context.Context, file string, m fileMeta, blob string) error {
	if _, err := os.Stat(blob); err == nil {
		return nil // another process finished it while we waited for the lock
	}
	incomplete := blob + ".incomplete"
	f, err := os.OpenFile(incomplete, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	if have > m.size {
		if err := truncate(f); err != nil {
			return err
		}
		have = 0
	}
	bar := newProgress(h.opts.Progress, file, m.size, have)
	defer bar.done()

	stalls := 0
	resumedFrom := have
	for have < m.size {
		n, restarted, err := h.getRange(ctx, m, f, have, bar)
		if restarted { // the server sent the whole file instead of the range
			have, resumedFrom = 0, 0
		}
		have += n
		if err == nil && have >= m.size {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			err = fmt.Errorf("connection closed at byte %d of %d", have, m.size)
		}
		var permanent permanentError
		if errors.As(err, &permanent) {
			return permanent.err
		}
		if n > 0 {
			stalls = 0
		} else {
			stalls++
		}
		if stalls >= maxStalls {
			return fmt.Errorf("weights: %s: %s: giving up after %d failed attempts (%d of %d bytes kept in %s for the next run): %w", h.ref, file, stalls, have, m.size, incomplete, err)
		}
		h.opts.Logf("weights: %s: %s: %v; resuming at byte %d", h.ref, file, err, have)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(stalls) * 200 * time.Millisecond):
		}
	}
	if have != m.size {
		return fmt.Errorf("weights: %s: %s: got %d bytes, want %d", h.ref, file, have, m.size)
	}
	if err := verify(f, m.etag, m.size); err != nil {
		f.Close()
		os.Remove(incomplete)
		hint := ""
		if resumedFrom > 0 {
			hint = fmt.Sprintf(" (resumed from %d bytes left by an earlier run; run again to download it whole)", resumedFrom)
		}
		return fmt.Errorf("weights: %s: %s: %w%s", h.ref, file, err, hint)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	if err := os.Rename(incomplete, blob); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	return nil
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }

func truncate(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	return nil
}

// getRange GETs the bytes from offset on and appends them to f. It returns
// how many bytes it appended, and restarted when the server ignored the
// Range and f was started again from zero.
func (h *hubClient) getRange(ctx context.Context, m fileMeta, f *os.File, offset int64, bar *progress) (n int64, restarted bool, err error) {
	// The token goes only to the Hub itself, never to a CDN on another host.
	lu, _ := url.Parse(m.location)
	eu, _ := url.Parse(h.opts.Endpoint)
	auth := lu != nil && eu != nil && lu.Host == eu.Host
	req, rerr := h.newRequest(ctx, http.MethodGet, m.location, auth)
	if rerr != nil {
		return 0, false, permanentError{fmt.Errorf("weights: %w", rerr)}
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, derr := h.opts.Client.Do(req)
	if derr != nil {
		return 0, false, derr
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		var start int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-", &start); err != nil || start != offset {
			return 0, false, permanentError{fmt.Errorf("weights: %s: asked for bytes from %d, got Content-Range %q", m.location, offset, resp.Header.Get("Content-Range"))}
		}
	case resp.StatusCode == http.StatusOK:
		if offset > 0 {
			if err := truncate(f); err != nil {
				return 0, false, permanentError{err}
			}
			bar.reset()
			restarted, offset = true, 0
		}
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		return 0, false, fmt.Errorf("%s", resp.Status)
	default:
		return 0, false, permanentError{h.statusError(resp, m.location)}
	}
	// Never more than the file's size, whatever the server sends.
	n, err = io.Copy(f, io.TeeReader(io.LimitReader(resp.Body, m.size-offset), bar))
	return n, restarted, err
}

// verify checks the file against its ETag: the sha256 of an LFS file, or
// the git blob sha1 of a file stored in git. An ETag of another form cannot
// be checked (the size was).
func verify(f *os.File, etag string, size int64) error {
	var h hash.Hash
	kind := ""
	switch {
	case sha256Re.MatchString(etag):
		h, kind = sha256.New(), "sha256"
	case commitRe.MatchString(etag):
		h, kind = sha1.New(), "git sha1"
		fmt.Fprintf(h, "blob %d\x00", size)
	default:
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != etag {
		return fmt.Errorf("%w: %s of the download is %s, the Hub's ETag says %s", ErrChecksum, kind, got, etag)
	}
	return nil
}

var sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)
