package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// decoderKind is tokenizer.json's decoder, as far as Decode supports it.
type decoderKind int

const (
	decodeJoin      decoderKind = iota // no decoder: tokens joined by spaces
	decodeByteLevel                    // ByteLevel: bytes back from their characters
	decodeOther                        // a decoder Decode does not implement
)

func parseDecoder(raw json.RawMessage) (decoderKind, string, error) {
	typ, err := typed(raw)
	if err != nil {
		return 0, "", err
	}
	switch typ {
	case "":
		return decodeJoin, "", nil
	case "ByteLevel":
		return decodeByteLevel, typ, nil
	}
	return decodeOther, typ, nil
}

// Decode turns ids back into text as tokenizers' decode does: each id
// becomes its token (added tokens first, then the model's vocabulary),
// special tokens are left out when skipSpecial is set, and the decoder
// joins them. It supports the ByteLevel decoder (byte-level BPE: GPT-2,
// Qwen, ModernBERT) and tokenizer.json files without a decoder (tokens
// joined by spaces); other decoders are an error. Invalid UTF-8 from
// partial characters becomes U+FFFD as in tokenizers. An id outside the
// vocabulary is an error (tokenizers skips it silently).
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool) (string, error) {
	if t.decoder == decodeOther {
		return "", fmt.Errorf("tokenizer: Decode: the %s decoder is not supported (ByteLevel or none)", t.decoderName)
	}
	var sb strings.Builder
	var raw []byte
	n := 0
	for _, id := range ids {
		tok, ok := t.idToken(id)
		if !ok {
			return "", fmt.Errorf("tokenizer: Decode: id %d is not in the vocabulary", id)
		}
		if skipSpecial && t.specials[tok] {
			continue
		}
		switch t.decoder {
		case decodeByteLevel:
			raw = byteLevelDecode(raw, tok)
		default:
			if n > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(tok)
		}
		n++
	}
	if t.decoder == decodeByteLevel {
		return string(appendLossy(nil, raw)), nil
	}
	return sb.String(), nil
}

// idToken is the token of id: an added token, else the model's.
func (t *Tokenizer) idToken(id int32) (string, bool) {
	if tok, ok := t.addedByID[id]; ok {
		return tok, true
	}
	return t.model.idToken(id)
}

// TokenID is the id of a token: an added or special token by its content
// ("<|im_end|>", "[SEP]"), else a token of the model's vocabulary as the
// vocabulary spells it (byte-level BPE writes a leading space as "Ġ": the
// id of " yes" is TokenID("Ġyes")). It is transformers'
// convert_tokens_to_ids for one token.
func (t *Tokenizer) TokenID(tok string) (int32, bool) { return t.tokenID(tok) }

// Token is the token of an id (TokenID's inverse): an added token's
// content or the model's token.
func (t *Tokenizer) Token(id int32) (string, error) {
	tok, ok := t.idToken(id)
	if !ok {
		return "", errors.New("tokenizer: Token: id " + fmt.Sprint(id) + " is not in the vocabulary")
	}
	return tok, nil
}
