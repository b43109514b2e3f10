// Package tokenizer turns text into the token ids a re-ranker was trained
// on, exactly as the Hugging Face tokenizers library (the Rust library behind
// transformers' fast tokenizers) does for BERT WordPiece, XLM-RoBERTa
// SentencePiece Unigram and byte-level BPE (GPT-2, Qwen2/Qwen3, ModernBERT)
// checkpoints.
//
// A Tokenizer is read from a checkpoint folder with Load (tokenizer.json, or
// vocab.txt plus tokenizer_config.json for older BERT checkpoints) or from a
// tokenizer.json stream with FromJSON. It runs the same pipeline as
// tokenizers: added and special tokens are cut out of the raw text first, the
// rest is normalised (BertNormalizer, SentencePiece's Precompiled charsmap,
// NFC/NFD/NFKC/NFKD, Replace, Strip, Lowercase, Sequence), pre-tokenised
// (BertPreTokenizer, Metaspace, WhitespaceSplit, Whitespace, Punctuation,
// Digits, Split, ByteLevel, Sequence), split into pieces by the model
// (WordPiece, Unigram or BPE), and framed by the post-processor
// (TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel) with
// token type ids. Decode turns ids back into text for tokenizers with the
// ByteLevel decoder (or none).
//
// Byte-level BPE: the BPE model merges pairs by rank (merges in either
// tokenizer.json form), with byte_fallback, unk_token, fuse_unk,
// ignore_merges, continuing_subword_prefix and end_of_word_suffix; dropout
// is refused (it samples). The Split patterns of GPT-2 (ByteLevel's own
// regex), Qwen2/Qwen3 and Llama 3 look ahead (\s+(?!\S)), which Go's regexp
// cannot, so they are matched by hand with Oniguruma's Unicode classes
// (hf_unicode.go); other Split patterns run on Go's regexp with \s, \p{L}
// and \p{N} rewritten as Oniguruma's classes. Look-around, \d \w \b
// (Unicode in Oniguruma, ASCII in Go) and \pN without braces (literal text
// in Oniguruma) are refused with an error naming the pattern. Merged words
// are cached (10,000 words under 256 bytes, as tokenizers does).
//
// For a decoder re-ranker (Qwen3-Reranker), Tokenize encodes prompt pieces
// without a template while still matching added tokens such as
// <|im_start|>, TokenID looks up a token ("yes", "no"), Truncation.Side
// cuts from the left or the right, NewEncoding wraps assembled ids and
// PadSide pads on the left (see the qwen3Prompt example).
//
// Load and FromJSON differ on purpose. FromJSON reads tokenizer.json as
// the Rust library does. Load reads the checkpoint as transformers does:
// for BERT, XLM-R and Qwen2/Qwen3 (tokenizer_class in
// tokenizer_config.json, else model_type in config.json) transformers keeps
// only the vocabulary (and merges) and added tokens of tokenizer.json and
// rebuilds the normaliser, pre-tokenizer and (BERT, XLM-R) templates from
// tokenizer_config.json, so a cased config beside a lowercasing
// tokenizer.json encodes cased (see transformers.go).
//
// The truncation and padding sections of a tokenizer.json are ignored, as
// transformers ignores them (it sets its own on every call): lengths are
// given per call with Truncation, and Pad pads a batch.
//
// Pairs are truncated in the model's own tokens: EncodePair follows HF's
// longest_first, only_first and only_second exactly, and adds a query budget
// (the query keeps at most a fixed number of tokens, the document gets the
// rest). Every Encoding says how many tokens each side lost, so callers can
// tell a user that a document was cut.
//
// A re-ranker encodes one query against many documents: EncodeQuery does the
// query's work once and EncodePairWithQuery reuses it. Encoding does not
// allocate per token; all scratch space is pooled, and a Tokenizer is safe
// for concurrent use.
//
// Why not github.com/nlpodyssey/gotokenizers: the design named it, and we
// read it before writing this package. Nothing of it is used, for these
// reasons. It has no tokenizer.json loader, no Unigram model, no Precompiled
// normaliser, no post-processors, truncation, pairs or padding, so the
// XLM-R pipeline and everything after the model would be ours anyway. Of the
// parts it has, its BertNormalizer does not strip accents (a TODO upstream),
// which changes ids for every accented word of an uncased BERT. Its
// WordPiece and pre-tokenizers work on its NormalizedString, which keeps a
// per-byte alignment slice and builds a new string for every candidate
// sub-word ("##" + piece), that is several allocations per token; the speed
// goal (at least the Rust library's tokens per second per core) rules that
// out. What remained (a whitespace/punctuation split and a greedy longest
// match) is a few dozen lines here, done with a double-array trie instead.
// Its ByteLevel pre-tokenizer (read for the byte-level BPE) differs from
// tokenizers': it compiles GPT-2's regex case-insensitively (so "'S" is a
// contraction, which in GPT-2 it is not), prepends the space unless the
// text starts with any Unicode whitespace (tokenizers: unless it starts
// with ' '), and runs the look-ahead on github.com/dlclark/regexp2, a
// backtracking engine with .NET's semantics and its own Unicode tables;
// it has no Split pre-tokenizer for Qwen2's pattern and no tokenizer.json
// loader. The splitters here are written by hand from the patterns.
//
// Unicode: normalisation forms come from golang.org/x/text/unicode/norm,
// grapheme clusters (which the Precompiled normaliser works on) from
// github.com/rivo/uniseg, character classes from the standard library and,
// where tokenizers' own differ, from hf_unicode.go, read off the library
// itself (testdata/gen_unicode.py): BertNormalizer's and
// BertPreTokenizer's classes, and the Split patterns' \p{L} \p{N} \s, which
// come from Oniguruma's Unicode 16 (Go's unicode is 15: about 4,900 letters
// fewer). The normal forms are x/text's except for the characters tokenizers'
// older normalisation tables do not know (111 combining marks and the like,
// hfInertCanonical), which stay in place there and here. The golden tests
// over the multilingual corpus and the random Unicode strings show where
// the rest could matter (nowhere, so far).
//
// Invalid UTF-8 is an error: Python strings cannot hold it, so there is no
// Hugging Face behaviour to reproduce, and silently replacing bytes would
// score a different text than the caller sent.
package tokenizer
