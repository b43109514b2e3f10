package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Form is the request schema a client speaks. Each peer's clients send their
// own JSON; the server answers each in its own response and error shapes.
type Form int

const (
	// FormInfinity is infinity's POST /rerank (Cohere v1-like), the form the
	// seed's rerank_remote sends: {query, documents, model, top_n,
	// return_documents, raw_scores}.
	FormInfinity Form = iota
	// FormTEI is text-embeddings-inference's POST /rerank: {query, texts,
	// truncate, truncation_direction, raw_scores, return_text}.
	FormTEI
	// FormJina is Jina's POST /v1/rerank (also llama.cpp's): {model, query,
	// documents (strings or {text}), top_n, return_documents}.
	FormJina
	// FormCohere is Cohere's POST /v2/rerank: {model, query, documents,
	// top_n, max_tokens_per_doc}.
	FormCohere
	// FormWeaviate is what Weaviate's reranker-transformers module sends to
	// its inference container, POST /weaviate/rerank: {query, documents,
	// property}, answered with {query, scores: [{document, score}]} in
	// document order.
	FormWeaviate
	// FormOIP is the Open Inference Protocol v2 (KServe, Triton), POST
	// /v2/models/{name}/infer: BYTES tensors `query` [1] and `documents`
	// [N] in, FP32 `scores` [N] (document order) and INT64 `indices`
	// (best first) out.
	FormOIP
)

func (f Form) String() string {
	switch f {
	case FormInfinity:
		return "infinity"
	case FormTEI:
		return "tei"
	case FormJina:
		return "jina"
	case FormCohere:
		return "cohere"
	case FormWeaviate:
		return "weaviate"
	case FormOIP:
		return "oip"
	}
	return fmt.Sprintf("Form(%d)", int(f))
}

// endpoint is a route that accepts rank requests. /rerank carries two forms,
// told apart by their document field (documents vs texts).
type endpoint int

const (
	epRerank   endpoint = iota // /rerank: infinity or TEI
	epJina                     // /v1/rerank
	epCohere                   // /v2/rerank
	epWeaviate                 // /weaviate/rerank
	epOIP                      // /v2/models/{name}/infer
	numEndpoints
)

// defaultModelName is what infinity's schema fills in when a client sends no
// model; it means "the server's default model".
const defaultModelName = "default/not-specified"

// rankRequest is a request in any form, decoded and checked.
type rankRequest struct {
	Form  Form
	Model string // "" means the default model
	Query string
	Docs  []string
	// TopN, if > 0, keeps the best TopN results.
	TopN int
	// ReturnDocs puts each document's text in its result.
	ReturnDocs bool
	// RawScores returns the ranking logit instead of the activated score.
	RawScores bool
	// NoTruncate refuses documents that do not fit (TEI's truncate=false).
	NoTruncate bool
	// MaxTokensPerDoc, if > 0, cuts every document to that many tokens
	// (Cohere's max_tokens_per_doc).
	MaxTokensPerDoc int
	// Single is Weaviate's one-pair form: {query, property} without
	// documents, answered with one score.
	Single bool
	// ID is the request id an OIP client sent, echoed in the answer.
	ID string
	// Outputs are the OIP outputs asked for by name; nil means all.
	Outputs []string
	// Instruction, if not "", is the task a decoder re-ranker
	// (Qwen3-Reranker) is told in its prompt; crossrank's field, in every
	// form.
	Instruction string
}

// Limits bound what one request may carry. Zero fields take the defaults
// of DefaultLimits.
type Limits struct {
	// MaxBodyBytes bounds the request body; more is 413.
	MaxBodyBytes int64
	// MaxDocuments bounds the documents of one request; more is 422.
	MaxDocuments int
	// MaxDocumentBytes bounds one document (and the query) in UTF-8 bytes;
	// more is 422. No tokenizer we load makes a token of less than one
	// byte, so this also bounds the tokens a document can cost before
	// truncation.
	MaxDocumentBytes int
}

// DefaultLimits are the limits of a server whose Config leaves them zero.
// 1000 documents is Cohere's recommended maximum; 128 KiB per document is
// about infinity's per-string limit (8192*15 characters).
var DefaultLimits = Limits{
	MaxBodyBytes:     16 << 20,
	MaxDocuments:     1000,
	MaxDocumentBytes: 128 << 10,
}

func (l Limits) withDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultLimits.MaxBodyBytes
	}
	if l.MaxDocuments <= 0 {
		l.MaxDocuments = DefaultLimits.MaxDocuments
	}
	if l.MaxDocumentBytes <= 0 {
		l.MaxDocumentBytes = DefaultLimits.MaxDocumentBytes
	}
	return l
}

