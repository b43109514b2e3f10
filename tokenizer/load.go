package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Load reads the tokenizer of a checkpoint folder: tokenizer.json if there
// is one, else vocab.txt with tokenizer_config.json (older BERT
// checkpoints, built the way transformers converts them), or for Qwen2 and
// Qwen3 vocab.json and merges.txt. model_max_length comes from
// tokenizer_config.json when it has a usable one.
func Load(dir string) (*Tokenizer, error) {
	cfg, err := readConfig(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return nil, err
	}
	var t *Tokenizer
	f, err := os.Open(filepath.Join(dir, "tokenizer.json"))
	switch {
	case err == nil:
		defer f.Close()
		name := filepath.Join(dir, "tokenizer.json")
		p, err := parseJSON(bufio.NewReaderSize(f, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := rebuildLikeTransformers(p, cfg, dir); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if t, err = p.build(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	case errors.Is(err, os.ErrNotExist) && tokenizerClass(cfg, dir) == "Qwen2Tokenizer":
		if t, err = fromVocabMerges(dir, cfg); err != nil {
			return nil, err
		}
	case errors.Is(err, os.ErrNotExist):
		vf, verr := os.Open(filepath.Join(dir, "vocab.txt"))
		if verr != nil {
			if errors.Is(verr, os.ErrNotExist) {
				return nil, fmt.Errorf("tokenizer: %s has neither tokenizer.json nor vocab.txt", dir)
			}
			return nil, fmt.Errorf("tokenizer: %w", verr)
		}
		defer vf.Close()
		t, err = fromVocabTxt(vf, cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "vocab.txt"), err)
		}
	default:
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if cfg != nil {
		t.modelMaxLength = cfg.maxLength()
		if cfg.PadToken != nil {
			if id, ok := t.tokenID(cfg.PadToken.content()); ok {
				t.padID = id
			}
		}
	}
	return t, nil
}

// tokenID finds a token among the added tokens, then in the model.
func (t *Tokenizer) tokenID(tok string) (int32, bool) {
	for _, m := range []*matcher{&t.added.raw, &t.added.norm} {
		for _, a := range m.tokens {
			if a.tok.Content == tok {
				return a.tok.ID, true
			}
		}
	}
	return t.model.tokenID(tok)
}

// tokenizerConfig is the part of tokenizer_config.json we read.
type tokenizerConfig struct {
	ModelMaxLength      json.Number        `json:"model_max_length"`
	DoLowerCase         *bool              `json:"do_lower_case"`
	TokenizeChineseChar *bool              `json:"tokenize_chinese_chars"`
	StripAccents        *bool              `json:"strip_accents"`
	UnkToken            *tokenField        `json:"unk_token"`
	SepToken            *tokenField        `json:"sep_token"`
	PadToken            *tokenField        `json:"pad_token"`
	ClsToken            *tokenField        `json:"cls_token"`
	MaskToken           *tokenField        `json:"mask_token"`
	BosToken            *tokenField        `json:"bos_token"`
	EosToken            *tokenField        `json:"eos_token"`
	AddPrefixSpace      *bool              `json:"add_prefix_space"`
	TokenizerClass      string             `json:"tokenizer_class"`
	AddedTokensDecoder  map[string]addedTD `json:"added_tokens_decoder"`
}

// tokenField is a special token in tokenizer_config.json: a string, or an
// AddedToken object with "content".
type tokenField struct {
	s string
}

func (f *tokenField) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &f.s)
	}
	var o struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	f.s = o.Content
	return nil
}

func (f *tokenField) content() string {
	if f == nil {
		return ""
	}
	return f.s
}

type addedTD struct {
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"`
	Special    bool   `json:"special"`
}

func readConfig(path string) (*tokenizerConfig, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var c tokenizerConfig
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&c); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return &c, nil
}

// maxLength is model_max_length, or 0 for transformers' "no limit" value
// (int(1e30)) and anything else that is not a sensible length.
func (c *tokenizerConfig) maxLength() int {
	f, err := strconv.ParseFloat(string(c.ModelMaxLength), 64)
	if err != nil || f <= 0 || f > math.MaxInt32 || f != math.Trunc(f) {
		return 0
	}
	return int(f)
}

