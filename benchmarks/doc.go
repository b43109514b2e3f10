// Package benchmarks is crossrank's measuring instrument: one workload that
// every contender scores (workload.json: fixed token ids, and text that
// tokenizes to them), the forward pass's FLOP count from the model's shapes,
// the machine's measured FP32 FMA peak, and the crossrank half of the
// comparison (library and HTTP server), as `crossrank bench` runs it.
//
// The peers (sentence-transformers, ONNX Runtime, hugot) and the driver that
// runs every contender in its own process and writes RESULTS.md,
// results.json and the chart are outside the Go module's build: see
// benchmarks/README.md. Nothing here runs in `make test` except the fast
// unit tests of the workload loader and the FLOP counter.
package benchmarks
