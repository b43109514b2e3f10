// Package testdata holds crossrank's reference fixtures, written by the Hugging
// Face stack (testdata/gen/generate.py), and this test, which checks that every
// fixture listed in golden/MANIFEST.json is present, unmodified and well formed,
// so the packages comparing against them fail on their own bugs, not on a
// truncated or half-regenerated fixture.
//
// The go tool skips folders named testdata in ./... patterns; run this test by
// naming the package: go test ./testdata
package testdata

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// maxCommittedBytes is the repository's budget for committed fixtures.
const maxCommittedBytes = 15_000_000

// Minimum counts the issue asks of the goldens.
const (
	minCorpusLines = 1000
	minTokenPairs  = 1000
	minLogitPairs  = 200
	minRankQueries = 20
	rankDocuments  = 30
	hiddenInputs   = 3
	minLogitSpread = 2.0
	// A padded batch changes float summation order; transformers itself differs
	// by ~1e-5. A larger gap means the batched logits belong to another pair.
	maxBatchDiff = 1e-3
	// xlmr-long must be exercised beyond the 512-position limit of the others.
	longTokens   = 1024
	minLongPairs = 8
)

type manifest struct {
	Generator string            `json:"generator"`
	Python    string            `json:"python"`
	Versions  map[string]string `json:"versions"`
	Seeds     map[string]int    `json:"seeds"`
	Corpus    struct {
		Path  string `json:"path"`
		Lines int    `json:"lines"`
	} `json:"corpus"`
	Tokenizers map[string]struct {
		Dir     string `json:"dir"`
		Golden  string `json:"golden"`
		Records int    `json:"records"`
		Errors  int    `json:"errors"`
	} `json:"tokenizers"`
	Models map[string]struct {
		Dir          string  `json:"dir"`
		Family       string  `json:"family"`
		NumLabels    int     `json:"num_labels"`
		StoredDtype  string  `json:"stored_dtype"`
		MaxLength    int     `json:"max_length"`
		Logits       string  `json:"logits"`
		Pairs        int     `json:"pairs"`
		Spread       float64 `json:"spread"`
		MaxBatchDiff float64 `json:"max_batch_diff"`
		MaxTokens    int     `json:"max_tokens"`
		Rank         *string `json:"rank"`
		Hidden       *string `json:"hidden"`
	} `json:"models"`
	Real struct {
		Golden    string  `json:"golden"`
		Tokenizer string  `json:"tokenizer"`
		CacheDir  string  `json:"cache_dir"`
		NumLabels int     `json:"num_labels"`
		MaxLength int     `json:"max_length"`
		Pairs     int     `json:"pairs"`
		Spread    float64 `json:"spread"`
	} `json:"real"`
	BPE map[string]struct {
		Dir       string `json:"dir"`
		Golden    string `json:"golden"`
		Style     string `json:"style"`
		VocabSize int    `json:"vocab_size"`
		Records   int    `json:"records"`
		Errors    int    `json:"errors"`
	} `json:"bpe"`
	Split struct {
		Golden   string            `json:"golden"`
		Patterns map[string]string `json:"patterns"`
		Records  int               `json:"records"`
	} `json:"split"`
	Embedders map[string]embedder `json:"embedders"` // embed_test.go
	Files     []struct {
		Path    string `json:"path"`
		Bytes   int64  `json:"bytes"`
		Sha256  string `json:"sha256"`
		Schema  string `json:"schema"`
		Records *int   `json:"records"`
	} `json:"files"`
	TotalBytes int64 `json:"total_bytes"`
}

func loadManifest(t *testing.T) *manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("golden", "MANIFEST.json"))
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	var m manifest
	if err := decodeStrict(data, &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if len(m.Files) == 0 || len(m.Models) == 0 || len(m.Tokenizers) == 0 {
		t.Fatalf("manifest: lists %d files, %d models, %d tokenizers", len(m.Files), len(m.Models), len(m.Tokenizers))
	}
	return &m
}

// decodeStrict decodes one JSON value, rejecting unknown fields and trailing data,
// so a schema change in the generator shows up here instead of as zero values.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// readLines returns the lines of a .jsonl or .jsonl.gz file.
func readLines(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	if data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("%s: last record has no newline (truncated file?)", path)
	}
	return bytes.Split(data[:len(data)-1], []byte("\n")), nil
}

