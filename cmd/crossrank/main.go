// Command crossrank re-ranks documents for a query with a cross-encoder.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "crossrank: not implemented yet: the engine is being built (see docs/ARCHITECTURE.md)")
	os.Exit(2)
}
