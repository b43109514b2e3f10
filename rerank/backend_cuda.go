//go:build cuda

package rerank

// cudaBuilt says whether this binary has the CUDA backend (build tag cuda);
// with it the automatic backend is the GPU when one is present.
const cudaBuilt = true
