package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/crossrank/crossrank/embed"
	"github.com/crossrank/crossrank/modernbert"
	"github.com/crossrank/crossrank/qwen3"
	"github.com/crossrank/crossrank/weights"
)

func init() {
	register(&command{
		name:  "info",
		short: "describe a model: architecture, sizes, dtype, parameters, tokenizer, files",
		run:   runInfo,
	})
}

// modelInfo is what `crossrank info` reports (and prints with -json).
type modelInfo struct {
	Dir                   string     `json:"dir"`
	Architecture          string     `json:"architecture"`
	ModelType             string     `json:"model_type"`
	Layers                int        `json:"layers"`
	Hidden                int        `json:"hidden_size"`
	Heads                 int        `json:"attention_heads"`
	KVHeads               int        `json:"key_value_heads,omitempty"` // grouped-query attention (Qwen3)
	HeadDim               int        `json:"head_dim,omitempty"`        // when set explicitly (Qwen3)
	Intermediate          int        `json:"intermediate_size"`
	Activation            string     `json:"hidden_act"`
	VocabSize             int        `json:"vocab_size"`
	TypeVocabSize         int        `json:"type_vocab_size,omitempty"` // BERT and XLM-R only: ModernBERT and the decoders have no token types
	Attention             string     `json:"attention,omitempty"`       // ModernBERT's global and local layers
	Pooling               string     `json:"pooling,omitempty"`         // ModernBERT's classifier_pooling
	Labels                []string   `json:"labels"`
	MaxPositionEmbeddings int        `json:"max_position_embeddings"`
	MaxLength             int        `json:"max_length"` // tokens per pair the model can take
	TokenizerMaxLength    int        `json:"tokenizer_max_length,omitempty"`
	DTypes                []string   `json:"dtypes"`
	Parameters            int64      `json:"parameters"`
	WeightBytes           int64      `json:"weight_bytes"`
	Tokenizer             string     `json:"tokenizer"`
	Files                 []fileInfo `json:"files"`
	Problems              []string   `json:"problems,omitempty"`
	// Embedding describes an embedding model's sentence-transformers
	// stack (absent for a cross-encoder).
	Embedding *embeddingInfo `json:"embedding,omitempty"`
}

type embeddingInfo struct {
	Pooling           []string          `json:"pooling"`
	IncludePrompt     bool              `json:"include_prompt"`
	Modules           []string          `json:"modules"` // after pooling, in order
	Dim               int               `json:"dim"`
	Normalized        bool              `json:"normalized"`
	MaxSeqLength      int               `json:"max_seq_length,omitempty"`
	Prompts           map[string]string `json:"prompts,omitempty"`
	DefaultPromptName string            `json:"default_prompt_name,omitempty"`
	Notes             []string          `json:"notes,omitempty"`
}

type fileInfo struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