// fromVocabMerges builds the tokenizer transformers' Qwen2Tokenizer makes
// from vocab.json and merges.txt (no tokenizer.json): the BPE of those
// files in Qwen2's pipeline, no post-processor template, the added tokens
// of tokenizer_config.json.
func fromVocabMerges(dir string, cfg *tokenizerConfig) (*Tokenizer, error) {
	vname, mname := filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt")
	vb, err := os.ReadFile(vname)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("tokenizer: %s has neither tokenizer.json nor vocab.json and merges.txt", dir)
		}
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var vocab map[string]int32
	if err := json.Unmarshal(vb, &vocab); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", vname, fieldErr(err))
	}
	mb, err := os.ReadFile(mname)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	// BPE::read_file: one "a b" merge a line, "#version" lines skipped.
	var merges [][2]string
	lines := strings.Split(strings.TrimSuffix(string(mb), "\n"), "\n")
	for i, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		if strings.HasPrefix(line, "#version") || len(mb) == 0 {
			continue
		}
		a, b, ok := strings.Cut(line, " ")
		if !ok || strings.Contains(b, " ") {
			return nil, fmt.Errorf("tokenizer: %s:%d: %q is not two tokens separated by one space", mname, i+1, line)
		}
		merges = append(merges, [2]string{a, b})
	}
	m, err := newBPE(vocab, merges, bpeOptions{})
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s, %s: %w", vname, mname, err)
	}
	p := &jsonParts{model: m}
	if err := rebuildLikeTransformers(p, cfg, dir); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", dir, err)
	}
	return p.build()
}

// fromVocabTxt builds the tokenizer transformers makes for a BERT
// checkpoint with only vocab.txt: BertNormalizer, BertPreTokenizer,
// WordPiece with "##" and 100 characters per word, [CLS] A [SEP] B [SEP].
func fromVocabTxt(r io.Reader, cfg *tokenizerConfig) (*Tokenizer, error) {
	if cfg == nil {
		cfg = &tokenizerConfig{}
	}
	vocab := map[string]int32{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := int32(0)
	for sc.Scan() {
		// transformers' load_vocab strips only the newline.
		vocab[strings.TrimSuffix(sc.Text(), "\r")] = n
		n++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokenizer: reading vocab: %w", err)
	}
	if len(vocab) == 0 {
		return nil, errors.New("tokenizer: vocab is empty")
	}
	lower := cfg.DoLowerCase == nil || *cfg.DoLowerCase
	chinese := cfg.TokenizeChineseChar == nil || *cfg.TokenizeChineseChar
	strip := lower
	if cfg.StripAccents != nil {
		strip = *cfg.StripAccents
	}
	name := func(f *tokenField, def string) string {
		if f == nil || f.s == "" {
			return def
		}
		return f.s
	}
	unk, sep, pad, cls, mask := name(cfg.UnkToken, "[UNK]"), name(cfg.SepToken, "[SEP]"),
		name(cfg.PadToken, "[PAD]"), name(cfg.ClsToken, "[CLS]"), name(cfg.MaskToken, "[MASK]")
	wp, err := newWordPiece(vocab, unk, "##", 100)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: vocab: %w", err)
	}
	t := &Tokenizer{
		added:      &addedVocab{},
		normalizer: &bertNormalizer{cleanText: true, chineseChars: chinese, stripAccents: strip, lowercase: lower},
		pre:        bertPreTokenizer{},
		model:      wp,
		vocabSize:  wp.size,
	}
	// Special tokens match on the raw text, unnormalised, as in a
	// converted tokenizer.json; added_tokens_decoder can say otherwise.
	specials := map[string]bool{}
	for _, s := range []string{pad, unk, cls, sep, mask} {
		if id, ok := vocab[s]; ok && !specials[s] {
			specials[s] = true
			t.added.raw.add(s, addedToken{ID: id, Content: s, Special: true})
		}
	}
	for key, td := range cfg.AddedTokensDecoder {
		id, err := strconv.Atoi(key)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: tokenizer_config.json: added_tokens_decoder: key %q is not an id", key)
		}
		if specials[td.Content] {
			t.added.raw.removeContent(td.Content)
		}
		at := addedToken{ID: int32(id), Content: td.Content, SingleWord: td.SingleWord, LStrip: td.LStrip, RStrip: td.RStrip, Special: td.Special}
		at.Normalized = !td.Special
		if td.Normalized != nil {
			at.Normalized = *td.Normalized
		}
		if err := t.addToken(at); err != nil {
			return nil, err
		}
		if id+1 > t.vocabSize {
			t.vocabSize = id + 1
		}
	}
	t.added.raw.build()
	t.added.norm.build()
	t.indexAdded(nil)
	clsID, ok1 := vocab[cls]
	sepID, ok2 := vocab[sep]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("tokenizer: vocab lacks the cls token %q or the sep token %q", cls, sep)
	}
	t.post = bertTemplate(clsID, sepID)
	t.padID = vocab[pad]
	return t, nil
}

// indexAdded records the added tokens by id and the special ones by
// content, for Decode. added is the list in order (later entries win);
// nil takes the matchers' tokens.
func (t *Tokenizer) indexAdded(added []addedToken) {
	if added == nil {
		for _, m := range []*matcher{&t.added.raw, &t.added.norm} {
			for _, mt := range m.tokens {
				added = append(added, mt.tok)
			}
		}
	}
	t.addedByID = make(map[int32]string, len(added))
	t.specials = map[string]bool{}
	for _, a := range added {
		if a.Content == "" {
			continue
		}
		t.addedByID[a.ID] = a.Content
		if a.Special {
			t.specials[a.Content] = true
		}
	}
}

