//go:build ORT

package main

import (
	"path/filepath"

	"github.com/knights-analytics/hugot"
	"github.com/knights-analytics/hugot/options"
)

// The ORT backend links the Rust tokenizers library and loads ONNX Runtime
// with dlopen, so it lives behind the ORT build tag (hugot's own tag): the
// default build stays pure Go.
func init() {
	newORTSession = func(lib string, threads int) (*hugot.Session, error) {
		return hugot.NewORTSession(
			// hugot's WithOnnxLibraryPath wants a folder holding a file
			// named exactly libonnxruntime.so; the onnxruntime wheel ships
			// only the versioned name, so name the file itself.
			func(o *options.Options) error {
				dir := filepath.Dir(lib)
				o.ORTOptions.LibraryPath = &lib
				o.ORTOptions.LibraryDir = &dir
				return nil
			},
			options.WithIntraOpNumThreads(threads),
			options.WithInterOpNumThreads(1),
		)
	}
}