func runInfo(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("info", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	cache := fs.String("cache", "", "Hugging Face cache folder (default $HF_HUB_CACHE, else $HF_HOME/hub)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: crossrank info [flags] MODEL")
		fmt.Fprintln(stderr, "\nMODEL is a folder or org/name[@revision] already in the Hugging Face cache")
		fmt.Fprintln(stderr, "(see crossrank download). Nothing is downloaded.\n\nflags:")
		fs.PrintDefaults()
	}
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	dir, err := weights.Resolve(context.Background(), fs.Arg(0), weights.ResolveOptions{CacheDir: *cache, Offline: true})
	if err != nil {
		if errors.Is(err, weights.ErrOffline) {
			err = fmt.Errorf("%w\n(run `crossrank download %s` first)", err, fs.Arg(0))
		}
		fmt.Fprintln(stderr, "crossrank info:", err)
		return 1
	}
	info, err := describe(dir)
	if err != nil {
		fmt.Fprintln(stderr, "crossrank info:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(info)
	} else {
		printInfo(stdout, info)
	}
	if len(info.Problems) > 0 {
		return 1
	}
	return 0
}

func describe(dir string) (*modelInfo, error) {
	var info *modelInfo
	var checkHead func(ck *weights.Checkpoint) error
	if raw, err := os.ReadFile(filepath.Join(dir, weights.ConfigFile)); err == nil && qwen3.Handles(raw) {
		cfg, err := qwen3.LoadConfig(dir)
		if err != nil {
			return nil, err
		}
		common := cfg.Common()
		info = &modelInfo{
			Dir: dir, Architecture: cfg.Arch.String(), ModelType: common.ModelType,
			Layers: cfg.NumHiddenLayers, Hidden: cfg.HiddenSize, Heads: cfg.NumAttentionHeads,
			KVHeads: cfg.NumKeyValueHeads, HeadDim: cfg.HeadDim,
			Intermediate: cfg.IntermediateSize, Activation: "silu", VocabSize: cfg.VocabSize,
			Labels: common.Labels(), MaxPositionEmbeddings: cfg.MaxPositionEmbeddings, MaxLength: cfg.MaxPositionEmbeddings,
		}
	} else {
		cfg, err := weights.LoadConfig(dir)
		if err != nil {
			return nil, err
		}
		info = &modelInfo{
			Dir: dir, Architecture: cfg.Arch().String(), ModelType: cfg.ModelType,
			Layers: cfg.NumHiddenLayers, Hidden: cfg.HiddenSize, Heads: cfg.NumAttentionHeads,
			Intermediate: cfg.IntermediateSize, Activation: cfg.HiddenAct,
			VocabSize: cfg.VocabSize, TypeVocabSize: cfg.TypeVocabSize, Labels: cfg.Labels(),
			MaxPositionEmbeddings: cfg.MaxPositionEmbeddings, MaxLength: cfg.MaxPositionEmbeddings,
		}
		switch cfg.Arch().Family() {
		case weights.XLMRoberta:
			// XLM-R's positions start after padding_idx, so padding_idx+1
			// position embeddings are never used by a token.
			info.MaxLength = cfg.MaxPositionEmbeddings - cfg.PadTokenID - 1
		case weights.ModernBert:
			// ModernBERT has no token type embeddings and reads its own
			// fields (activation, layer types, pooling) from config.json.
			mc, err := modernbert.ParseConfig(cfg.Raw)
			if err != nil {
				return nil, fmt.Errorf("modernbert: %w", err)
			}
			info.TypeVocabSize = 0
			info.Activation = mc.HiddenActivation.String() + " (GeGLU)"
			global := 0
			for _, t := range mc.LayerTypes {
				if t == modernbert.FullAttention {
					global++
				}
			}
			info.Attention = fmt.Sprintf("%d global, %d local (window of %d tokens)", global, mc.NumHiddenLayers-global, mc.LocalAttention)
			info.Pooling = mc.Pooling.String()
		}
		checkHead = func(ck *weights.Checkpoint) error {
			if embed.IsEmbedder(dir) {
				info.Labels = nil
				info.Embedding = describeEmbedding(dir, cfg.HiddenSize, info)
				return nil
			}
			return ck.CheckHead(cfg.Arch())
		}
	}
	info.TokenizerMaxLength = tokenizerMaxLength(dir)
	info.Tokenizer = tokenizerKind(dir)

	ck, err := weights.Open(dir)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	dtypes := map[string]bool{}
	for _, n := range ck.Names() {
		t, _ := ck.Info(n)
		switch t.DType {
		case weights.F32, weights.F16, weights.BF16, weights.F64:
			// Integer tensors are buffers (position_ids), not parameters.
			info.Parameters += t.Elements()
			info.WeightBytes += t.Size
			dtypes[string(t.DType)] = true
		}
	}
	for d := range dtypes {
		info.DTypes = append(info.DTypes, d)
	}
	sort.Strings(info.DTypes)
	if checkHead != nil {
		if err := checkHead(ck); err != nil {
			info.Problems = append(info.Problems, err.Error())
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		st, err := os.Stat(filepath.Join(dir, e.Name())) // follows the cache's symlinks
		if err != nil || st.IsDir() {
			continue
		}
		info.Files = append(info.Files, fileInfo{e.Name(), st.Size()})
	}
	return info, nil
}

// describeEmbedding reads the sentence-transformers stack; a file it cannot
// read is a problem of info.
func describeEmbedding(dir string, hidden int, info *modelInfo) *embeddingInfo {
	st, err := weights.LoadSentenceTransformer(dir, hidden)
	if err != nil {
		info.Problems = append(info.Problems, err.Error())
		return nil
	}
	e := &embeddingInfo{IncludePrompt: st.Pooling.IncludePrompt, Dim: st.Dim(), Normalized: st.Normalized(),
		MaxSeqLength: st.MaxSeqLength, Prompts: st.Prompts, DefaultPromptName: st.DefaultPromptName, Notes: st.Notes}
	for _, m := range st.Pooling.Modes {
		e.Pooling = append(e.Pooling, string(m))
	}
	for _, m := range st.Post {
		switch m := m.(type) {
		case *weights.Dense:
			e.Modules = append(e.Modules, fmt.Sprintf("Dense %d->%d %s", m.In, m.Out, m.Activation))
		case weights.Normalize:
			e.Modules = append(e.Modules, "Normalize")
		}
	}
	return e
}

// tokenizerKind reads tokenizer.json's model.type ("WordPiece", "Unigram",
// "BPE"), or names the legacy vocabulary file a folder has instead.
func tokenizerKind(dir string) string {
	raw, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err == nil {
		var tj struct {
			Model struct {
				Type string `json:"type"`
			} `json:"model"`
		}
		if json.Unmarshal(raw, &tj) == nil && tj.Model.Type != "" {
			return tj.Model.Type + " (tokenizer.json)"
		}
		return "unknown (tokenizer.json without model.type)"
	}
	for _, f := range []struct{ file, kind string }{
		{"vocab.txt", "WordPiece (vocab.txt)"},
		{"sentencepiece.bpe.model", "SentencePiece (sentencepiece.bpe.model)"},
	} {
		if _, err := os.Stat(filepath.Join(dir, f.file)); err == nil {
			return f.kind
		}
	}
	return "none found"
}

// tokenizerMaxLength is tokenizer_config.json's model_max_length when it is
// a real limit (transformers writes 1e30 for "none").
func tokenizerMaxLength(dir string) int {
	raw, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return 0
	}
	var tc struct {
		ModelMaxLength float64 `json:"model_max_length"`
	}
	if json.Unmarshal(raw, &tc) != nil || tc.ModelMaxLength <= 0 || tc.ModelMaxLength > 1e9 {
		return 0
	}
	return int(tc.ModelMaxLength)
}

func printInfo(w io.Writer, m *modelInfo) {
	row := func(k, f string, a ...any) { fmt.Fprintf(w, "%-13s %s\n", k, fmt.Sprintf(f, a...)) }
	row("model", "%s", m.Dir)
	row("architecture", "%s (model_type %s)", m.Architecture, m.ModelType)
	headDim := m.HeadDim
	if headDim == 0 {
		headDim = m.Hidden / max(m.Heads, 1)
	}
	heads := fmt.Sprintf("%d", m.Heads)
	if m.KVHeads > 0 && m.KVHeads != m.Heads {
		heads += fmt.Sprintf(" over %d key-value heads", m.KVHeads)
	}
	row("layers", "%d, hidden %d, heads %s (head size %d), intermediate %d, activation %s",
		m.Layers, m.Hidden, heads, headDim, m.Intermediate, m.Activation)
	if m.TypeVocabSize > 0 {
		row("vocabulary", "%d tokens, %d token types", m.VocabSize, m.TypeVocabSize)
	} else {
		row("vocabulary", "%d tokens", m.VocabSize)
	}
	if m.Attention != "" {
		row("attention", "%s", m.Attention)
	}
	if m.Pooling != "" {
		row("pooling", "%s", m.Pooling)
	}
	unit := "pair"
	if e := m.Embedding; e != nil {
		unit = "text"
		row("embedding", "%d dimensions, pooling %s (include_prompt %v)%s", e.Dim, strings.Join(e.Pooling, "+"), e.IncludePrompt,
			strings.Join(append([]string{""}, e.Modules...), ", "))
		if e.MaxSeqLength > 0 {
			row("max_seq_len", "%d (sentence_bert_config.json)", e.MaxSeqLength)
		}
		if len(e.Prompts) > 0 {
			names := make([]string, 0, len(e.Prompts))
			for n, p := range e.Prompts {
				names = append(names, fmt.Sprintf("%s=%q", n, p))
			}
			sort.Strings(names)
			row("prompts", "%s (default %q)", strings.Join(names, ", "), e.DefaultPromptName)
		}
		for _, n := range e.Notes {
			row("note", "%s", n)
		}
	} else {
		row("labels", "%d (%s)", len(m.Labels), strings.Join(m.Labels, ", "))
	}
	maxLen := fmt.Sprintf("%d tokens per %s (max_position_embeddings %d)", m.MaxLength, unit, m.MaxPositionEmbeddings)
	if m.TokenizerMaxLength > 0 && m.TokenizerMaxLength != m.MaxLength {
		maxLen += fmt.Sprintf("; tokenizer model_max_length %d", m.TokenizerMaxLength)
	}
	row("max length", "%s", maxLen)
	row("dtype", "%s", strings.Join(m.DTypes, ", "))
	row("parameters", "%s (%s of weights)", groupDigits(m.Parameters), sizeString(m.WeightBytes))
	row("tokenizer", "%s", m.Tokenizer)
	var files []string
	for _, f := range m.Files {
		files = append(files, fmt.Sprintf("%s (%s)", f.Name, sizeString(f.Size)))
	}
	row("files", "%s", strings.Join(files, ", "))
	for _, p := range m.Problems {
		row("PROBLEM", "%s", p)
	}
}

func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
