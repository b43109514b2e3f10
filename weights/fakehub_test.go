package weights

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHub imitates what huggingface_hub reads from the Hub: the model-info
// API, HEAD/GET on resolve/<rev>/<file> (ETag, X-Repo-Commit; LFS files
// redirect to a CDN on another host with X-Linked-Etag/X-Linked-Size), and a
// CDN that honours Range. Faults can be injected per file.
type fakeHub struct {
	hub, cdn *httptest.Server

	mu       sync.Mutex
	repos    map[string]*fakeRepo
	requests []string // "METHOD path [Range]" in order, hub and CDN
	cdnAuth  int      // requests that reached the CDN with an Authorization header
	// dropAfter cuts the connection after that many bytes of the file's
	// body, the first dropTimes GETs of it.
	dropAfter map[string]int64
	dropTimes map[string]int
	corrupt   map[string]bool // serve the file with a byte changed (ETag unchanged)
	token     string          // when set, the API and resolve require it
}

type fakeRepo struct {
	commit string
	files  map[string][]byte
}

func isLFS(name string) bool {
	return strings.HasSuffix(name, ".safetensors") || strings.HasSuffix(name, ".bin")
}

func sha256Hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func gitSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func newFakeHub(t *testing.T) *fakeHub {
	h := &fakeHub{repos: map[string]*fakeRepo{}, dropAfter: map[string]int64{}, dropTimes: map[string]int{}, corrupt: map[string]bool{}}
	h.cdn = httptest.NewServer(http.HandlerFunc(h.serveCDN))
	h.hub = httptest.NewServer(http.HandlerFunc(h.serveHub))
	t.Cleanup(func() { h.hub.Close(); h.cdn.Close() })
	return h
}

// addRepo serves files under repo at a commit derived from the repo name.
func (h *fakeHub) addRepo(repo string, files map[string][]byte) *fakeRepo {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := &fakeRepo{commit: gitSHA1([]byte(repo))[:40], files: files}
	h.repos[repo] = r
	return r
}

// addDir serves the files of a folder.
func (h *fakeHub) addDir(t *testing.T, repo, dir string) *fakeRepo {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return h.addRepo(repo, files)
}

func (h *fakeHub) log(r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := r.Method + " " + r.URL.Path
	if rg := r.Header.Get("Range"); rg != "" {
		s += " " + rg
	}
	h.requests = append(h.requests, s)
}

func (h *fakeHub) requestLog() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.requests...)
}

func (h *fakeHub) authorized(w http.ResponseWriter, r *http.Request) bool {
	if h.token != "" && r.Header.Get("Authorization") != "Bearer "+h.token {
		w.Header().Set("X-Error-Message", "Access to this repo is restricted.")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return false
	}
	return true
}

func (h *fakeHub) repoAt(w http.ResponseWriter, repo, rev string) *fakeRepo {
	h.mu.Lock()
	r := h.repos[repo]
	h.mu.Unlock()
	if r == nil {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		http.Error(w, "Repository not found", http.StatusNotFound)
		return nil
	}
	if rev != "main" && rev != r.commit {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		http.Error(w, "Invalid rev id: "+rev, http.StatusNotFound)
		return nil
	}
	return r
}

func (h *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	h.log(r)
	if !h.authorized(w, r) {
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/api/models/"); ok {
		repo, rev, ok := strings.Cut(rest, "/revision/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		repoState := h.repoAt(w, repo, rev)
		if repoState == nil {
			return
		}
		var sib []map[string]string
		names := make([]string, 0, len(repoState.files))
		for n := range repoState.files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			sib = append(sib, map[string]string{"rfilename": n})
		}
		json.NewEncoder(w).Encode(map[string]any{"id": repo, "sha": repoState.commit, "siblings": sib})
		return
	}
	// /{org}/{name}/resolve/{rev}/{file}
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 5)
	if len(parts) != 5 || parts[2] != "resolve" {
		http.NotFound(w, r)
		return
	}
	repoState := h.repoAt(w, parts[0]+"/"+parts[1], parts[3])
	if repoState == nil {
		return
	}
	file := parts[4]
	b, ok := repoState.files[file]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.Header().Set("X-Repo-Commit", repoState.commit)
		http.Error(w, "Entry not found", http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", repoState.commit)
	if isLFS(file) {
		// The Hub's ETag here is the pointer file's git oid; the object's
		// own sha256 comes in X-Linked-Etag.
		w.Header().Set("ETag", `"`+gitSHA1([]byte("version https://git-lfs.github.com/spec/v1\n"))+`"`)
		w.Header().Set("X-Linked-Etag", `"`+sha256Hex(b)+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(b)))
		w.Header().Set("Location", h.cdn.URL+"/blobs/"+parts[0]+"/"+parts[1]+"/"+file)
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+gitSHA1(b)+`"`)
	h.serveBytes(w, r, file, b)
}

func (h *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	h.log(r)
	h.mu.Lock()
	if r.Header.Get("Authorization") != "" {
		h.cdnAuth++
	}
	h.mu.Unlock()
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/blobs/"), "/", 3)
	if len(parts) != 3 {
		http.NotFound(w, r)
		return
	}
	h.mu.Lock()
	repo := h.repos[parts[0]+"/"+parts[1]]
	h.mu.Unlock()
	if repo == nil {
		http.NotFound(w, r)
		return
	}
	b, ok := repo.files[parts[2]]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.serveBytes(w, r, parts[2], b)
}

// serveBytes serves b with Range support, applying the faults set for file.
func (h *fakeHub) serveBytes(w http.ResponseWriter, r *http.Request, file string, b []byte) {
	h.mu.Lock()
	if h.corrupt[file] {
		b = append([]byte(nil), b...)
		b[len(b)/2] ^= 0xff
	}
	drop, dropping := h.dropAfter[file]
	if dropping && r.Method == http.MethodGet && h.dropTimes[file] > 0 {
		h.dropTimes[file]--
	} else {
		dropping = false
	}
	h.mu.Unlock()
	if !dropping {
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", fakeModTime, strings.NewReader(string(b)))
		return
	}
	// Promise the whole (remaining) file, send part of it, cut the connection.
	start := int64(0)
	if rg := r.Header.Get("Range"); rg != "" {
		fmt.Sscanf(rg, "bytes=%d-", &start)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(b)-1, len(b)))
		w.Header().Set("Content-Length", strconv.Itoa(len(b)-int(start)))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	}
	end := min(start+drop, int64(len(b)))
	w.Write(b[start:end])
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

var fakeModTime = time.Unix(1700000000, 0)

func sortStrings(s []string) { sort.Strings(s) }
