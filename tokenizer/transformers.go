package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// transformers (v5) does not take a BERT or XLM-R tokenizer.json whole: its
// BertTokenizer and XLMRobertaTokenizer classes keep the vocabulary and the
// added tokens and rebuild the rest from tokenizer_config.json
// (models/bert/tokenization_bert.py, models/xlm_roberta/
// tokenization_xlm_roberta.py). A checkpoint whose two files disagree, a
// cased config beside a lowercasing tokenizer.json say, is encoded by the
// config. Load does the same, so its ids are the ones the model was used
// with; FromJSON keeps the Rust library's reading of the file alone.

// tokenizerClass is the transformers class that loads dir: the config's
// tokenizer_class without "Fast", else the one config.json's model_type
// implies.
func tokenizerClass(cfg *tokenizerConfig, dir string) string {
	if cfg != nil && cfg.TokenizerClass != "" {
		return strings.TrimSuffix(cfg.TokenizerClass, "Fast")
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return ""
	}
	var mc struct {
		ModelType string `json:"model_type"`
	}
	if json.Unmarshal(b, &mc) != nil {
		return ""
	}
	// model_type -> tokenizer class, from transformers' tokenization_auto.py,
	// for the types whose class we rebuild.
	switch mc.ModelType {
	case "bert", "distilbert", "convbert", "megatron-bert", "nomic_bert", "electra", "layoutlm":
		return "BertTokenizer"
	case "xlm-roberta":
		return "XLMRobertaTokenizer"
	case "qwen2", "qwen2_moe", "qwen3", "qwen3_moe":
		return "Qwen2Tokenizer"
	}
	return ""
}

func rebuildLikeTransformers(p *jsonParts, cfg *tokenizerConfig, dir string) error {
	if cfg == nil {
		cfg = &tokenizerConfig{}
	}
	name := func(f *tokenField, def string) string {
		if f == nil || f.s == "" {
			return def
		}
		return f.s
	}
	switch tokenizerClass(cfg, dir) {
	// BertTokenizer and the classes that are it or inherit its __init__.
	case "BertTokenizer", "DistilBertTokenizer", "MobileBertTokenizer", "SqueezeBertTokenizer",
		"ConvBertTokenizer", "DPRContextEncoderTokenizer", "DPRQuestionEncoderTokenizer":
		wp, ok := p.model.(*wordPiece)
		if !ok {
			return errors.New("tokenizer_config.json says BertTokenizer but the model is not WordPiece")
		}
		lower := cfg.DoLowerCase == nil || *cfg.DoLowerCase
		b := &bertNormalizer{cleanText: true, chineseChars: cfg.TokenizeChineseChar == nil || *cfg.TokenizeChineseChar,
			lowercase: lower, stripAccents: lower}
		if cfg.StripAccents != nil {
			b.stripAccents = *cfg.StripAccents
		}
		p.normalizer = b
		p.pre = bertPreTokenizer{}
		m, err := newWordPiece(wp.vocab, name(cfg.UnkToken, "[UNK]"), "##", 100)
		if err != nil {
			return err
		}
		p.model = m
		p.added = withConfigTokens(p.added, cfg, p.model)
		cls, sep := name(cfg.ClsToken, "[CLS]"), name(cfg.SepToken, "[SEP]")
		p.post = func(t *Tokenizer) (*template, error) {
			// transformers falls back to 2 and 3 when the tokens are missing.
			clsID, ok := t.tokenID(cls)
			if !ok {
				clsID = 2
			}
			sepID, ok := t.tokenID(sep)
			if !ok {
				sepID = 3
			}
			return bertTemplate(clsID, sepID), nil
		}
	case "XLMRobertaTokenizer":
		u, ok := p.model.(*unigram)
		if !ok {
			return errors.New("tokenizer_config.json says XLMRobertaTokenizer but the model is not Unigram")
		}
		// Only the Precompiled charsmap survives of the normaliser.
		p.normalizer = firstPrecompiled(p.normalizer)
		prepend := prependAlways
		if cfg.AddPrefixSpace != nil && !*cfg.AddPrefixSpace {
			prepend = prependNever
		}
		p.pre = seqPreTokenizer{whitespaceSplit{}, &metaspace{repl: "▁", prepend: prepend, splitWords: true}}
		// unk_id is fixed at 3 and byte fallback off.
		unk := int32(3)
		if len(u.pieces) <= 3 {
			return fmt.Errorf("XLMRobertaTokenizer needs unk_id 3, the vocabulary has %d pieces", len(u.pieces))
		}
		m, err := newUnigram(u.pieces, u.scores, unk, false)
		if err != nil {
			return err
		}
		p.model = m
		p.added = withConfigTokens(p.added, cfg, p.model)
		bos, eos := name(cfg.BosToken, "<s>"), name(cfg.EosToken, "</s>")
		p.post = func(t *Tokenizer) (*template, error) {
			bosID, ok1 := t.tokenID(bos)
			eosID, ok2 := t.tokenID(eos)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf(": bos %q or eos %q is not in the vocabulary", bos, eos)
			}
			return robertaTemplate(bosID, eosID), nil
		}
	case "Qwen2Tokenizer":
		// models/qwen2/tokenization_qwen2.py: the vocabulary and merges of
		// tokenizer.json in a BPE without unk or byte fallback, NFC, Qwen2's
		// Split and a ByteLevel without its regex (add_prefix_space from the
		// config, false by default), the ByteLevel decoder; the
		// post-processor and added tokens of tokenizer.json stay.
		b, ok := p.model.(*bpe)
		if !ok {
			return errors.New("tokenizer_config.json says Qwen2Tokenizer but the model is not BPE")
		}
		if b.prefix != "" {
			return fmt.Errorf("Qwen2Tokenizer with continuing_subword_prefix %q in tokenizer.json is not supported", b.prefix)
		}
		p.model = b.qwen2()
		p.normalizer = unicodeNormalizer{norm.NFC}
		prefix := cfg.AddPrefixSpace != nil && *cfg.AddPrefixSpace
		p.pre = seqPreTokenizer{&splitPre{pattern: handPatterns[qwen2Regex], b: isolated},
			&byteLevelPre{addPrefixSpace: prefix, useRegex: false}}
		p.decoder, p.decoderName = decodeByteLevel, "ByteLevel"
		p.added = withConfigTokens(p.added, cfg, p.model)
	}
	return nil
}

