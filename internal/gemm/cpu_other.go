//go:build !amd64 || purego

package gemm

func kernelSets() []*kernelSet { return []*kernelSet{goKernels} }

func peakFunc() func(int) { return nil }

func peak256Func() func(int) { return func(int) {} }
