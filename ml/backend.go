package ml

import (
	"context"
	"errors"
	"fmt"
)

// Activation names a Hugging Face hidden_act (and tanh, for the heads).
type Activation int

const (
	ActNone    Activation = iota
	ActGELU               // "gelu": exact, 0.5*x*(1+erf(x/sqrt(2)))
	ActGELUNew            // "gelu_new" / "gelu_pytorch_tanh": the tanh approximation
	ActReLU               // "relu"
	ActTanh               // the pooler / classification head
)

// Weight is a parameter prepared by a backend once, at load: transposed,
// packed, converted or uploaded as the backend likes. The model never reads it.
type Weight interface{}

// Tensor is a backend-owned activation matrix of Rows() x Cols() float32s,
// valid until the Run that made it is closed.
type Tensor interface {
	Rows() int
	Cols() int
}

// Backend prepares weights and starts runs. It is safe for concurrent use:
// each goroutine takes its own Run.
type Backend interface {
	// Name is what the re-ranker reports, e.g. "cpu" or "cuda:0 (NVIDIA H100)".
	Name() string

	// Matrix prepares a torch.nn.Linear weight stored as [out, in] row-major
	// (as in the checkpoint), for Run.Linear.
	//
	// In Matrix, Vector and Table, data is valid only during the call (it
	// may be a read-only view of the memory-mapped checkpoint, unmapped after
	// load): a backend copies or uploads what it keeps.
	Matrix(name string, data []float32, out, in int) (Weight, error)
	// Vector prepares a bias or a LayerNorm gamma/beta.
	Vector(name string, data []float32) (Weight, error)
	// Table prepares an embedding table of rows x cols, row-major.
	Table(name string, data []float32, rows, cols int) (Weight, error)

	// NewRun starts the work of one batch of `tokens` packed tokens.
	NewRun(ctx context.Context, tokens int) (Run, error)

	// Close releases what the backend holds (device memory, threads).
	Close() error
}

// Run is one forward pass in progress. Operations record the first error
// (out of device memory, a cancelled context) and become no-ops after it;
// Err reports it. A Run is used by one goroutine.
type Run interface {
	// Gather returns table[ids[i]] for each i: a len(ids) x cols matrix.
	Gather(table Weight, ids []int32) Tensor
	// AddGather adds table[ids[i]] to row i of x, in place.
	AddGather(x Tensor, table Weight, ids []int32)
	// Linear returns x · Wᵀ + b (b may be nil), as torch.nn.Linear does.
	Linear(x Tensor, w, b Weight) Tensor
	// Activate applies act to every element of x, in place.
	Activate(x Tensor, act Activation)
	// AddLayerNorm returns LayerNorm(x + residual) with gamma, beta and eps;
	// residual may be nil.
	AddLayerNorm(x, residual Tensor, gamma, beta Weight, eps float32) Tensor
	// Attention is multi-head scaled dot-product attention over packed
	// sequences: q, k and v are [tokens, heads*headDim], each token attends to
	// the tokens of its own sequence (offsets) only, scores are scaled by
	// 1/sqrt(headDim). The result has q's shape.
	Attention(q, k, v Tensor, heads int, offsets []int32) Tensor
	// Rows returns the rows idx of x, in that order.
	Rows(x Tensor, idx []int32) Tensor
	// Read copies x to the host, row-major.
	Read(x Tensor) []float32

	// Err is the first error any operation met, or nil.
	Err() error
	// Close frees what the run allocated; its tensors are invalid after it.
	Close()
}

// Optional operations. A Run may implement these for speed; the model code
// calls them through the functions below, which fall back to the plain
// operations above, so a backend without them works unchanged.

// LinearActRun is a Run that applies an activation as part of Linear (in
// the GEMM's epilogue, while the output is still in cache).
type LinearActRun interface {
	LinearAct(x Tensor, w, b Weight, act Activation) Tensor
}

// Releaser is a Run that can reuse a tensor's memory before Close.
type Releaser interface {
	// Release says that x will not be used again in this run.
	Release(x Tensor)
}

// LinearAct returns act(x · Wᵀ + b): r's fused LinearAct if it has one,
// else Linear then Activate.
func LinearAct(r Run, x Tensor, w, b Weight, act Activation) Tensor {
	if f, ok := r.(LinearActRun); ok {
		return f.LinearAct(x, w, b, act)
	}
	y := r.Linear(x, w, b)
	if act != ActNone {
		r.Activate(y, act)
	}
	return y
}

// Release tells r that the tensors xs are dead, so that a backend which
// can reuse their memory (Releaser) does; for other backends it does
// nothing. Without it a run holds every activation until Close: a whole
// forward pass's worth.
func Release(r Run, xs ...Tensor) {
	if f, ok := r.(Releaser); ok {
		for _, x := range xs {
			f.Release(x)
		}
	}
}

// TableBuilder is a Backend that allocates an embedding table's storage
// itself and fills it from blocks of values (read calls put for each block,
// off being the block's first value's index), so that a table read block by
// block from the memory-mapped checkpoint (weights.Checkpoint.Float32Blocks)
// never sits in memory twice. The binder uses it for Embedding when the
// source can stream; other backends get Table.
type TableBuilder interface {
	BuildTable(name string, rows, cols int, read func(put func(off int, vals []float32) error) error) (Weight, error)
}

// CheckOffsets checks that offsets (cu_seqlens) start at 0, end at tokens
// and never go back: what every backend's Attention checks first.
func CheckOffsets(offsets []int32, tokens int) error {
	if len(offsets) < 2 || offsets[0] != 0 || int(offsets[len(offsets)-1]) != tokens {
		return fmt.Errorf("offsets %v do not span %d tokens", offsets, tokens)
	}
	for i := 1; i < len(offsets); i++ {
		if offsets[i] < offsets[i-1] {
			return fmt.Errorf("offsets %v go back at %d", offsets, i)
		}
	}
	return nil
}

// ErrUnsupported is wrapped by the error of Need: the backend lacks an
// optional operation the model needs.
var ErrUnsupported = errors.New("operation not supported by this backend")

// Need returns nil if the runs of b implement the optional operation T (an
// interface such as LinearActRun), else an error naming the backend and op
// that wraps ErrUnsupported. An architecture's constructor calls it, at
// load, for each optional operation it cannot do without.
func Need[T any](b Backend, op string) error {
	r, err := b.NewRun(context.Background(), 1)
	if err != nil {
		return err
	}
	defer r.Close()
	if _, ok := r.(T); !ok {
		return fmt.Errorf("%w: backend %s has no %s", ErrUnsupported, b.Name(), op)
	}
	return nil
}