// qwen2 is m as Qwen2Tokenizer builds it from the same vocabulary and
// merges: no unk, no byte fallback, no end-of-word suffix, merges applied.
func (m *bpe) qwen2() *bpe {
	c := *m
	c.unk, c.unkName, c.fuseUnk, c.byteFallback, c.ignoreMerges, c.suffix = -1, "", false, false, false, ""
	if m.suffix != "" {
		// The suffix was part of no character key; the table is empty.
		for tok, id := range c.vocab {
			if r, n := utf8.DecodeRuneInString(tok); n == len(tok) && r < rune(len(c.charID)) && r != utf8.RuneError {
				c.charID[r] = id
			}
		}
	}
	c.cache = newBPECache()
	return &c
}

// firstPrecompiled finds the Precompiled normaliser in n (alone or in a
// Sequence).
func firstPrecompiled(n normalizer) normalizer {
	switch v := n.(type) {
	case *precompiled:
		return v
	case seqNormalizer:
		for _, m := range v {
			if p := firstPrecompiled(m); p != nil {
				return p
			}
		}
	}
	return nil
}

// withConfigTokens applies tokenizer_config.json's added_tokens_decoder
// over tokenizer.json's added tokens and adds its named special tokens that
// are missing, as special, unnormalised tokens with their vocabulary ids.
func withConfigTokens(added []addedToken, cfg *tokenizerConfig, m model) []addedToken {
	out := append([]addedToken(nil), added...)
	has := func(content string) int {
		for i, a := range out {
			if a.Content == content {
				return i
			}
		}
		return -1
	}
	for key, td := range cfg.AddedTokensDecoder {
		var id int32
		if _, err := fmt.Sscan(key, &id); err != nil || td.Content == "" {
			continue
		}
		at := addedToken{ID: id, Content: td.Content, SingleWord: td.SingleWord, LStrip: td.LStrip, RStrip: td.RStrip, Special: td.Special}
		at.Normalized = !td.Special
		if td.Normalized != nil {
			at.Normalized = *td.Normalized
		}
		if i := has(td.Content); i >= 0 {
			out[i] = at
		} else {
			out = append(out, at)
		}
	}
	for _, f := range []*tokenField{cfg.BosToken, cfg.EosToken, cfg.UnkToken, cfg.SepToken, cfg.PadToken, cfg.ClsToken, cfg.MaskToken} {
		if f == nil || f.s == "" || has(f.s) >= 0 {
			continue
		}
		if id, ok := m.tokenID(f.s); ok {
			out = append(out, addedToken{ID: id, Content: f.s, Special: true})
		}
	}
	return out
}
