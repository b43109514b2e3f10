package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/crossrank/crossrank/rerank"
)

// The Open Inference Protocol v2 (KServe's "V2", Triton's HTTP API), as a
// re-ranker speaks it here:
//
//	POST /v2/models/{name}/infer
//	{"id": "1", "parameters": {"top_n": 3, "raw_scores": false},
//	 "inputs": [{"name": "query", "datatype": "BYTES", "shape": [1], "data": ["..."]},
//	            {"name": "documents", "datatype": "BYTES", "shape": [N], "data": ["...", ...]}],
//	 "outputs": [{"name": "scores"}]}                    (outputs optional)
//	-> {"model_name", "id", "parameters": {"tokens", "truncated_documents"},
//	    "outputs": [{"name": "scores", "datatype": "FP32", "shape": [N], "data": [...]},
//	                {"name": "indices", "datatype": "INT64", "shape": [K], "data": [...]}]}
//
// scores[i] is document i's score (the tensor keeps the input's order);
// indices lists documents best first, cut to top_n when it is given. Data
// may be flat or nested as the shape is (the protocol allows both); the
// binary tensor extension is not supported.

// OIP input and output names, and the protocol's datatypes we use.
const (
	oipQuery     = "query"
	oipDocuments = "documents"
	oipScores    = "scores"
	oipIndices   = "indices"
	oipBytes     = "BYTES"
)

// oipMaxDims bounds a tensor's rank: far above what [1] and [N] need, and
// it bounds the recursion when nested data is flattened.
const oipMaxDims = 8