func (m *matcher) removeContent(content string) {
	out := m.tokens[:0]
	for _, t := range m.tokens {
		if t.tok.Content != content {
			out = append(out, t)
		}
	}
	m.tokens = out
}

// addToken registers an added token in the raw or normalised matcher.
func (t *Tokenizer) addToken(at addedToken) error {
	if at.Content == "" {
		return nil
	}
	if !at.Normalized {
		t.added.raw.add(at.Content, at)
		return nil
	}
	pattern := at.Content
	if t.normalizer != nil {
		sc := &scratch{}
		pattern = string(t.normalizer.normalize(nil, at.Content, sc))
	}
	t.added.norm.add(pattern, at)
	return nil
}

// FromJSON reads a Hugging Face tokenizer.json and encodes as the Rust
// library does with it. (Load also reads tokenizer_config.json, and for BERT
// and XLM-R encodes as transformers does.)
func FromJSON(r io.Reader) (*Tokenizer, error) {
	p, err := parseJSON(r)
	if err != nil {
		return nil, err
	}
	return p.build()
}

// jsonParts is a parsed tokenizer.json before its added tokens are set up;
// Load may replace parts, as transformers does, before build.
type jsonParts struct {
	added       []addedToken
	normalizer  normalizer
	normRaw     json.RawMessage
	pre         preTokenizer
	model       model
	postRaw     json.RawMessage
	padID       *int32
	decoder     decoderKind
	decoderName string
	// post, when set, replaces post_processor.
	post func(t *Tokenizer) (*template, error)
}

func parseJSON(r io.Reader) (*jsonParts, error) {
	var f struct {
		AddedTokens   []addedToken    `json:"added_tokens"`
		Decoder       json.RawMessage `json:"decoder"`
		Normalizer    json.RawMessage `json:"normalizer"`
		PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
		Model         json.RawMessage `json:"model"`
		PostProcessor json.RawMessage `json:"post_processor"`
		// truncation and padding are ignored: transformers replaces them
		// on every call, and so do our callers with Truncation and Pad.
		// Only the pad id is kept.
		Padding *struct {
			PadID *int32 `json:"pad_id"`
		} `json:"padding"`
	}
	d := json.NewDecoder(r)
	if err := d.Decode(&f); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", fieldErr(err))
	}
	p := &jsonParts{added: f.AddedTokens, normRaw: f.Normalizer, postRaw: f.PostProcessor}
	var err error
	if p.model, err = parseModel(f.Model); err != nil {
		return nil, fmt.Errorf("tokenizer: model%w", err)
	}
	if p.normalizer, err = parseNormalizer(f.Normalizer); err != nil {
		return nil, fmt.Errorf("tokenizer: normalizer%w", err)
	}
	if p.pre, err = parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, fmt.Errorf("tokenizer: pre_tokenizer%w", err)
	}
	if p.decoder, p.decoderName, err = parseDecoder(f.Decoder); err != nil {
		return nil, fmt.Errorf("tokenizer: decoder%w", err)
	}
	if f.Padding != nil {
		p.padID = f.Padding.PadID
	}
	return p, nil
}

func (p *jsonParts) build() (*Tokenizer, error) {
	t := &Tokenizer{added: &addedVocab{}, normalizer: p.normalizer, pre: p.pre, model: p.model,
		decoder: p.decoder, decoderName: p.decoderName}
	t.vocabSize = t.model.vocabSize()
	t.firstScheme = hasFirstScheme(p.pre)
	for i, at := range p.added {
		if at.ID < 0 {
			return nil, fmt.Errorf("tokenizer: added_tokens[%d].id: %d is negative", i, at.ID)
		}
		if err := t.addToken(at); err != nil {
			return nil, fmt.Errorf("tokenizer: added_tokens[%d]: %w", i, err)
		}
		if int(at.ID)+1 > t.vocabSize {
			t.vocabSize = int(at.ID) + 1
		}
	}
	t.added.raw.build()
	t.added.norm.build()
	t.indexAdded(p.added)
	var err error
	if p.post != nil {
		t.post, err = p.post(t)
	} else {
		t.post, err = parsePostProcessor(p.postRaw, t)
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: post_processor%w", err)
	}
	for _, name := range []string{"[PAD]", "<pad>"} {
		if id, ok := t.tokenID(name); ok {
			t.padID = id
			break
		}
	}
	if p.padID != nil {
		if id := *p.padID; id < 0 || int(id) >= t.vocabSize {
			return nil, fmt.Errorf("tokenizer: padding.pad_id: %d is outside the vocabulary (size %d)", id, t.vocabSize)
		}
		t.padID = *p.padID
	}
	return t, nil
}

