// Package cuda is crossrank's CUDA backend: the ml.Backend seam implemented
// on an NVIDIA GPU, so the whole forward pass of a cross-encoder runs there.
//
// Build it with the tag: `go build -tags cuda`. Without the tag this package
// compiles to a stub whose New returns ErrNoDevice, so callers need no build
// tags of their own: NewOrCPU picks the GPU when there is one and the CPU
// otherwise, with a log line saying why.
//
// What runs where:
//   - GEMMs (every Linear) through cuBLAS: cublasSgemm in fp32 (no TF32), and
//     cublasGemmEx with fp16 or bf16 operands and fp32 accumulation;
//   - our own kernels (kernels/kernels.cu, compiled to PTX with nvcc and
//     embedded; the driver compiles the PTX for the card at load) for the
//     embedding gather, bias + activation, residual + LayerNorm, row selection
//     and the attention over packed variable-length sequences (one kernel for
//     every length: an online softmax over key tiles);
//   - weights are uploaded once, when the model is loaded; each Run (one per
//     worker goroutine) gets its own stream and cuBLAS handle from a pool, and
//     its device buffers from a cache, so batches of a size seen before
//     allocate nothing on the device; host staging buffers are pinned.
//
// The driver API and cuBLAS are opened at run time (dlopen), not linked: see
// driver.go for why gorgonia.org/cu could not be used. The tagged build needs
// only a C compiler: no CUDA headers, libraries or GPU.
//
// Errors: no driver or no usable device is ErrNoDevice; out of device memory
// is ErrOutOfMemory (errors.Is), so callers can retry with smaller batches;
// any CUDA error is returned, never a panic.
//
// Environment:
//   - CROSSRANK_CUBLAS: the path of libcublas.so.N, when neither the dynamic
//     loader nor the usual CUDA and PyTorch folders have it;
//   - CROSSRANK_CUDA_SIMPLE_ATTENTION=1: fp16/bf16 attention on the CUDA-core
//     kernel instead of the tensor cores;
//   - CROSSRANK_REQUIRE_GPU=1 (tests): fail instead of skipping without a GPU.
//
// The GPU tests and the comparison with PyTorch run on a lent device with
// gpu-check.sh; NOTES.md records what they measured.
package cuda

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/crossrank/crossrank/cpu"
	"github.com/crossrank/crossrank/ml"
)

// ErrNoDevice means there is no usable GPU: no NVIDIA driver, no device, a
// device older than compute capability 8.0, no cuBLAS, or a build without the
// cuda tag.
var ErrNoDevice = errors.New("cuda: no usable CUDA device")

// ErrOutOfMemory means the device ran out of memory; a smaller batch may fit.
var ErrOutOfMemory = errors.New("cuda: out of device memory")

// Precision is the storage type of weights and activations on the device.
// Arithmetic accumulates in float32 in every case.
type Precision int

const (
	FP32 Precision = iota // float32 everywhere; GEMMs without TF32
	FP16                  // IEEE half weights and activations
	BF16                  // bfloat16 weights and activations
)

func (p Precision) String() string {
	switch p {
	case FP32:
		return "fp32"
	case FP16:
		return "fp16"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// ParsePrecision reads "fp32", "fp16" or "bf16" (also "float32", "float16",
// "half", "bfloat16").
func ParsePrecision(s string) (Precision, error) {
	switch strings.ToLower(s) {
	case "fp32", "float32", "f32", "":
		return FP32, nil
	case "fp16", "float16", "f16", "half":
		return FP16, nil
	case "bf16", "bfloat16":
		return BF16, nil
	}
	return 0, fmt.Errorf("cuda: precision %q: want fp32, fp16 or bf16", s)
}

// Options configure New.
type Options struct {
	Device    int       // CUDA device ordinal
	Precision Precision // storage type of weights and activations
}

// NewOrCPU returns the CUDA backend on device 0 in opts' precision when a
// usable GPU is there, else the CPU backend; either way it logs which one and
// why. logger may be nil.
func NewOrCPU(logger *slog.Logger, opts Options) ml.Backend {
	if logger == nil {
		logger = slog.Default()
	}
	b, err := New(opts)
	if err != nil {
		logger.Warn("cuda: falling back to the CPU backend", "reason", err.Error())
		return cpu.Default()
	}
	logger.Info("cuda: using the GPU backend", "backend", b.Name())
	return b
}