// decodeOIP parses and checks an inference request.
func decodeOIP(body []byte, lim Limits) (*rankRequest, *apiError) {
	const form = FormOIP
	if !utf8.Valid(body) {
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
	r := &rankRequest{Form: form}
	d := fieldDecoder{form: form, fields: fields}
	r.ID, _ = d.strOpt("id")
	if raw, ok := present(fields, "parameters"); ok {
		var params map[string]json.RawMessage
		if json.Unmarshal(raw, &params) != nil || jsonKind(raw) != "an object" {
			return nil, invalid(form, "`parameters` must be an object, got %s", jsonKind(raw))
		}
		pd := fieldDecoder{form: form, fields: params}
		r.TopN = pd.positiveInt("top_n")
		r.RawScores, _ = pd.boolean("raw_scores")
		if pd.err != nil {
			pd.err.Message = strings.Replace(pd.err.Message, "`", "`parameters.", 1)
			return nil, pd.err
		}
	}
	if d.err != nil {
		return nil, d.err
	}

	raw, ok := present(fields, "inputs")
	if !ok {
		return nil, invalid(form, "`inputs` is required")
	}
	var inputs []json.RawMessage
	if json.Unmarshal(raw, &inputs) != nil || jsonKind(raw) != "a list" {
		return nil, invalid(form, "`inputs` must be a list of tensors, got %s", jsonKind(raw))
	}
	var haveQuery, haveDocs bool
	for i, in := range inputs {
		name, data, aerr := decodeOIPTensor(i, in, lim)
		if aerr != nil {
			return nil, aerr
		}
		switch {
		case name == oipQuery && !haveQuery:
			if len(data) != 1 {
				return nil, invalid(form, "input `query` must hold one string (shape [1]), got %d", len(data))
			}
			r.Query, haveQuery = data[0], true
		case name == oipDocuments && !haveDocs:
			r.Docs, haveDocs = data, true
		case name == oipQuery || name == oipDocuments:
			return nil, invalid(form, "input `%s` is given twice", name)
		default:
			return nil, invalid(form, "unknown input %q: this model takes `query` (BYTES [1]) and `documents` (BYTES [N])", name)
		}
	}
	if !haveQuery {
		return nil, invalid(form, "input `query` (BYTES [1]) is required")
	}
	if !haveDocs {
		return nil, invalid(form, "input `documents` (BYTES [N]) is required")
	}

	if raw, ok := present(fields, "outputs"); ok {
		var outs []map[string]json.RawMessage
		if json.Unmarshal(raw, &outs) != nil || jsonKind(raw) != "a list" {
			return nil, invalid(form, "`outputs` must be a list of {name}, got %s", jsonKind(raw))
		}
		r.Outputs = []string{}
		for i, o := range outs {
			od := fieldDecoder{form: form, fields: o}
			name := od.str("name", true)
			if od.err != nil {
				od.err.Message = "`outputs[" + strconv.Itoa(i) + "]." + strings.TrimPrefix(od.err.Message, "`")
				return nil, od.err
			}
			if name != oipScores && name != oipIndices {
				return nil, invalid(form, "unknown output %q: this model gives `scores` (FP32 [N]) and `indices` (INT64, best first)", name)
			}
			r.Outputs = append(r.Outputs, name)
		}
	}
	if aerr := checkRequest(r, lim, oipDocuments); aerr != nil {
		return nil, aerr
	}
	return r, nil
}

// decodeOIPTensor reads the i-th input tensor: its name and its strings,
// flattened in row-major order.
func decodeOIPTensor(i int, raw json.RawMessage, lim Limits) (string, []string, *apiError) {
	const form = FormOIP
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil || fields == nil {
		return "", nil, invalid(form, "`inputs[%d]` must be a tensor object, got %s", i, jsonKind(raw))
	}
	d := fieldDecoder{form: form, fields: fields}
	name := d.str("name", true)
	dtype := d.str("datatype", true)
	if d.err != nil {
		d.err.Message = "`inputs[" + strconv.Itoa(i) + "]." + strings.TrimPrefix(d.err.Message, "`")
		return "", nil, d.err
	}
	at := "input `" + name + "`"
	if dtype != oipBytes {
		return "", nil, invalid(form, "%s must have datatype BYTES, got %q", at, dtype)
	}
	rawShape, ok := present(fields, "shape")
	if !ok {
		return "", nil, invalid(form, "%s: `shape` is required", at)
	}
	var shape []json.Number
	if json.Unmarshal(rawShape, &shape) != nil || jsonKind(rawShape) != "a list" {
		return "", nil, invalid(form, "%s: `shape` must be a list of integers, got %s", at, jsonKind(rawShape))
	}
	if len(shape) == 0 || len(shape) > oipMaxDims {
		return "", nil, invalid(form, "%s: `shape` must have 1 to %d dimensions, got %d", at, oipMaxDims, len(shape))
	}
	// The element count is bounded by the documents limit long before an
	// int could overflow; past it the request is refused anyway.
	limit := int64(lim.MaxDocuments)
	count := int64(1)
	for _, n := range shape {
		v, err := n.Int64()
		if err != nil || v < 0 {
			return "", nil, invalid(form, "%s: `shape` must hold integers of 0 or more, got %s", at, n)
		}
		count = min(count*min(v, limit+1), limit+1)
	}
	if count > limit {
		return "", nil, invalid(form, "%s: shape %s has more than %d elements, the limit of documents per request; split the request", at, compact(rawShape), limit)
	}
	rawData, ok := present(fields, "data")
	if !ok {
		return "", nil, invalid(form, "%s: `data` is required", at)
	}
	var flat []string
	if aerr := flattenOIP(rawData, len(shape), int(count), &flat, at); aerr != nil {
		return "", nil, aerr
	}
	if len(flat) != int(count) {
		return "", nil, invalid(form, "%s: `data` has %d elements, shape %s needs %d", at, len(flat), compact(rawShape), count)
	}
	return name, flat, nil
}

// flattenOIP appends the strings of raw, a string list nested at most
// depth deep, to out, refusing more than max of them.
func flattenOIP(raw json.RawMessage, depth, max int, out *[]string, at string) *apiError {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil || jsonKind(raw) != "a list" {
		return invalid(FormOIP, "%s: `data` must be a list of strings, got %s", at, jsonKind(raw))
	}
	for _, it := range items {
		switch jsonKind(it) {
		case "a string":
			var s string
			if err := json.Unmarshal(it, &s); err != nil {
				return invalid(FormOIP, "%s: `data` holds a bad string", at)
			}
			if len(*out) >= max {
				return invalid(FormOIP, "%s: `data` has more elements than its shape", at)
			}
			*out = append(*out, s)
		case "a list":
			if depth <= 1 {
				return invalid(FormOIP, "%s: `data` is nested deeper than its shape", at)
			}
			if aerr := flattenOIP(it, depth-1, max, out, at); aerr != nil {
				return aerr
			}
		default:
			return invalid(FormOIP, "%s: `data` must hold strings (BYTES), got %s", at, jsonKind(it))
		}
	}
	return nil
}

// compact is raw JSON without its spaces, for a message.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil || b.Len() > 64 {
		return "(given)"
	}
	return b.String()
}