// fieldErr makes encoding/json's type errors name the field path.
func fieldErr(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("%s: want %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	return err
}

// typed reads the "type" of a component; null gives "".
func typed(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var h struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", fmt.Errorf(": %w", fieldErr(err))
	}
	if h.Type == nil {
		return "", errors.New(".type: missing")
	}
	return *h.Type, nil
}

// decode unmarshals a component; errors are prefixed with the field.
func decode(raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		err = fieldErr(err)
		if strings.HasPrefix(err.Error(), "json:") {
			return fmt.Errorf(": %w", err)
		}
		return fmt.Errorf(".%w", err)
	}
	return nil
}

func parseModel(raw json.RawMessage) (model, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New(": missing")
	}
	// One pass over the (possibly large) model object: the fields of both
	// kinds, the vocab kept raw until the type is known.
	var m struct {
		Type         *string         `json:"type"`
		Vocab        json.RawMessage `json:"vocab"`
		UnkToken     *string         `json:"unk_token"`
		Prefix       *string         `json:"continuing_subword_prefix"`
		MaxChars     *int            `json:"max_input_chars_per_word"`
		UnkID        *int            `json:"unk_id"`
		ByteFallback *bool           `json:"byte_fallback"`
		// BPE
		Merges       json.RawMessage `json:"merges"`
		Dropout      *float64        `json:"dropout"`
		FuseUnk      *bool           `json:"fuse_unk"`
		IgnoreMerges *bool           `json:"ignore_merges"`
		Suffix       *string         `json:"end_of_word_suffix"`
	}
	if err := decode(raw, &m); err != nil {
		return nil, err
	}
	if m.Type == nil {
		return nil, errors.New(".type: missing")
	}
	if len(m.Vocab) == 0 || string(m.Vocab) == "null" {
		if *m.Type == "WordPiece" || *m.Type == "Unigram" || *m.Type == "BPE" {
			return nil, errors.New(".vocab: missing")
		}
	}
	flag := func(p *bool) bool { return p != nil && *p }
	switch *m.Type {
	case "WordPiece":
		var vocab map[string]int32
		if err := json.Unmarshal(m.Vocab, &vocab); err != nil {
			return nil, fmt.Errorf(".vocab: %w", fieldErr(err))
		}
		unk, prefix, maxChars := "[UNK]", "##", 100
		if m.UnkToken != nil {
			unk = *m.UnkToken
		}
		if m.Prefix != nil {
			prefix = *m.Prefix
		}
		if m.MaxChars != nil {
			maxChars = *m.MaxChars
		}
		wp, err := newWordPiece(vocab, unk, prefix, maxChars)
		if err != nil {
			return nil, fmt.Errorf(".vocab: %w", err)
		}
		return wp, nil
	case "Unigram":
		var vocab []pieceScore
		if err := json.Unmarshal(m.Vocab, &vocab); err != nil {
			return nil, fmt.Errorf(".vocab: %w", fieldErr(err))
		}
		pieces := make([]string, len(vocab))
		scores := make([]float64, len(vocab))
		for i, p := range vocab {
			pieces[i], scores[i] = p.piece, p.score
		}
		unk := int32(-1)
		if m.UnkID != nil {
			if *m.UnkID < 0 {
				return nil, fmt.Errorf(".unk_id: %d is negative", *m.UnkID)
			}
			if *m.UnkID >= len(pieces) {
				return nil, fmt.Errorf(".unk_id: %d is not below the vocabulary size %d", *m.UnkID, len(pieces))
			}
			unk = int32(*m.UnkID)
		}
		u, err := newUnigram(pieces, scores, unk, flag(m.ByteFallback))
		if err != nil {
			return nil, fmt.Errorf(".vocab: %w", err)
		}
		return u, nil
	case "BPE":
		var vocab map[string]int32
		if err := json.Unmarshal(m.Vocab, &vocab); err != nil {
			return nil, fmt.Errorf(".vocab: %w", fieldErr(err))
		}
		if len(m.Merges) == 0 || string(m.Merges) == "null" {
			return nil, errors.New(".merges: missing")
		}
		merges, err := parseMerges(m.Merges)
		if err != nil {
			return nil, fmt.Errorf(".merges%w", err)
		}
		if m.Dropout != nil && *m.Dropout != 0 {
			// Dropout samples merges at random (training only): no fixed
			// ids to reproduce.
			return nil, fmt.Errorf(".dropout: %v is not supported (only null or 0)", *m.Dropout)
		}
		o := bpeOptions{unk: m.UnkToken, fuseUnk: flag(m.FuseUnk), byteFallback: flag(m.ByteFallback),
			ignoreMerges: flag(m.IgnoreMerges)}
		if m.Prefix != nil {
			o.prefix = *m.Prefix
		}
		if m.Suffix != nil {
			o.suffix = *m.Suffix
		}
		b, err := newBPE(vocab, merges, o)
		if err != nil {
			return nil, fmt.Errorf(".%w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf(".type: %q is not supported (WordPiece, Unigram or BPE)", *m.Type)
}

// parseMerges reads BPE merges in either form tokenizer.json has had:
// ["a", "b"] pairs (tokenizers 0.20 on) or "a b" strings (split at the one
// space; "#version" lines skipped, as convert_merges_to_hashmap does).
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf(": %w", fieldErr(err))
	}
	out := make([][2]string, 0, len(list))
	legacy := len(list) > 0 && bytes.HasPrefix(bytes.TrimSpace(list[0]), []byte(`"`))
	for i, r := range list {
		if legacy {
			var line string
			if err := json.Unmarshal(r, &line); err != nil {
				return nil, fmt.Errorf("[%d]: %s is not a \"a b\" string like the first merge", i, abbrev(r))
			}
			if strings.HasPrefix(line, "#version") {
				continue
			}
			a, b, ok := strings.Cut(line, " ")
			if !ok || strings.Contains(b, " ") {
				return nil, fmt.Errorf("[%d]: %q is not two tokens separated by one space", i, line)
			}
			out = append(out, [2]string{a, b})
			continue
		}
		var pair []string
		if err := json.Unmarshal(r, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("[%d]: %s is not a [\"a\", \"b\"] pair", i, abbrev(r))
		}
		out = append(out, [2]string{pair[0], pair[1]})
	}
	return out, nil
}