// decodeRequest parses and checks one request body sent to ep. Every
// failure is an *apiError with a 4xx status and a message naming the field.
// decodeObject decodes a request body that must be one JSON object, in
// valid UTF-8, into its fields.
func decodeObject(form Form, body []byte) (map[string]json.RawMessage, *apiError) {
	if !utf8.Valid(body) {
		// encoding/json would silently turn bad bytes into U+FFFD and we
		// would score text the client never sent.
		return nil, badRequest(form, "request body is not valid UTF-8")
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil {
		var ute *json.UnmarshalTypeError
		if asErr(err, &ute) {
			return nil, invalid(form, "request body must be a JSON object, got %s", ute.Value)
		}
		return nil, badRequest(form, "request body is not valid JSON: %v", err)
	}
	if fields == nil {
		return nil, invalid(form, "request body must be a JSON object, got null")
	}
	if dec.More() {
		return nil, badRequest(form, "request body has data after its JSON object")
	}
	return fields, nil
}

// Unknown fields are ignored, as infinity (pydantic) and TEI (serde) do, so
// that newer clients keep working; known fields must have their type.
func decodeRequest(ep endpoint, body []byte, lim Limits) (*rankRequest, *apiError) {
	if ep == epOIP {
		return decodeOIP(body, lim)
	}
	form := formOf(ep)
	if ep == epRerank && bytes.Contains(body, []byte(`"texts"`)) && !bytes.Contains(body, []byte(`"documents"`)) {
		// Until the body is decoded this is a guess, but it lets a
		// text-embeddings-inference client whose body is broken read the
		// error in the shape it expects.
		form = FormTEI
	}
	fields, aerr := decodeObject(form, body)
	if aerr != nil {
		return nil, aerr
	}
	if ep == epRerank {
		_, hasTexts := present(fields, "texts")
		_, hasDocs := present(fields, "documents")
		switch {
		case hasTexts && hasDocs:
			return nil, invalid(form, "send either `documents` (infinity form) or `texts` (text-embeddings-inference form), not both")
		case hasTexts:
			form = FormTEI
		default:
			form = FormInfinity // the guess above was wrong
		}
	}
	r := &rankRequest{Form: form}
	d := fieldDecoder{form: form, fields: fields}

	r.Query = d.str("query", true)
	r.Instruction, _ = d.strOpt("instruction")
	switch form {
	case FormWeaviate:
		// The module always sends documents (and an empty property); the
		// container it was written for also scores one {query, property}.
		if _, ok := present(fields, "documents"); ok {
			r.Docs = d.texts("documents", false)
			d.strOpt("property")
		} else if p, ok := d.strOpt("property"); ok {
			r.Docs, r.Single = []string{p}, true
		} else if d.err == nil {
			d.fail(invalid(form, "`documents` is required"))
		}
	case FormTEI:
		r.Docs = d.texts("texts", false)
		if t, ok := d.boolean("truncate"); ok {
			r.NoTruncate = !t
		}
		if dir, ok := d.strOpt("truncation_direction"); ok {
			switch dir {
			case "right", "Right":
			case "left", "Left":
				d.fail(invalid(form, "`truncation_direction` %q is not supported: crossrank truncates pairs the way sentence-transformers does, at the end", dir))
			default:
				d.fail(invalid(form, "`truncation_direction` must be \"right\" or \"left\", got %q", dir))
			}
		}
		r.RawScores, _ = d.boolean("raw_scores")
		r.ReturnDocs, _ = d.boolean("return_text")
	default:
		r.Docs = d.texts("documents", form == FormJina || form == FormCohere)
		r.Model, _ = d.strOpt("model")
		if r.Model == defaultModelName {
			r.Model = ""
		}
		r.TopN = d.positiveInt("top_n")
		switch form {
		case FormInfinity:
			r.ReturnDocs, _ = d.boolean("return_documents")
			r.RawScores, _ = d.boolean("raw_scores")
		case FormJina:
			// Jina returns the documents unless told not to.
			r.ReturnDocs = true
			if v, ok := d.boolean("return_documents"); ok {
				r.ReturnDocs = v
			}
		case FormCohere:
			// Cohere v2 dropped return_documents; v1 clients still send it.
			r.ReturnDocs, _ = d.boolean("return_documents")
			r.MaxTokensPerDoc = d.positiveInt("max_tokens_per_doc")
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	docField := "documents"
	if form == FormTEI {
		docField = "texts"
	}
	if aerr := checkRequest(r, lim, docField); aerr != nil {
		return nil, aerr
	}
	return r, nil
}

// checkRequest applies the checks across fields, after the types are right,
// that every form shares: a query, documents within the limits, no NUL.
func checkRequest(r *rankRequest, lim Limits, docField string) *apiError {
	form := r.Form
	if strings.TrimSpace(r.Query) == "" {
		return invalid(form, "`query` must not be empty")
	}
	if len(r.Query) > lim.MaxDocumentBytes {
		return invalid(form, "`query` is %d bytes, more than the limit of %d", len(r.Query), lim.MaxDocumentBytes)
	}
	if strings.IndexByte(r.Query, 0) >= 0 {
		return invalid(form, "`query` contains a NUL character")
	}
	if len(r.Instruction) > lim.MaxDocumentBytes {
		return invalid(form, "`instruction` is %d bytes, more than the limit of %d", len(r.Instruction), lim.MaxDocumentBytes)
	}
	if strings.IndexByte(r.Instruction, 0) >= 0 {
		return invalid(form, "`instruction` contains a NUL character")
	}
	if len(r.Docs) == 0 {
		return invalid(form, "`%s` must not be empty", docField)
	}
	if len(r.Docs) > lim.MaxDocuments {
		return invalid(form, "`%s` has %d entries, more than the limit of %d per request; split the request", docField, len(r.Docs), lim.MaxDocuments)
	}
	for i, t := range r.Docs {
		if len(t) > lim.MaxDocumentBytes {
			return invalid(form, "`%s[%d]` is %d bytes, more than the limit of %d per document", docField, i, len(t), lim.MaxDocumentBytes)
		}
		if strings.IndexByte(t, 0) >= 0 {
			return invalid(form, "`%s[%d]` contains a NUL character", docField, i)
		}
	}
	return nil
}

func formOf(ep endpoint) Form {
	switch ep {
	case epJina:
		return FormJina
	case epCohere:
		return FormCohere
	case epWeaviate:
		return FormWeaviate
	case epOIP:
		return FormOIP
	}
	return FormInfinity
}

// present reports a field that is there and not null (pydantic and serde
// treat an explicit null in an optional field as absent).
func present(fields map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	raw, ok := fields[name]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return nil, false
	}
	return raw, true
}

// fieldDecoder decodes typed fields and keeps the first error.
type fieldDecoder struct {
	form   Form
	fields map[string]json.RawMessage
	err    *apiError
}

func (d *fieldDecoder) fail(e *apiError) {
	if d.err == nil {
		d.err = e
	}
}

func (d *fieldDecoder) wrongType(name, want string, raw json.RawMessage) {
	d.fail(invalid(d.form, "`%s` must be %s, got %s", name, want, jsonKind(raw)))
}

func (d *fieldDecoder) str(name string, required bool) string {
	s, ok := d.strOpt(name)
	if !ok && required {
		d.fail(invalid(d.form, "`%s` is required", name))
	}
	return s
}

func (d *fieldDecoder) strOpt(name string) (string, bool) {
	raw, ok := present(d.fields, name)
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.wrongType(name, "a string", raw)
		return "", false
	}
	return s, true
}

func (d *fieldDecoder) boolean(name string) (bool, bool) {
	raw, ok := present(d.fields, name)
	if !ok {
		return false, false
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		d.wrongType(name, "true or false", raw)
		return false, false
	}
	return b, true
}

// positiveInt decodes an optional integer > 0; absent is 0. Infinity and
// Cohere refuse top_n < 1 (pydantic gt=0), so do we.
func (d *fieldDecoder) positiveInt(name string) int {
	raw, ok := present(d.fields, name)
	if !ok {
		return 0
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil || jsonKind(raw) != "a number" {
		d.wrongType(name, "an integer", raw)
		return 0
	}
	v, err := n.Int64()
	if err != nil {
		d.fail(invalid(d.form, "`%s` must be an integer, got %s", name, n))
		return 0
	}
	if v < 1 {
		d.fail(invalid(d.form, "`%s` must be at least 1, got %d", name, v))
		return 0
	}
	const maxInt = 1 << 31 // far above any limit; keeps int conversions safe
	if v > maxInt {
		v = maxInt
	}
	return int(v)
}

// texts decodes the document list: strings, or (where objects is set, for
// Jina and Cohere) objects with a "text" string.
func (d *fieldDecoder) texts(name string, objects bool) []string {
	raw, ok := present(d.fields, name)
	if !ok {
		d.fail(invalid(d.form, "`%s` is required", name))
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		d.wrongType(name, "a list of strings", raw)
		return nil
	}
	out := make([]string, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it, &out[i]); err == nil && jsonKind(it) == "a string" {
			continue
		}
		if objects {
			var obj map[string]json.RawMessage
			if json.Unmarshal(it, &obj) == nil && obj != nil {
				t, ok := present(obj, "text")
				if ok && json.Unmarshal(t, &out[i]) == nil && jsonKind(t) == "a string" {
					continue
				}
				d.fail(invalid(d.form, "`%s[%d]` must be a string or an object with a string `text`", name, i))
				return nil
			}
			d.fail(invalid(d.form, "`%s[%d]` must be a string or an object with a string `text`, got %s", name, i, jsonKind(it)))
			return nil
		}
		d.fail(invalid(d.form, "`%s[%d]` must be a string, got %s", name, i, jsonKind(it)))
		return nil
	}
	return out
}

// jsonKind names the JSON type of raw for an error message.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