// decodeRecords decodes every line of path into a new T, strictly.
func decodeRecords[T any](path string) ([]T, error) {
	lines, err := readLines(path)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(lines))
	for i, line := range lines {
		if err := decodeStrict(line, &out[i]); err != nil {
			return nil, fmt.Errorf("%s: record %d: %w", path, i+1, err)
		}
	}
	return out, nil
}

func TestManifestFilesPresentAndUnchanged(t *testing.T) {
	m := loadManifest(t)
	listed := map[string]bool{}
	var total int64
	for _, f := range m.Files {
		listed[f.Path] = true
		total += f.Bytes
		data, err := os.ReadFile(filepath.FromSlash(f.Path))
		if err != nil {
			t.Errorf("%s: %v", f.Path, err)
			continue
		}
		if int64(len(data)) != f.Bytes {
			t.Errorf("%s: %d bytes, manifest says %d", f.Path, len(data), f.Bytes)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != f.Sha256 {
			t.Errorf("%s: sha256 %s, manifest says %s (edited by hand? rerun make fixtures)", f.Path, got, f.Sha256)
		}
		switch f.Schema {
		case "corpus", "tokens", "bpe", "split", "logits", "rank", "hidden", "quant", "embed", "model", "tokenizer", "package", "modernbert", "qwen3":
		default:
			t.Errorf("%s: unknown schema %q", f.Path, f.Schema)
		}
		if strings.HasSuffix(f.Path, ".jsonl") || strings.HasSuffix(f.Path, ".jsonl.gz") {
			lines, err := readLines(filepath.FromSlash(f.Path))
			switch {
			case err != nil:
				t.Errorf("%s: %v", f.Path, err)
			case f.Records == nil || *f.Records != len(lines):
				t.Errorf("%s: %d records, manifest says %v", f.Path, len(lines), f.Records)
			}
		}
	}
	if total != m.TotalBytes {
		t.Errorf("manifest total_bytes %d, files add up to %d", m.TotalBytes, total)
	}
	// Every fixture on disk is in the manifest: nothing untracked hides in here.
	for _, top := range []string{"models", "tokenizers", "golden"} {
		err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel := filepath.ToSlash(path)
			if rel != "golden/MANIFEST.json" && !listed[rel] {
				t.Errorf("%s: on disk but not in MANIFEST.json", rel)
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: %v", top, err)
		}
	}
	// The goldens a package's own generator writes beside its tests: every
	// data file there is listed (generator scripts, *.py, are not fixtures).
	for _, dir := range packageGoldens {
		entries, err := os.ReadDir(filepath.FromSlash(dir))
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			continue
		}
		for _, e := range entries {
			rel := dir + "/" + e.Name()
			if !e.IsDir() && !strings.HasSuffix(e.Name(), ".py") && !listed[rel] {
				t.Errorf("%s: on disk but not in MANIFEST.json (rerun testdata/gen/generate.py --steps manifest)", rel)
			}
		}
	}
	for _, p := range []string{m.Corpus.Path, m.Real.Golden} {
		if !listed[p] {
			t.Errorf("manifest names %s but does not list it in files", p)
		}
	}
}

// packageGoldens are the package folders whose goldens MANIFEST.json lists
// (generate.py's PACKAGE_GOLDENS), relative to testdata/.
var packageGoldens = []string{"../rerank/testdata"}

// TestCommittedSizeWithinBudget: the repository's fixtures (this folder and
// every package's testdata folder) stay within the budget.
func TestCommittedSizeWithinBudget(t *testing.T) {
	var total int64
	roots, _ := filepath.Glob(filepath.Join("..", "*", "testdata"))
	for _, root := range append([]string{"."}, roots...) {
		total += treeBytes(t, root)
	}
	t.Logf("testdata folders hold %d bytes", total)
	if total >= maxCommittedBytes {
		t.Errorf("testdata folders hold %d bytes, budget %d", total, maxCommittedBytes)
	}
}

