// Package tokenizer turns text into the token ids a cross-encoder was trained
// on, exactly as the Hugging Face tokenizers library (the Rust library behind
// transformers' fast tokenizers) does for BERT WordPiece and XLM-RoBERTa
// SentencePiece Unigram checkpoints.
//
// A Tokenizer is read from a checkpoint folder with Load (tokenizer.json, or
// vocab.txt plus tokenizer_config.json for older BERT checkpoints) or from a
// tokenizer.json stream with FromJSON. It runs the same pipeline as
// tokenizers: added and special tokens are cut out of the raw text first, the
// rest is normalised (BertNormalizer, SentencePiece's Precompiled charsmap,
// NFC/NFD/NFKC/NFKD, Replace, Strip, Lowercase, Sequence), pre-tokenised
// (BertPreTokenizer, Metaspace, WhitespaceSplit, Whitespace, Punctuation,
// Sequence), split into pieces by the model (WordPiece or Unigram), and framed
// by the post-processor (TemplateProcessing, BertProcessing,
// RobertaProcessing) with token type ids.
//
// Load and FromJSON differ on purpose. FromJSON reads tokenizer.json as
// the Rust library does. Load reads the checkpoint as transformers does:
// for BERT and XLM-R (tokenizer_class in tokenizer_config.json, else
// model_type in config.json) transformers keeps only the vocabulary and
// added tokens of tokenizer.json and rebuilds the normaliser,
// pre-tokenizer and templates from tokenizer_config.json, so a cased
// config beside a lowercasing tokenizer.json encodes cased (see
// transformers.go).
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
//
// Unicode: normalisation forms come from golang.org/x/text/unicode/norm,
// grapheme clusters (which the Precompiled normaliser works on) from
// github.com/rivo/uniseg, character classes from the standard library. The
// Rust library uses its own Unicode tables, so a character assigned in a
// recent Unicode version may be classified differently; the golden tests
// over the multilingual corpus show where that matters (nowhere, so far).
//
// Invalid UTF-8 is an error: Python strings cannot hold it, so there is no
// Hugging Face behaviour to reproduce, and silently replacing bytes would
// score a different text than the caller sent.
package tokenizer
