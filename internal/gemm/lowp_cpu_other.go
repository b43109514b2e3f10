//go:build !amd64 || purego

package gemm

func bf16Sets() []*bf16Set { return []*bf16Set{goBF16} }

func int8Sets() []*int8Set { return []*int8Set{goInt8} }

func lowPeakFuncs() (bf16, vnni func(int)) { return nil, nil }