// oipTensor is one output tensor of an inference answer.
type oipTensor struct {
	Name     string `json:"name"`
	Datatype string `json:"datatype"`
	Shape    []int  `json:"shape"`
	Data     any    `json:"data"`
}

// oipResponse is the protocol's inference response.
type oipResponse struct {
	ModelName  string         `json:"model_name"`
	ID         string         `json:"id,omitempty"`
	Parameters map[string]int `json:"parameters"`
	Outputs    []oipTensor    `json:"outputs"`
}

// encodeOIP answers req from all its results, best first.
func encodeOIP(req *rankRequest, model string, results []rerank.Result, tokens, truncated int) (any, *apiError) {
	scores := make([]json.Number, len(req.Docs))
	for _, r := range results {
		n, ok := scoreNumber(r, req.RawScores)
		if !ok {
			return nil, newErr(req.Form, http.StatusInternalServerError, kindBackend,
				"the model produced a score of %v for document %d", r.Score, r.Index)
		}
		// FP32: the shortest decimal that reads back as the same float32.
		f, _ := n.Float64()
		scores[r.Index] = json.Number(strconv.FormatFloat(f, 'g', -1, 32))
	}
	k := len(results)
	if req.TopN > 0 && req.TopN < k {
		k = req.TopN
	}
	indices := make([]int, k)
	for i := range indices {
		indices[i] = results[i].Index
	}
	want := func(name string) bool {
		return req.Outputs == nil || len(req.Outputs) == 0 || containsString(req.Outputs, name)
	}
	out := oipResponse{ModelName: model, ID: req.ID, Outputs: []oipTensor{},
		Parameters: map[string]int{"tokens": tokens, "truncated_documents": truncated}}
	if want(oipScores) {
		out.Outputs = append(out.Outputs, oipTensor{Name: oipScores, Datatype: "FP32", Shape: []int{len(scores)}, Data: scores})
	}
	if want(oipIndices) {
		out.Outputs = append(out.Outputs, oipTensor{Name: oipIndices, Datatype: "INT64", Shape: []int{k}, Data: indices})
	}
	return out, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// oipPath splits a path under /v2/models/ into the model's name and what
// is asked of it: "" (metadata), "ready" or "infer". Model names may hold
// slashes (BAAI/bge-reranker-base), so the action is read from the end; a
// version segment (/versions/V) is accepted and ignored, since each name
// serves one version.
func oipPath(p string) (name, action string) {
	rest := strings.TrimPrefix(p, "/v2/models/")
	for _, a := range []string{"ready", "infer"} {
		if r, ok := strings.CutSuffix(rest, "/"+a); ok {
			rest, action = r, a
			break
		}
	}
	if i := strings.LastIndex(rest, "/versions/"); i >= 0 && !strings.Contains(rest[i+len("/versions/"):], "/") {
		rest = rest[:i]
	}
	return rest, action
}

// oipModelMetadata is GET /v2/models/{name}.
type oipModelMetadata struct {
	Name     string        `json:"name"`
	Versions []string      `json:"versions"`
	Platform string        `json:"platform"`
	Inputs   []oipMetaItem `json:"inputs"`
	Outputs  []oipMetaItem `json:"outputs"`
}

type oipMetaItem struct {
	Name     string `json:"name"`
	Datatype string `json:"datatype"`
	Shape    []int  `json:"shape"`
}

// oipMetadataOf describes the served model's tensors; -1 is the protocol's
// variable-size dimension.
func oipMetadataOf(name string) oipModelMetadata {
	return oipModelMetadata{
		Name: name, Versions: []string{}, Platform: "crossrank",
		Inputs: []oipMetaItem{
			{Name: oipQuery, Datatype: oipBytes, Shape: []int{1}},
			{Name: oipDocuments, Datatype: oipBytes, Shape: []int{-1}},
		},
		Outputs: []oipMetaItem{
			{Name: oipScores, Datatype: "FP32", Shape: []int{-1}},
			{Name: oipIndices, Datatype: "INT64", Shape: []int{-1}},
		},
	}
}

// sortedNames is the served model names in order, for a 404's message.
func sortedNames(names []string) []string {
	out := append([]string(nil), names...)
	sort.Strings(out)
	return out
}