// pieceScore is one ["piece", score] entry of a Unigram vocab.
type pieceScore struct {
	piece string
	score float64
}

func (p *pieceScore) UnmarshalJSON(b []byte) error {
	// A fast path for the common form ["piece", -1.25] (a real XLM-R vocab
	// has 250,000 of them); anything else goes through encoding/json.
	bad := func(what string) error { return fmt.Errorf("vocab entry %s: %s", abbrev(b), what) }
	s := bytes.TrimSpace(b)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return bad("not a [piece, score] pair")
	}
	s = bytes.TrimSpace(s[1 : len(s)-1])
	if len(s) > 0 && s[0] == '"' {
		if end := bytes.IndexByte(s[1:], '"'); end >= 0 && bytes.IndexByte(s[1:end+1], '\\') < 0 {
			rest := bytes.TrimSpace(s[end+2:])
			if len(rest) > 0 && rest[0] == ',' && utf8.Valid(s[1:end+1]) {
				num := bytes.TrimSpace(rest[1:])
				if f, err := strconv.ParseFloat(string(num), 64); err == nil {
					p.piece, p.score = string(s[1:end+1]), f
					return nil
				}
			}
		}
	}
	var a []json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil || len(a) != 2 {
		return bad("not a [piece, score] pair")
	}
	if err := json.Unmarshal(a[0], &p.piece); err != nil {
		return bad("piece is not a string")
	}
	if err := json.Unmarshal(a[1], &p.score); err != nil {
		return bad("score is not a number")
	}
	return nil
}

