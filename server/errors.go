package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// apiError is a failure the client is told about, with its HTTP status.
type apiError struct {
	Form    Form
	Status  int
	Kind    errKind
	Message string
	// RetryAfter, if > 0, is sent as the Retry-After header (seconds).
	RetryAfter int
}

func (e *apiError) Error() string { return e.Message }

// errKind classifies a failure; it becomes TEI's error_type and infinity's
// error.type.
type errKind int

const (
	kindValidation errKind = iota // 400, 413, 422
	kindNotFound                  // 404
	kindOverloaded                // 429, 503 while full
	kindUnhealthy                 // 503 not ready or shutting down
	kindAuth                      // 401
	kindBackend                   // 500
)

// teiType is text-embeddings-inference's ErrorType for a kind.
func (k errKind) teiType() string {
	switch k {
	case kindOverloaded:
		return "Overloaded"
	case kindUnhealthy:
		return "Unhealthy"
	case kindBackend:
		return "Backend"
	}
	return "Validation"
}

func (k errKind) String() string {
	switch k {
	case kindValidation:
		return "invalid_request_error"
	case kindNotFound:
		return "not_found_error"
	case kindOverloaded:
		return "overloaded_error"
	case kindUnhealthy:
		return "unavailable_error"
	case kindAuth:
		return "authentication_error"
	}
	return "server_error"
}

func newErr(form Form, status int, kind errKind, format string, args ...any) *apiError {
	return &apiError{Form: form, Status: status, Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// invalid is a request whose JSON is fine but whose content is not: 422, as
// infinity (FastAPI) and TEI answer schema violations.
func invalid(form Form, format string, args ...any) *apiError {
	return newErr(form, http.StatusUnprocessableEntity, kindValidation, format, args...)
}

// badRequest is a body that is not JSON at all.
func badRequest(form Form, format string, args ...any) *apiError {
	return newErr(form, http.StatusBadRequest, kindValidation, format, args...)
}

func asErr(err error, target any) bool { return errors.As(err, target) }

// errorBody is the JSON a client of form expects on failure:
//
//	infinity  {"error": {"message", "type", "param", "code"}}  (OpenAI style)
//	TEI       {"error": "...", "error_type": "Validation"}
//	Jina      {"detail": "..."}                                (FastAPI style)
//	Cohere    {"message": "..."}
//	Weaviate, Open Inference Protocol  {"error": "..."}
func (e *apiError) body() any {
	switch e.Form {
	case FormWeaviate, FormOIP:
		return struct {
			Error string `json:"error"`
		}{e.Message}
	case FormTEI:
		return struct {
			Error     string `json:"error"`
			ErrorType string `json:"error_type"`
		}{e.Message, e.Kind.teiType()}
	case FormJina:
		return struct {
			Detail string `json:"detail"`
		}{e.Message}
	case FormCohere:
		return struct {
			Message string `json:"message"`
		}{e.Message}
	}
	type openAIError struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    int     `json:"code"`
	}
	return struct {
		Error openAIError `json:"error"`
	}{openAIError{Message: e.Message, Type: e.Kind.String(), Code: e.Status}}
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="crossrank"`)
	}
	writeJSON(w, e.Status, e.body())
}
