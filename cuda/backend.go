//go:build cuda

package cuda

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/crossrank/crossrank/ml"
	"github.com/x448/float16"
)

// Available opens the first GPU and reports its name, or why there is none
// (an error wrapping ErrNoDevice).
func Available() (name string, err error) {
	d, err := openDevice(0)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s (compute %d.%d, %d SMs, %.1f GiB, driver %d, cuBLAS %s)",
		d.name, d.major, d.minor, d.sms, float64(d.memory)/(1<<30), d.driverVersion, d.cublasPath), nil
}

// New opens the GPU opts.Device and returns a backend that runs there. The
// error wraps ErrNoDevice when there is no usable device; NewOrCPU turns that
// into a CPU fallback.
func New(opts Options) (ml.Backend, error) {
	if opts.Precision < FP32 || opts.Precision > BF16 {
		return nil, fmt.Errorf("cuda: unknown precision %v", opts.Precision)
	}
	d, err := openDevice(opts.Device)
	if err != nil {
		return nil, err
	}
	mod, ks, err := loadKernels(opts.Precision)
	if err != nil {
		return nil, err
	}
	b := &backend{dev: d, prec: opts.Precision, mod: mod, k: ks, esize: 4, free: map[int64][]devPtr{}}
	if opts.Precision != FP32 {
		b.esize = 2
	}
	switch os.Getenv("CROSSRANK_CUDA_ATTENTION") {
	case "simple":
		b.attention = attnSimple
	case "wmma":
		b.attention = attnWMMA
	}
	if os.Getenv("CROSSRANK_CUDA_SIMPLE_ATTENTION") == "1" { // the older switch
		b.attention = attnSimple
	}
	return b, nil
}

type backend struct {
	dev   *device
	prec  Precision
	mod   module
	k     *kernelSet
	esize int64 // bytes per stored element
	// poison fills every new activation buffer with NaNs (tests only).
	poison bool
	// attention picks the fp16/bf16 attention kernel: the mma.sync one by
	// default, the older WMMA one or the CUDA-core one for tests and
	// comparisons (CROSSRANK_CUDA_ATTENTION=wmma or simple).
	attention attnKernel
	// profiling, when set, drains the stream around every kernel and GEMM
	// and adds the time to prof (device benchmarks only: it serialises).
	profiling bool
	prof      map[string]*opStat

	mu      sync.Mutex
	weights []devPtr           // uploaded parameters, freed at Close
	workers []*worker          // idle streams with their cuBLAS handle
	free    map[int64][]devPtr // cached device buffers by size class
	cached  int64              // bytes in free
	closed  bool
}

type attnKernel int

const (
	attnMMA    attnKernel = iota // mma.sync, scores and output in registers
	attnWMMA                     // WMMA, output rows in shared memory
	attnSimple                   // CUDA cores, one thread per query row
)

type opStat struct {
	calls int
	total time.Duration
}

// profile returns the per-operation times gathered while profiling, most
// expensive first, and clears them.
func (b *backend) profile() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var all time.Duration
	names := make([]string, 0, len(b.prof))
	for n, s := range b.prof {
		names = append(names, n)
		all += s.total
	}
	sort.Slice(names, func(i, j int) bool { return b.prof[names[i]].total > b.prof[names[j]].total })
	var out []string
	for _, n := range names {
		s := b.prof[n]
		out = append(out, fmt.Sprintf("%-28s %6d calls %9.3f ms %5.1f%%", n, s.calls, float64(s.total.Microseconds())/1000, 100*float64(s.total)/float64(all)))
	}
	b.prof = nil
	return out
}

func (b *backend) Name() string {
	return fmt.Sprintf("cuda:%d (%s, %s)", b.dev.ordinal, b.dev.name, b.prec)
}

// Precision is what the weights and activations are stored in ("fp32",
// "fp16", "bf16"), so the re-ranker reports what runs rather than the
// checkpoint's dtype.
func (b *backend) Precision() string { return b.prec.String() }

// Weights. Each is one device allocation in the storage type, laid out as in
// the checkpoint: a Linear weight stays [out, in] row-major, which is the
// column-major Wᵀ cuBLAS multiplies with transa = T.

type matrix struct {
	name    string
	p       devPtr
	out, in int
}

type vector struct {
	name string
	p    devPtr
	n    int
}

type table struct {
	name       string
	p          devPtr
	rows, cols int
}

func (b *backend) Matrix(name string, data []float32, out, in int) (ml.Weight, error) {
	if out <= 0 || in <= 0 || len(data) != out*in {
		return nil, fmt.Errorf("cuda: matrix %q: %d values for [%d %d]", name, len(data), out, in)
	}
	p, err := b.upload(name, data)
	if err != nil {
		return nil, err
	}
	return &matrix{name: name, p: p, out: out, in: in}, nil
}

func (b *backend) Vector(name string, data []float32) (ml.Weight, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("cuda: vector %q is empty", name)
	}
	p, err := b.upload(name, data)
	if err != nil {
		return nil, err
	}
	return &vector{name: name, p: p, n: len(data)}, nil
}

func (b *backend) Table(name string, data []float32, rows, cols int) (ml.Weight, error) {
	if rows <= 0 || cols <= 0 || len(data) != rows*cols {
		return nil, fmt.Errorf("cuda: table %q: %d values for [%d %d]", name, len(data), rows, cols)
	}
	p, err := b.upload(name, data)
	if err != nil {
		return nil, err
	}
	return &table{name: name, p: p, rows: rows, cols: cols}, nil
}