func abbrev(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	typ, err := typed(raw)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "":
		return nil, nil
	case "BertNormalizer":
		var m struct {
			CleanText    *bool `json:"clean_text"`
			Chinese      *bool `json:"handle_chinese_chars"`
			StripAccents *bool `json:"strip_accents"`
			Lowercase    *bool `json:"lowercase"`
		}
		if err := decode(raw, &m); err != nil {
			return nil, err
		}
		b := &bertNormalizer{cleanText: true, chineseChars: true, lowercase: true}
		if m.CleanText != nil {
			b.cleanText = *m.CleanText
		}
		if m.Chinese != nil {
			b.chineseChars = *m.Chinese
		}
		if m.Lowercase != nil {
			b.lowercase = *m.Lowercase
		}
		// strip_accents null means "do what lowercase does".
		b.stripAccents = b.lowercase
		if m.StripAccents != nil {
			b.stripAccents = *m.StripAccents
		}
		return b, nil
	case "Precompiled":
		var m struct {
			Charsmap *string `json:"precompiled_charsmap"`
		}
		if err := decode(raw, &m); err != nil {
			return nil, err
		}
		if m.Charsmap == nil {
			return nil, errors.New(".precompiled_charsmap: missing")
		}
		b, err := base64.StdEncoding.DecodeString(*m.Charsmap)
		if err != nil {
			return nil, fmt.Errorf(".precompiled_charsmap: %w", err)
		}
		if len(b) == 0 {
			// An empty charsmap normalises nothing.
			return seqNormalizer{}, nil
		}
		p, err := newPrecompiled(b)
		if err != nil {
			return nil, fmt.Errorf(".precompiled_charsmap: %w", err)
		}
		return p, nil
	case "Sequence":
		var m struct {
			Normalizers *[]json.RawMessage `json:"normalizers"`
		}
		if err := decode(raw, &m); err != nil {
			return nil, err
		}
		if m.Normalizers == nil {
			return nil, errors.New(".normalizers: missing")
		}
		var seq seqNormalizer
		for i, r := range *m.Normalizers {
			n, err := parseNormalizer(r)
			if err != nil {
				return nil, fmt.Errorf(".normalizers[%d]%w", i, err)
			}
			if n != nil {
				seq = append(seq, n)
			}
		}
		return seq, nil
	case "NFC":
		return unicodeNormalizer{norm.NFC}, nil
	case "NFD":
		return unicodeNormalizer{norm.NFD}, nil
	case "NFKC":
		return unicodeNormalizer{norm.NFKC}, nil
	case "NFKD":
		return unicodeNormalizer{norm.NFKD}, nil
	case "Lowercase":
		return lowercaseNormalizer{}, nil
	case "StripAccents":
		return stripAccentsNormalizer{}, nil
	case "Nmt":
		return nmtNormalizer{}, nil
	case "Strip":
		var m struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := decode(raw, &m); err != nil {
			return nil, err
		}
		return stripNormalizer{m.Left, m.Right}, nil
	case "Prepend":
		var m struct {
			Prepend *string `json:"prepend"`
		}
		if err := decode(raw, &m); err != nil {
			return nil, err
		}
		if m.Prepend == nil {
			return nil, errors.New(".prepend: missing")
		}
		return prependNormalizer{*m.Prepend}, nil
	case "Replace":
		var m struct {
			Pattern *struct {
				String *string `json:"String"`
				Regex  *string `json:"Regex"`
			} `json:"pattern"`
			Content *string `json:"content"`
		}
		if err := decode(raw, &m); err != nil {
			return nil, err
		}
		if m.Content == nil {
			return nil, errors.New(".content: missing")
		}
		switch {
		case m.Pattern == nil:
			return nil, errors.New(".pattern: missing")
		case m.Pattern.String != nil:
			if *m.Pattern.String == "" {
				return nil, errors.New(".pattern.String: empty")
			}
			return &replaceNormalizer{literal: *m.Pattern.String, content: *m.Content}, nil
		case m.Pattern.Regex != nil:
			re, err := regexp.Compile(*m.Pattern.Regex)
			if err != nil {
				return nil, fmt.Errorf(".pattern.Regex: %w", err)
			}
			return &replaceNormalizer{re: re, content: *m.Content}, nil
		}
		return nil, errors.New(".pattern: neither String nor Regex")
	}
	return nil, fmt.Errorf(".type: %q is not supported", typ)
}

func parsePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	typ, err := typed(raw)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "":
		return nil, nil
	case "BertPreTokenizer":
		return bertPreTokenizer{}, nil
	case "WhitespaceSplit":
		return whitespaceSplit{}, nil
	case "Whitespace":
		return whitespacePre{}, nil
	case "Punctuation":
		var m struct {
			Behavior *string `json:"behavior"`
		}
		if err := decode(raw, &m); err != nil {
			return nil, err
		}
		b := isolated
		if m.Behavior != nil {
			if b, err = parseBehavior(*m.Behavior); err != nil {
				return nil, fmt.Errorf(".behavior: %w", err)
			}
		}
		return punctuationPre{b}, nil
	case "Digits":
		var m struct {
			Individual bool `json:"individual_digits"`
		}
		if err := decode(raw, &m); err != nil {
			return nil, err
		}
		return digitsPre{m.Individual}, nil
	case "Metaspace":
		var m struct {
			Replacement    *string `json:"replacement"`
			PrependScheme  *string `json:"prepend_scheme"`
			AddPrefixSpace *bool   `json:"add_prefix_space"`
			Split          *bool   `json:"split"`
		}
		if err := decode(raw, &m); err != nil {
			return nil, err
		}
		if m.Replacement == nil {
			return nil, errors.New(".replacement: missing")
		}
		r := []rune(*m.Replacement)
		if len(r) != 1 {
			return nil, fmt.Errorf(".replacement: %q is not one character", *m.Replacement)
		}
		ms := &metaspace{repl: *m.Replacement, prepend: prependAlways, splitWords: true}
		if m.PrependScheme != nil {
			switch *m.PrependScheme {
			case "always":
			case "first":
				ms.prepend = prependFirst
			case "never":
				ms.prepend = prependNever
			default:
				return nil, fmt.Errorf(".prepend_scheme: %q is not always, first or never", *m.PrependScheme)
			}
		}
		if m.AddPrefixSpace != nil && !*m.AddPrefixSpace {
			if m.PrependScheme != nil && ms.prepend != prependNever {
				return nil, errors.New(".add_prefix_space: false does not match prepend_scheme")
			}
			ms.prepend = prependNever
		}
		if m.Split != nil {
			ms.splitWords = *m.Split
		}
		return ms, nil
	case "ByteLevel":
		var m struct {
			AddPrefixSpace *bool `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
			// trim_offsets changes offsets only, which we do not return.
		}
		if err := decode(raw, &m); err != nil {
			return nil, err
		}
		p := &byteLevelPre{addPrefixSpace: true, useRegex: true}
		if m.AddPrefixSpace != nil {
			p.addPrefixSpace = *m.AddPrefixSpace
		}
		if m.UseRegex != nil {
			p.useRegex = *m.UseRegex
		}
		return p, nil
	case "Split":
		var m struct {
			Pattern *struct {
				String *string `json:"String"`
				Regex  *string `json:"Regex"`
			} `json:"pattern"`
			Behavior *string `json:"behavior"`
			Invert   *bool   `json:"invert"`
		}
		if err := decode(raw, &m); err != nil {
			return nil, err
		}
		if m.Behavior == nil {
			return nil, errors.New(".behavior: missing")
		}
		b, err := parseBehavior(*m.Behavior)
		if err != nil {
			return nil, fmt.Errorf(".behavior: %w", err)
		}
		if m.Invert == nil {
			return nil, errors.New(".invert: missing")
		}
		var pat splitPattern
		switch {
		case m.Pattern == nil:
			return nil, errors.New(".pattern: missing")
		case m.Pattern.String != nil:
			pat, err = newSplitPattern(*m.Pattern.String, true)
		case m.Pattern.Regex != nil:
			pat, err = newSplitPattern(*m.Pattern.Regex, false)
			if err != nil {
				return nil, fmt.Errorf(".pattern.Regex: %w", err)
			}
		default:
			return nil, errors.New(".pattern: neither String nor Regex")
		}
		if err != nil {
			return nil, fmt.Errorf(".pattern: %w", err)
		}
		return &splitPre{pattern: pat, b: b, invert: *m.Invert}, nil
	case "Sequence":
		var m struct {
			PreTokenizers *[]json.RawMessage `json:"pretokenizers"`
		}
		if err := decode(raw, &m); err != nil {
			return nil, err
		}
		if m.PreTokenizers == nil {
			return nil, errors.New(".pretokenizers: missing")
		}
		var seq seqPreTokenizer
		for i, r := range *m.PreTokenizers {
			p, err := parsePreTokenizer(r)
			if err != nil {
				return nil, fmt.Errorf(".pretokenizers[%d]%w", i, err)
			}
			if p != nil {
				seq = append(seq, p)
			}
		}
		return seq, nil
	}
	return nil, fmt.Errorf(".type: %q is not supported", typ)
}

func parseBehavior(s string) (behavior, error) {
	switch s {
	case "Removed":
		return removed, nil
	case "Isolated":
		return isolated, nil
	case "MergedWithPrevious":
		return mergedWithPrevious, nil
	case "MergedWithNext":
		return mergedWithNext, nil
	case "Contiguous":
		return contiguous, nil
	}
	return 0, fmt.Errorf("%q is not a split behaviour", s)
}

// tokenRef is a (token, id) pair as BertProcessing and RobertaProcessing
// store them: ["[SEP]", 102].
type tokenRef struct {
	tok string
	id  int32
}

func (r *tokenRef) UnmarshalJSON(b []byte) error {
	var a []json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil || len(a) != 2 {
		return fmt.Errorf("%s is not a [token, id] pair", abbrev(b))
	}
	if err := json.Unmarshal(a[0], &r.tok); err != nil {
		return fmt.Errorf("%s: token is not a string", abbrev(b))
	}
	if err := json.Unmarshal(a[1], &r.id); err != nil {
		return fmt.Errorf("%s: id is not an integer", abbrev(b))
	}
	return nil
}

func parsePostProcessor(raw json.RawMessage, t *Tokenizer) (*template, error) {
	typ, err := typed(raw)
	if err != nil {
		return nil, err
	}
	checkID := func(field string, id int32) error {
		if id < 0 || int(id) >= t.vocabSize {
			return fmt.Errorf(".%s: id %d is outside the vocabulary (size %d)", field, id, t.vocabSize)
		}
		return nil
	}
	switch typ {
	case "":
		return defaultTemplate(), nil
	case "ByteLevel":
		// It only trims offsets; the sequences are joined as without a
		// post-processor.
		return defaultTemplate(), nil
	case "BertProcessing", "RobertaProcessing":
		var m struct {
			Sep *tokenRef `json:"sep"`
			Cls *tokenRef `json:"cls"`
		}
		if err := decode(raw, &m); err != nil {
			return nil, err
		}
		if m.Sep == nil {
			return nil, errors.New(".sep: missing")
		}
		if m.Cls == nil {
			return nil, errors.New(".cls: missing")
		}
		if err := checkID("sep", m.Sep.id); err != nil {
			return nil, err
		}
		if err := checkID("cls", m.Cls.id); err != nil {
			return nil, err
		}
		if typ == "BertProcessing" {
			return bertTemplate(m.Cls.id, m.Sep.id), nil
		}
		return robertaTemplate(m.Cls.id, m.Sep.id), nil
	case "TemplateProcessing":
		var m struct {
			Single        json.RawMessage `json:"single"`
			Pair          json.RawMessage `json:"pair"`
			SpecialTokens map[string]struct {
				ID  string  `json:"id"`
				IDs []int32 `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := decode(raw, &m); err != nil {
			return nil, err
		}
		specials := map[string][]int32{}
		for k, s := range m.SpecialTokens {
			for _, id := range s.IDs {
				if err := checkID("special_tokens."+k+".ids", id); err != nil {
					return nil, err
				}
			}
			specials[k] = s.IDs
		}
		tp := &template{}
		if tp.single, err = parseTemplate(m.Single, specials, false); err != nil {
			return nil, fmt.Errorf(".single%w", err)
		}
		if tp.pair, err = parseTemplate(m.Pair, specials, true); err != nil {
			return nil, fmt.Errorf(".pair%w", err)
		}
		return tp, nil
	}
	return nil, fmt.Errorf(".type: %q is not supported", typ)
}

