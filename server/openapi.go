package server

import (
	_ "embed"
	"net/http"
)

// openAPI describes every endpoint. It is written by hand (it is the
// contract, not a by-product of the code); a test checks that it parses and
// names every route the server registers.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