// upload converts data to the storage type and copies it to a new device
// allocation, synchronously (from pageable memory: loading happens once).
func (b *backend) upload(name string, data []float32) (devPtr, error) {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return 0, fmt.Errorf("cuda: %q: backend is closed", name)
	}
	host := encode(b.prec, data)
	n := int64(len(host))
	p, err := b.devAlloc(n)
	if err != nil {
		return 0, fmt.Errorf("cuda: uploading %q (%d bytes): %w", name, n, err)
	}
	if err := htod(p, unsafe.Pointer(&host[0]), n, nil); err != nil {
		devFree(p)
		return 0, fmt.Errorf("cuda: uploading %q: %w", name, err)
	}
	if err := streamSync(nil); err != nil {
		devFree(p)
		return 0, fmt.Errorf("cuda: uploading %q: %w", name, err)
	}
	b.mu.Lock()
	b.weights = append(b.weights, p)
	b.mu.Unlock()
	return p, nil
}

// encode returns data's bytes in precision p's storage type (fp16 and bf16
// rounded to nearest even, as torch's .half() and .bfloat16() do).
func encode(p Precision, data []float32) []byte {
	switch p {
	case FP16:
		out := make([]uint16, len(data))
		for i, f := range data {
			out[i] = float16.Fromfloat32(f).Bits()
		}
		return unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 2*len(out))
	case BF16:
		out := make([]uint16, len(data))
		for i, f := range data {
			out[i] = bf16FromFloat32(f)
		}
		return unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 2*len(out))
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data))
}

// decode is encode's inverse, into dst.
func decode(p Precision, src []byte, dst []float32) {
	switch p {
	case FP16:
		h := unsafe.Slice((*uint16)(unsafe.Pointer(&src[0])), len(dst))
		for i := range dst {
			dst[i] = float16.Frombits(h[i]).Float32()
		}
	case BF16:
		h := unsafe.Slice((*uint16)(unsafe.Pointer(&src[0])), len(dst))
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(h[i]) << 16)
		}
	default:
		copy(dst, unsafe.Slice((*float32)(unsafe.Pointer(&src[0])), len(dst)))
	}
}

func bf16FromFloat32(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 { // NaN stays a (quiet) NaN
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// Device buffers for activations come from a cache keyed by a size class, so
// a run whose shapes were seen before allocates nothing; Run.Close gives its
// buffers back. On out-of-memory the cache is emptied and the allocation tried
// once more before the error (wrapping ErrOutOfMemory) reaches the caller.

// sizeClass rounds n up to 2^k * {4,5,6,7}/4, at most 25% over, at least 256.
func sizeClass(n int64) int64 {
	if n <= 256 {
		return 256
	}
	k := 63 - bits.LeadingZeros64(uint64(n-1)) // 2^k < n <= 2^(k+1)
	q := int64(1) << (k - 2)
	return (n + q - 1) / q * q
}

func (b *backend) takeCached(class int64) (devPtr, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l := b.free[class]; len(l) > 0 {
		p := l[len(l)-1]
		b.free[class] = l[:len(l)-1]
		b.cached -= class
		return p, true
	}
	return 0, false
}

func (b *backend) putCached(p devPtr, class int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		devFree(p)
		return
	}
	b.free[class] = append(b.free[class], p)
	b.cached += class
}

// trim frees every cached buffer.
func (b *backend) trim() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c, l := range b.free {
		for _, p := range l {
			devFree(p)
		}
		delete(b.free, c)
	}
	b.cached = 0
}

// devAlloc allocates n bytes, emptying the cache and retrying once when the
// device is full.
func (b *backend) devAlloc(n int64) (devPtr, error) {
	p, err := devMalloc(n)
	if err != nil && errors.Is(err, ErrOutOfMemory) {
		b.trim()
		p, err = devMalloc(n)
	}
	return p, err
}

// worker is what one Run uses exclusively: a stream, a cuBLAS handle bound
// to it and a pinned host staging buffer.
type worker struct {
	s      stream
	h      blasH
	pin    hostPtr
	pinCap int64
}

const initialPinned = 1 << 20

func (b *backend) getWorker() (*worker, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, errors.New("cuda: backend is closed")
	}
	if n := len(b.workers); n > 0 {
		w := b.workers[n-1]
		b.workers = b.workers[:n-1]
		b.mu.Unlock()
		return w, nil
	}
	b.mu.Unlock()
	s, err := streamCreate()
	if err != nil {
		return nil, err
	}
	h, _, err := blasCreate(s)
	if err != nil {
		streamDestroy(s)
		return nil, err
	}
	pin, err := hostMalloc(initialPinned)
	if err != nil {
		blasDestroy(h)
		streamDestroy(s)
		return nil, err
	}
	return &worker{s: s, h: h, pin: pin, pinCap: initialPinned}, nil
}

func (w *worker) destroy() {
	blasDestroy(w.h)
	streamDestroy(w.s)
	hostFree(w.pin)
}

func (b *backend) putWorker(w *worker) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		w.destroy()
		return
	}
	b.workers = append(b.workers, w)
}

func (b *backend) NewRun(ctx context.Context, tokens int) (ml.Run, error) {
	if tokens <= 0 {
		return nil, fmt.Errorf("cuda: run of %d tokens", tokens)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w, err := b.getWorker()
	if err != nil {
		return nil, err
	}
	return &run{b: b, ctx: ctx, w: w, tokens: tokens, spare: map[int64][]devPtr{}}, nil
}

// Close frees the weights, the cached buffers and the workers. Runs still
// open give their buffers and workers back to nothing: they are freed.
func (b *backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	var firstErr error
	for _, p := range b.weights {
		if err := devFree(p); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	b.weights = nil
	for _, w := range b.workers {
		w.destroy()
	}
	b.workers = nil
	for c, l := range b.free {
		for _, p := range l {
			devFree(p)
		}
		delete(b.free, c)
	}
	b.cached = 0
	b.mu.Unlock()
	return firstErr
}
