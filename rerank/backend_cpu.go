//go:build !cuda

package rerank

// cudaBuilt says whether this binary has the CUDA backend (build tag cuda);
// without it the automatic backend is the CPU, with no attempt to find a GPU.
const cudaBuilt = false
