package server

import (
	_ "embed"
	"encoding/json"
	"net/http"
)

// openAPI describes every endpoint. It is written by hand (it is the
// contract, not a by-product of the code); a test checks that it parses and
// names every route the server registers.
//
//go:embed openapi.json
var openAPI []byte

// openAPIEmbed describes the embedding routes (embed.go); its paths and
// schemas are merged into openAPI once, at start.
//
//go:embed openapi_embed.json
var openAPIEmbed []byte

func init() { openAPI = mergeOpenAPI(openAPI, openAPIEmbed) }

// mergeOpenAPI adds extra's paths and component schemas to base.
func mergeOpenAPI(base, extra []byte) []byte {
	var b, e map[string]any
	if json.Unmarshal(base, &b) != nil || json.Unmarshal(extra, &e) != nil {
		panic("server: openapi.json or openapi_embed.json does not parse")
	}
	into := func(dst, src map[string]any, key string) {
		d, _ := dst[key].(map[string]any)
		s, _ := src[key].(map[string]any)
		if d == nil {
			d = map[string]any{}
			dst[key] = d
		}
		for k, v := range s {
			d[k] = v
		}
	}
	into(b, e, "paths")
	bc, _ := b["components"].(map[string]any)
	ec, _ := e["components"].(map[string]any)
	if bc != nil && ec != nil {
		into(bc, ec, "schemas")
	}
	out, err := json.MarshalIndent(b, "", " ")
	if err != nil {
		panic(err)
	}
	return append(out, '\n')
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