// parseTemplate reads a template as tokenizer.json stores it (a list of
// {"SpecialToken": {...}} and {"Sequence": {...}} pieces) or as its string
// form ("[CLS] $A [SEP] $B:1 [SEP]:1").
func parseTemplate(raw json.RawMessage, specials map[string][]int32, pair bool) ([]tplPiece, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New(": missing")
	}
	var pieces []tplPiece
	addSpecial := func(id string, typeID int32) error {
		ids, ok := specials[id]
		if !ok {
			return fmt.Errorf(": special token %q is not in special_tokens", id)
		}
		pieces = append(pieces, tplPiece{ids: ids, typeID: typeID})
		return nil
	}
	addSeq := func(id string, typeID int32) error {
		switch id {
		case "A":
			pieces = append(pieces, tplPiece{seq: 1, typeID: typeID})
		case "B":
			if !pair {
				return errors.New(": $B in a single-sequence template")
			}
			pieces = append(pieces, tplPiece{seq: 2, typeID: typeID})
		default:
			return fmt.Errorf(": sequence %q is not A or B", id)
		}
		return nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf(": %w", err)
		}
		for _, f := range strings.Fields(s) {
			name, typ := f, int32(0)
			if i := strings.LastIndexByte(f, ':'); i > 0 {
				n, err := strconv.Atoi(f[i+1:])
				if err == nil {
					name, typ = f[:i], int32(n)
				}
			}
			var err error
			switch {
			case name == "$" || name == "$A" || name == "$a" || name == "$0":
				err = addSeq("A", typ)
			case name == "$B" || name == "$b" || name == "$1":
				err = addSeq("B", typ)
			case strings.HasPrefix(name, "$"):
				if n, e := strconv.Atoi(name[1:]); e == nil {
					typ = int32(n)
					err = addSeq("A", typ)
				} else {
					err = fmt.Errorf(": %q is not a sequence", name)
				}
			default:
				err = addSpecial(name, typ)
			}
			if err != nil {
				return nil, err
			}
		}
		return pieces, nil
	}
	var list []struct {
		SpecialToken *struct {
			ID     string `json:"id"`
			TypeID int32  `json:"type_id"`
		} `json:"SpecialToken"`
		Sequence *struct {
			ID     string `json:"id"`
			TypeID int32  `json:"type_id"`
		} `json:"Sequence"`
	}
	if err := decode(raw, &list); err != nil {
		return nil, err
	}
	for i, p := range list {
		var err error
		switch {
		case p.SpecialToken != nil:
			err = addSpecial(p.SpecialToken.ID, p.SpecialToken.TypeID)
		case p.Sequence != nil:
			err = addSeq(p.Sequence.ID, p.Sequence.TypeID)
		default:
			err = errors.New(": neither SpecialToken nor Sequence")
		}
		if err != nil {
			return nil, fmt.Errorf("[%d]%w", i, err)
		}
	}
	return pieces, nil
}

// hasFirstScheme says whether a Metaspace in pre prepends only at the start
// of the text.
func hasFirstScheme(pre preTokenizer) bool {
	switch v := pre.(type) {
	case *metaspace:
		return v.prepend == prependFirst
	case seqPreTokenizer:
		for _, p := range v {
			if hasFirstScheme(p) {
				return true
			}
		}
	}
	return false
}
