//go:build !amd64 || purego

package gemm

func kernelSets() []*kernelSet { return []*kernelSet{goKernels} }

func peakFunc() func(int) { return nil }