func treeBytes(t *testing.T, root string) int64 {
	var total int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "__pycache__" { // ignored by git
			return fs.SkipDir
		}
		if !d.IsDir() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

type corpusRecord struct {
	Text *string `json:"text"`
}

func TestCorpus(t *testing.T) {
	m := loadManifest(t)
	recs, err := decodeRecords[corpusRecord](m.Corpus.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) < minCorpusLines || len(recs) != m.Corpus.Lines {
		t.Fatalf("corpus: %d lines, want >= %d and manifest's %d", len(recs), minCorpusLines, m.Corpus.Lines)
	}
	var empty, long int
	for i, r := range recs {
		if r.Text == nil {
			t.Fatalf("corpus: line %d: no text", i+1)
		}
		if *r.Text == "" {
			empty++
		}
		if len([]rune(*r.Text)) >= 3000 {
			long++
		}
	}
	if empty == 0 || long == 0 {
		t.Errorf("corpus: %d empty and %d 3,000+ character lines, want some of each", empty, long)
	}
}

// config is the part of a checkpoint's config.json the goldens depend on.
type config struct {
	VocabSize             int               `json:"vocab_size"`
	HiddenSize            int               `json:"hidden_size"`
	NumHiddenLayers       int               `json:"num_hidden_layers"`
	MaxPositionEmbeddings int               `json:"max_position_embeddings"`
	ID2Label              map[string]string `json:"id2label"`
}

func loadConfig(dir string) (*config, error) {
	data, err := os.ReadFile(filepath.Join(filepath.FromSlash(dir), "config.json"))
	if err != nil {
		return nil, err
	}
	var c config
	if err := json.Unmarshal(data, &c); err != nil { // config.json has many more fields
		return nil, fmt.Errorf("%s/config.json: %w", dir, err)
	}
	if c.VocabSize <= 0 || c.HiddenSize <= 0 || c.NumHiddenLayers <= 0 {
		return nil, fmt.Errorf("%s/config.json: incomplete: %+v", dir, c)
	}
	return &c, nil
}

// numLabels is what transformers reads from config.json: len(id2label), and 2
// (PretrainedConfig's default) when id2label is absent. transformers 5 leaves
// id2label out of the file exactly when it equals the default, as in bert-2labels.
func (c *config) numLabels() int {
	if len(c.ID2Label) == 0 {
		return 2
	}
	return len(c.ID2Label)
}

// vocabSize is the id bound for a tokenizer folder: config.json's vocab_size for
// a checkpoint, the line count of vocab.txt for a tokenizer-only folder.
func vocabSize(dir string) (int, error) {
	if c, err := loadConfig(dir); err == nil {
		return c.VocabSize, nil
	}
	f, err := os.Open(filepath.Join(filepath.FromSlash(dir), "vocab.txt"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
	}
	return n, sc.Err()
}

type tokenRecord struct {
	Kind          string  `json:"kind"`
	Text          *string `json:"text"`
	Query         *string `json:"query"`
	Document      *string `json:"document"`
	Truncation    string  `json:"truncation"`
	MaxLength     *int    `json:"max_length"`
	InputIDs      []int   `json:"input_ids"`
	TokenTypeIDs  []int   `json:"token_type_ids"`
	AttentionMask []int   `json:"attention_mask"`
	Error         *string `json:"error"`
}

// checkTokenRecord returns what is wrong with one tokens record, or nil.
func checkTokenRecord(r *tokenRecord, vocab int) error {
	switch r.Kind {
	case "single":
		if r.Text == nil || r.Query != nil || r.Document != nil {
			return errors.New("single record needs text and no query/document")
		}
		if r.Truncation != "none" && r.Truncation != "longest_first" {
			return fmt.Errorf("single record with truncation %q", r.Truncation)
		}
	case "pair":
		if r.Text != nil || r.Query == nil || r.Document == nil {
			return errors.New("pair record needs query and document and no text")
		}
		switch r.Truncation {
		case "none", "longest_first", "only_first", "only_second":
		default:
			return fmt.Errorf("pair record with truncation %q", r.Truncation)
		}
	default:
		return fmt.Errorf("kind %q", r.Kind)
	}
	if (r.Truncation == "none") != (r.MaxLength == nil) {
		return fmt.Errorf("truncation %q with max_length %v", r.Truncation, r.MaxLength)
	}
	if r.Error != nil {
		if *r.Error == "" || r.InputIDs != nil || r.TokenTypeIDs != nil || r.AttentionMask != nil {
			return errors.New("error record must carry a message and no ids")
		}
		return nil
	}
	n := len(r.InputIDs)
	if n < 2 || len(r.TokenTypeIDs) != n || len(r.AttentionMask) != n {
		return fmt.Errorf("lengths input_ids %d token_type_ids %d attention_mask %d", n, len(r.TokenTypeIDs), len(r.AttentionMask))
	}
	if r.MaxLength != nil && n > *r.MaxLength {
		return fmt.Errorf("%d ids exceed max_length %d", n, *r.MaxLength)
	}
	for i := range n {
		if r.InputIDs[i] < 0 || r.InputIDs[i] >= vocab {
			return fmt.Errorf("input_ids[%d] = %d outside vocab of %d", i, r.InputIDs[i], vocab)
		}
		if r.TokenTypeIDs[i] != 0 && r.TokenTypeIDs[i] != 1 {
			return fmt.Errorf("token_type_ids[%d] = %d", i, r.TokenTypeIDs[i])
		}
		if r.AttentionMask[i] != 1 { // unpadded encodings
			return fmt.Errorf("attention_mask[%d] = %d", i, r.AttentionMask[i])
		}
	}
	return nil
}

func TestTokenGoldens(t *testing.T) {
	m := loadManifest(t)
	for name, tk := range m.Tokenizers {
		t.Run(name, func(t *testing.T) {
			vocab, err := vocabSize(tk.Dir)
			if err != nil {
				t.Fatalf("%s: %v", tk.Dir, err)
			}
			recs, err := decodeRecords[tokenRecord](filepath.FromSlash(tk.Golden))
			if err != nil {
				t.Fatal(err)
			}
			var singles, pairs, errs int
			for i := range recs {
				if err := checkTokenRecord(&recs[i], vocab); err != nil {
					t.Fatalf("%s: record %d: %v", tk.Golden, i+1, err)
				}
				if recs[i].Kind == "single" {
					singles++
				} else {
					pairs++
				}
				if recs[i].Error != nil {
					errs++
				}
			}
			// Every corpus line at none + 3 lengths; every pair at none + 3 strategies x 3 lengths.
			if singles != 4*m.Corpus.Lines || pairs < 10*minTokenPairs {
				t.Errorf("%d single and %d pair records, want %d and >= %d", singles, pairs, 4*m.Corpus.Lines, 10*minTokenPairs)
			}
			if len(recs) != tk.Records || errs != tk.Errors {
				t.Errorf("%d records with %d errors, manifest says %d and %d", len(recs), errs, tk.Records, tk.Errors)
			}
		})
	}
}

type logitRecord struct {
	Query         *string   `json:"query"`
	Document      *string   `json:"document"`
	InputIDs      []int     `json:"input_ids"`
	TokenTypeIDs  []int     `json:"token_type_ids"`
	Logits        []float64 `json:"logits"`
	BatchedLogits []float64 `json:"batched_logits"`
}

// checkLogits validates a logits golden against its model's shape and returns
// the spread of the first logit and the number of records of 1,024+ tokens.
func checkLogits(recs []logitRecord, numLabels, vocab, maxLength int) (spread float64, long int, err error) {
	if len(recs) < minLogitPairs {
		return 0, 0, fmt.Errorf("%d pairs, want >= %d", len(recs), minLogitPairs)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, r := range recs {
		if r.Query == nil || r.Document == nil {
			return 0, 0, fmt.Errorf("record %d: missing query or document", i+1)
		}
		n := len(r.InputIDs)
		if n < 2 || n > maxLength || len(r.TokenTypeIDs) != n {
			return 0, 0, fmt.Errorf("record %d: %d input_ids, %d token_type_ids, max_length %d", i+1, n, len(r.TokenTypeIDs), maxLength)
		}
		for _, id := range r.InputIDs {
			if id < 0 || id >= vocab {
				return 0, 0, fmt.Errorf("record %d: id %d outside vocab of %d", i+1, id, vocab)
			}
		}
		if len(r.Logits) != numLabels || len(r.BatchedLogits) != numLabels {
			return 0, 0, fmt.Errorf("record %d: %d logits and %d batched, want num_labels %d", i+1, len(r.Logits), len(r.BatchedLogits), numLabels)
		}
		for j := range r.Logits {
			a, b := r.Logits[j], r.BatchedLogits[j]
			if math.IsNaN(a) || math.IsInf(a, 0) || math.Abs(a-b) > maxBatchDiff {
				return 0, 0, fmt.Errorf("record %d: logit %d = %v, batched %v", i+1, j, a, b)
			}
		}
		lo, hi = min(lo, r.Logits[0]), max(hi, r.Logits[0])
		if n >= longTokens {
			long++
		}
	}
	return hi - lo, long, nil
}

func TestLogitGoldens(t *testing.T) {
	m := loadManifest(t)
	for name, md := range m.Models {
		t.Run(name, func(t *testing.T) {
			cfg, err := loadConfig(md.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.numLabels() != md.NumLabels {
				t.Fatalf("config.json has %d labels, manifest says %d", cfg.numLabels(), md.NumLabels)
			}
			recs, err := decodeRecords[logitRecord](filepath.FromSlash(md.Logits))
			if err != nil {
				t.Fatal(err)
			}
			spread, long, err := checkLogits(recs, md.NumLabels, cfg.VocabSize, md.MaxLength)
			if err != nil {
				t.Fatalf("%s: %v", md.Logits, err)
			}
			if spread < minLogitSpread || len(recs) != md.Pairs {
				t.Errorf("%d pairs spread %.3f, want %d and >= %.1f", len(recs), spread, md.Pairs, minLogitSpread)
			}
			if md.MaxLength > 512 && long < minLongPairs {
				t.Errorf("max_length %d but only %d pairs of %d+ tokens", md.MaxLength, long, longTokens)
			}
			checkCheckpointFiles(t, md.Dir)
		})
	}
	t.Run("real-minilm", func(t *testing.T) {
		recs, err := decodeRecords[logitRecord](filepath.FromSlash(m.Real.Golden))
		if err != nil {
			t.Fatal(err)
		}
		vocab, err := vocabSize(m.Real.Tokenizer)
		if err != nil {
			t.Fatal(err)
		}
		spread, _, err := checkLogits(recs, m.Real.NumLabels, vocab, m.Real.MaxLength)
		if err != nil {
			t.Fatalf("%s: %v", m.Real.Golden, err)
		}
		if vocab != 30522 || spread < minLogitSpread {
			t.Errorf("vocab %d (want the real 30522), spread %.3f", vocab, spread)
		}
	})
}

// checkCheckpointFiles checks that dir looks like a save_pretrained checkpoint.
func checkCheckpointFiles(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} {
		if _, err := os.Stat(filepath.Join(filepath.FromSlash(dir), f)); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
	}
	single := filepath.Join(filepath.FromSlash(dir), "model.safetensors")
	index := filepath.Join(filepath.FromSlash(dir), "model.safetensors.index.json")
	if _, err := os.Stat(single); err == nil {
		return
	}
	data, err := os.ReadFile(index)
	if err != nil {
		t.Errorf("%s: neither model.safetensors nor a shard index: %v", dir, err)
		return
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil || len(idx.WeightMap) == 0 {
		t.Errorf("%s: bad shard index: %v", index, err)
		return
	}
	for tensor, shard := range idx.WeightMap {
		if _, err := os.Stat(filepath.Join(filepath.FromSlash(dir), shard)); err != nil {
			t.Errorf("%s: tensor %q: %v", index, tensor, err)
		}
	}
}

type rankRecord struct {
	Query     *string   `json:"query"`
	Documents []string  `json:"documents"`
	Scores    []float64 `json:"scores"`
	Rank      []struct {
		CorpusID *int     `json:"corpus_id"`
		Score    *float64 `json:"score"`
	} `json:"rank"`
	Activation string `json:"activation"`
	MaxLength  int    `json:"max_length"`
}

func checkRankRecord(r *rankRecord) error {
	if r.Query == nil || len(r.Documents) != rankDocuments || len(r.Scores) != rankDocuments || len(r.Rank) != rankDocuments {
		return fmt.Errorf("query %v, %d documents, %d scores, %d ranked; want %d each", r.Query != nil, len(r.Documents), len(r.Scores), len(r.Rank), rankDocuments)
	}
	if r.Activation == "" || r.MaxLength <= 0 {
		return fmt.Errorf("activation %q, max_length %d", r.Activation, r.MaxLength)
	}
	seen := make([]bool, rankDocuments)
	for i, e := range r.Rank {
		if e.CorpusID == nil || e.Score == nil || *e.CorpusID < 0 || *e.CorpusID >= rankDocuments || seen[*e.CorpusID] {
			return fmt.Errorf("rank[%d]: bad or repeated corpus_id", i)
		}
		seen[*e.CorpusID] = true
		if i > 0 && *e.Score > *r.Rank[i-1].Score {
			return fmt.Errorf("rank[%d]: score %v above rank[%d]'s %v", i, *e.Score, i-1, *r.Rank[i-1].Score)
		}
	}
	for i, s := range r.Scores {
		if r.Activation == "Sigmoid" && (s < 0 || s > 1) {
			return fmt.Errorf("scores[%d] = %v outside the sigmoid's [0, 1]", i, s)
		}
	}
	return nil
}

func TestRankGoldens(t *testing.T) {
	m := loadManifest(t)
	n := 0
	for name, md := range m.Models {
		if md.Rank == nil {
			continue
		}
		n++
		recs, err := decodeRecords[rankRecord](filepath.FromSlash(*md.Rank))
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) < minRankQueries {
			t.Errorf("%s: %d queries, want >= %d", name, len(recs), minRankQueries)
		}
		for i := range recs {
			if err := checkRankRecord(&recs[i]); err != nil {
				t.Errorf("%s: record %d: %v", *md.Rank, i+1, err)
			}
		}
	}
	if n < 2 {
		t.Errorf("%d models with rank goldens, want bert and xlmr", n)
	}
}

type hiddenRecord struct {
	Query        *string     `json:"query"`
	Document     *string     `json:"document"`
	InputIDs     []int       `json:"input_ids"`
	TokenTypeIDs []int       `json:"token_type_ids"`
	HiddenStates [][]float64 `json:"hidden_states"`
	Shape        []int       `json:"shape"`
	Logits       []float64   `json:"logits"`
}

func TestHiddenGoldens(t *testing.T) {
	m := loadManifest(t)
	var names []string
	for name, md := range m.Models {
		if md.Hidden != nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) < 2 {
		t.Fatalf("hidden goldens for %v, want bert and xlmr", names)
	}
	for _, name := range names {
		md := m.Models[name]
		cfg, err := loadConfig(md.Dir)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := decodeRecords[hiddenRecord](filepath.FromSlash(*md.Hidden))
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != hiddenInputs {
			t.Errorf("%s: %d inputs, want %d", *md.Hidden, len(recs), hiddenInputs)
		}
		for i, r := range recs {
			n := len(r.InputIDs)
			if len(r.Shape) != 2 || r.Shape[0] != n || r.Shape[1] != cfg.HiddenSize || len(r.TokenTypeIDs) != n {
				t.Errorf("%s: record %d: shape %v for %d tokens, hidden %d", *md.Hidden, i+1, r.Shape, n, cfg.HiddenSize)
				continue
			}
			if len(r.HiddenStates) != cfg.NumHiddenLayers+1 || len(r.Logits) != md.NumLabels {
				t.Errorf("%s: record %d: %d hidden states (want %d), %d logits", *md.Hidden, i+1, len(r.HiddenStates), cfg.NumHiddenLayers+1, len(r.Logits))
			}
			for l, h := range r.HiddenStates {
				if len(h) != n*cfg.HiddenSize {
					t.Errorf("%s: record %d: layer %d has %d values, want %d", *md.Hidden, i+1, l, len(h), n*cfg.HiddenSize)
				}
			}
		}
	}
}

// The checks above must be able to fail: feed them broken fixtures.
func TestChecksRejectBrokenFixtures(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := decodeRecords[tokenRecord](filepath.Join(dir, "missing.jsonl")); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := decodeRecords[tokenRecord](write("trunc.jsonl", []byte(`{"kind":"single","text":"a"`))); err == nil {
		t.Error("truncated record accepted")
	}
	if _, err := decodeRecords[tokenRecord](write("extra.jsonl", []byte("{\"kind\":\"single\",\"surprise\":1}\n"))); err == nil {
		t.Error("unknown field accepted")
	}
	if _, err := decodeRecords[tokenRecord](write("bad.jsonl.gz", []byte("not gzip\n"))); err == nil {
		t.Error("corrupt gzip accepted")
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("{\"kind\":\"single\"}\n"))
	zw.Close()
	if _, err := decodeRecords[tokenRecord](write("cut.jsonl.gz", gz.Bytes()[:gz.Len()-6])); err == nil {
		t.Error("cut gzip stream accepted")
	}

	text, ml := "a", 4
	good := tokenRecord{Kind: "single", Text: &text, Truncation: "longest_first", MaxLength: &ml,
		InputIDs: []int{2, 7, 3}, TokenTypeIDs: []int{0, 0, 0}, AttentionMask: []int{1, 1, 1}}
	if err := checkTokenRecord(&good, 10); err != nil {
		t.Fatalf("good record rejected: %v", err)
	}
	for name, mutate := range map[string]func(r *tokenRecord){
		"short mask":      func(r *tokenRecord) { r.AttentionMask = r.AttentionMask[:2] },
		"over max_length": func(r *tokenRecord) { r.InputIDs = []int{2, 7, 7, 7, 3} },
		"id out of vocab": func(r *tokenRecord) { r.InputIDs = []int{2, 10, 3} },
		"type id 2":       func(r *tokenRecord) { r.TokenTypeIDs = []int{0, 2, 0} },
		"none with limit": func(r *tokenRecord) { r.Truncation = "none" },
		"pair without q":  func(r *tokenRecord) { r.Kind = "pair" },
		"unknown kind":    func(r *tokenRecord) { r.Kind = "triple" },
	} {
		r := good
		mutate(&r)
		if err := checkTokenRecord(&r, 10); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	q, d := "q", "d"
	logits := make([]logitRecord, minLogitPairs)
	for i := range logits {
		logits[i] = logitRecord{Query: &q, Document: &d, InputIDs: []int{2, 3}, TokenTypeIDs: []int{0, 0},
			Logits: []float64{float64(i % 5)}, BatchedLogits: []float64{float64(i % 5)}}
	}
	if _, _, err := checkLogits(logits, 1, 10, 512); err != nil {
		t.Fatalf("good logits rejected: %v", err)
	}
	if _, _, err := checkLogits(logits, 2, 10, 512); err == nil {
		t.Error("logits of the wrong num_labels accepted")
	}
	if _, _, err := checkLogits(logits[:minLogitPairs-1], 1, 10, 512); err == nil {
		t.Error("too few pairs accepted")
	}
	logits[7].BatchedLogits = []float64{99}
	if _, _, err := checkLogits(logits, 1, 10, 512); err == nil {
		t.Error("batched logits of another pair accepted")
	}

	var rr rankRecord
	if err := checkRankRecord(&rr); err == nil {
		t.Error("empty rank record accepted")
	}
}

// bpeRecord is one record of a byte-level BPE golden (golden/bpe-*.jsonl.gz).
type bpeRecord struct {
	Kind       string  `json:"kind"`
	Line       *int    `json:"line"`
	A          *int    `json:"a"`
	B          *int    `json:"b"`
	Text       *string `json:"text"`
	Truncation []any   `json:"truncation"`
	IDs        []int   `json:"ids"`
	TypeIDs    []int   `json:"type_ids"`
	Error      *string `json:"error"`
	Decoded    *string `json:"decoded"`
	DecodedSk  *string `json:"decoded_skip_special"`
}

func checkBPERecord(r *bpeRecord, lines, vocab int) error {
	inCorpus := func(p *int) bool { return p != nil && *p >= 0 && *p < lines }
	switch r.Kind {
	case "line":
		if !inCorpus(r.Line) {
			return fmt.Errorf("line %v outside the corpus", r.Line)
		}
	case "pair":
		if !inCorpus(r.A) || !inCorpus(r.B) {
			return fmt.Errorf("pair (%v, %v) outside the corpus", r.A, r.B)
		}
	case "text":
		// decoded_skip_special is there only when it differs from decoded.
		if r.Text == nil || r.Decoded == nil {
			return errors.New("text record needs text and decoded")
		}
	default:
		return fmt.Errorf("kind %q", r.Kind)
	}
	if r.Truncation != nil && len(r.Truncation) != 3 {
		return fmt.Errorf("truncation %v, want [strategy, side, max_length]", r.Truncation)
	}
	if r.Error != nil {
		if r.Truncation == nil || r.IDs != nil {
			return errors.New("error record needs a truncation and no ids")
		}
		return nil
	}
	if r.Kind == "pair" && len(r.TypeIDs) != len(r.IDs) {
		return fmt.Errorf("%d ids, %d type ids", len(r.IDs), len(r.TypeIDs))
	}
	for _, id := range r.IDs {
		if id < 0 || id >= vocab {
			return fmt.Errorf("id %d outside vocab of %d", id, vocab)
		}
	}
	return nil
}

// TestBPEGoldens checks the byte-level BPE goldens: every corpus line has
// its record, ids are inside the tokenizer's vocabulary, counts match the
// manifest.
func TestBPEGoldens(t *testing.T) {
	m := loadManifest(t)
	if len(m.BPE) < 2 {
		t.Fatalf("manifest lists %d BPE tokenizers, want bpe-qwen2 and bpe-modernbert", len(m.BPE))
	}
	for name, b := range m.BPE {
		t.Run(name, func(t *testing.T) {
			recs, err := decodeRecords[bpeRecord](filepath.FromSlash(b.Golden))
			if err != nil {
				t.Fatal(err)
			}
			seen := map[int]bool{}
			errs := 0
			for i := range recs {
				if err := checkBPERecord(&recs[i], m.Corpus.Lines, b.VocabSize); err != nil {
					t.Fatalf("%s: record %d: %v", b.Golden, i+1, err)
				}
				if recs[i].Kind == "line" && recs[i].Truncation == nil {
					seen[*recs[i].Line] = true
				}
				if recs[i].Error != nil {
					errs++
				}
			}
			if len(seen) != m.Corpus.Lines {
				t.Errorf("%d corpus lines encoded, the corpus has %d", len(seen), m.Corpus.Lines)
			}
			if len(recs) != b.Records || errs != b.Errors {
				t.Errorf("%d records with %d errors, manifest says %d and %d", len(recs), errs, b.Records, b.Errors)
			}
		})
	}
}

type splitRecord struct {
	Src    string  `json:"src"`
	Line   *int    `json:"line"`
	Text   *string `json:"text"`
	Qwen2  []int   `json:"qwen2"`
	GPT2   []int   `json:"gpt2"`
	Llama3 []int   `json:"llama3"`
}

// TestSplitGolden checks golden/split-patterns.jsonl.gz: the pieces of
// every corpus line under Qwen2's pattern, and of random strings under
// each pattern, as positive character counts.
func TestSplitGolden(t *testing.T) {
	m := loadManifest(t)
	recs, err := decodeRecords[splitRecord](filepath.FromSlash(m.Split.Golden))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != m.Split.Records || len(m.Split.Patterns) != 3 {
		t.Fatalf("%d records and %d patterns, manifest says %d records", len(recs), len(m.Split.Patterns), m.Split.Records)
	}
	corpus := map[int]bool{}
	for i, r := range recs {
		switch r.Src {
		case "corpus":
			if r.Line == nil || *r.Line < 0 || *r.Line >= m.Corpus.Lines || r.Qwen2 == nil {
				t.Fatalf("record %d: corpus record needs a line and qwen2 pieces", i+1)
			}
			corpus[*r.Line] = true
		case "random-unicode":
			if r.Line == nil || r.Qwen2 == nil || r.GPT2 == nil {
				t.Fatalf("record %d: random-unicode record needs a line and qwen2, gpt2 pieces", i+1)
			}
		case "random":
			if r.Text == nil || r.Qwen2 == nil || r.GPT2 == nil || r.Llama3 == nil {
				t.Fatalf("record %d: random record needs text and pieces of all three patterns", i+1)
			}
		default:
			t.Fatalf("record %d: src %q", i+1, r.Src)
		}
		for _, ps := range [][]int{r.Qwen2, r.GPT2, r.Llama3} {
			for _, n := range ps {
				if n <= 0 {
					t.Fatalf("record %d: piece of %d characters", i+1, n)
				}
			}
		}
	}
	if len(corpus) != m.Corpus.Lines {
		t.Errorf("%d corpus lines split, the corpus has %d", len(corpus), m.Corpus.Lines)
	}
}
