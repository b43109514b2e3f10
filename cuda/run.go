//go:build cuda

package cuda

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/crossrank/crossrank/ml"
)

// run is one forward pass on one worker's stream. Every operation only
// enqueues work; Read and Close wait for the stream.
type run struct {
	b      *backend
	ctx    context.Context
	w      *worker
	tokens int

	bufs   []devBuf           // every device buffer this run took
	spare  map[int64][]devPtr // buffers Released during the run, by class
	pinOff int64              // bump offset in the worker's pinned buffer
	err    error
	closed bool
}

type devBuf struct {
	p     devPtr
	class int64
}

// tensor is an activation matrix on the device, rows x cols, row-major in the
// storage type. bias, when set, is a Linear's bias not yet added: the next
// operation adds it on the fly (fused into activation, LayerNorm or
// attention) instead of a pass of its own.
type tensor struct {
	p          devPtr
	rows, cols int
	bias       *vector
	r          *run
}

func (t *tensor) Rows() int { return t.rows }
func (t *tensor) Cols() int { return t.cols }

func (r *run) Err() error { return r.err }

// ok reports whether the run may go on, recording a cancelled context.
func (r *run) ok() bool {
	if r.err != nil {
		return false
	}
	if r.closed {
		r.err = errors.New("cuda: run used after Close")
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return false
	}
	return true
}

func (r *run) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *run) failf(format string, args ...any) {
	r.fail(fmt.Errorf("cuda: "+format, args...))
}

// dead is what an operation returns after an error: a tensor of the expected
// shape that holds nothing, so model code can go on until it checks Err.
func (r *run) dead(rows, cols int) *tensor { return &tensor{rows: rows, cols: cols, r: r} }

// alloc takes a device buffer of n bytes for the rest of the run.
func (r *run) alloc(n int64) (devPtr, bool) {
	class := sizeClass(n)
	if l := r.spare[class]; len(l) > 0 {
		p := l[len(l)-1]
		r.spare[class] = l[:len(l)-1]
		return p, true
	}
	p, ok := r.b.takeCached(class)
	if !ok {
		var err error
		if p, err = r.b.devAlloc(class); err != nil {
			r.fail(fmt.Errorf("cuda: run of %d tokens: %w", r.tokens, err))
			return 0, false
		}
	}
	r.bufs = append(r.bufs, devBuf{p, class})
	return p, true
}

func (r *run) newTensor(rows, cols int) *tensor {
	p, ok := r.alloc(int64(rows) * int64(cols) * r.b.esize)
	if !ok {
		return r.dead(rows, cols)
	}
	if r.b.poison {
		// Tests: NaN everywhere, so an element a kernel fails to write shows.
		if err := memset8(p, 0xff, int64(rows)*int64(cols)*r.b.esize, r.w.s); err != nil {
			r.fail(err)
		}
	}
	return &tensor{p: p, rows: rows, cols: cols, r: r}
}

// Release hands t's buffer back for reuse by later operations of this run.
// Optional: a run that never calls it just holds more memory until Close.
func (r *run) Release(x ml.Tensor) {
	t, ok := x.(*tensor)
	if !ok || t.r != r || t.p == 0 {
		return
	}
	class := sizeClass(int64(t.rows) * int64(t.cols) * r.b.esize)
	r.spare[class] = append(r.spare[class], t.p)
	t.p = 0
}

// staging returns n bytes of the worker's pinned buffer not used by any copy
// still in flight: when the buffer is full, the stream is drained first.
func (r *run) staging(n int64) (unsafe.Pointer, bool) {
	n = (n + 255) &^ 255
	w := r.w
	if r.pinOff+n > w.pinCap {
		if err := streamSync(w.s); err != nil {
			r.fail(err)
			return nil, false
		}
		r.pinOff = 0
		if n > w.pinCap {
			c := max(w.pinCap, initialPinned)
			for c < n {
				c *= 2
			}
			hostFree(w.pin)
			p, err := hostMalloc(c)
			if err != nil {
				w.pin, w.pinCap = nil, 0
				r.fail(err)
				return nil, false
			}
			w.pin, w.pinCap = p, c
		}
	}
	p := unsafe.Add(w.pin, r.pinOff)
	r.pinOff += n
	return p, true
}

// upload32 copies vals to the device through pinned memory.
func (r *run) upload32(vals []int32) (devPtr, bool) {
	n := int64(4 * len(vals))
	host, ok := r.staging(n)
	if !ok {
		return 0, false
	}
	copy(unsafe.Slice((*int32)(host), len(vals)), vals)
	p, ok := r.alloc(n)
	if !ok {
		return 0, false
	}
	if err := htod(p, host, n, r.w.s); err != nil {
		r.fail(err)
		return 0, false
	}
	return p, true
}

func (r *run) launch(name string, fn cuFunc, gx, gy, gz, bx, shmem int, args ...uint64) {
	r.timed(name, func() error { return launch(name, fn, gx, gy, gz, bx, shmem, r.w.s, args) })
}

// timed runs f, which enqueues work; when profiling it also waits for that
// work and records how long it took under name.
func (r *run) timed(name string, f func() error) {
	if !r.b.profiling {
		if err := f(); err != nil {
			r.fail(err)
		}
		return
	}
	if err := streamSync(r.w.s); err != nil {
		r.fail(err)
		return
	}
	t0 := time.Now()
	err := f()
	if err == nil {
		err = streamSync(r.w.s)
	}
	if err != nil {
		r.fail(err)
		return
	}
	el := time.Since(t0)
	r.b.mu.Lock()
	if r.b.prof == nil {
		r.b.prof = map[string]*opStat{}
	}
	st := r.b.prof[name]
	if st == nil {
		st = &opStat{}
		r.b.prof[name] = st
	}
	st.calls++
	st.total += el
	r.b.mu.Unlock()
}

// Kernel arguments, one 8-byte slot each.
func ptrArg(p devPtr) uint64 { return uint64(p) }
func intArg(i int) uint64    { return uint64(uint32(int32(i))) }
func f32Arg(f float32) uint64 {
	return uint64(math.Float32bits(f))
}
func biasArg(v *vector) uint64 {
	if v == nil {
		return 0
	}
	return uint64(v.p)
}

// Argument checks. A wrong weight or tensor type is a bug in the caller, but
// still an error, not a panic.

func (r *run) tensor(op string, x ml.Tensor) *tensor {
	t, ok := x.(*tensor)
	if !ok || t == nil || t.r != r {
		r.failf("%s: tensor %T is not from this CUDA run", op, x)
		return nil
	}
	if t.p == 0 {
		r.failf("%s: tensor was released", op)
		return nil
	}
	return t
}

func (r *run) vector(op string, w ml.Weight, n int) *vector {
	v, ok := w.(*vector)
	if !ok || v == nil {
		r.failf("%s: weight %T is not a CUDA vector", op, w)
		return nil
	}
	if v.n != n {
		r.failf("%s: vector %q has %d values, want %d", op, v.name, v.n, n)
		return nil
	}
	return v
}

func (r *run) table(op string, w ml.Weight) *table {
	t, ok := w.(*table)
	if !ok || t == nil {
		r.failf("%s: weight %T is not a CUDA table", op, w)
		return nil
	}
	return t
}

// settle adds t's pending bias in place.
func (r *run) settle(t *tensor) {
	if t.bias == nil || r.err != nil {
		return
	}
	r.biasAct(t, ml.ActNone)
}

// biasAct applies t's pending bias and act in one pass.
func (r *run) biasAct(t *tensor, act ml.Activation) {
	if t.rows == 0 || t.cols == 0 {
		t.bias = nil
		return
	}
	// One thread per column pair (per column when odd), 32 to 256 a block.
	per := t.cols
	if per%2 == 0 {
		per /= 2
	}
	threads := min(max((per+31)/32*32, 32), 256)
	r.launch("bias_act", r.b.k.biasAct, min(t.rows, ewMaxBlocks), 1, 1, threads, 0,
		ptrArg(t.p), biasArg(t.bias), intArg(t.rows), intArg(t.cols), intArg(int(act)))
	t.bias = nil
}

func (r *run) checkIDs(op string, ids []int32, limit int, what string) bool {
	for i, id := range ids {
		if id < 0 || int(id) >= limit {
			r.failf("%s: index %d at position %d is outside %s", op, id, i, what)
			return false
		}
	}
	return true
}

func (r *run) Gather(tw ml.Weight, ids []int32) ml.Tensor {
	t := r.table("Gather", tw)
	if t == nil || !r.ok() {
		return r.dead(len(ids), 0)
	}
	if len(ids) == 0 || !r.checkIDs("Gather", ids, t.rows, fmt.Sprintf("table %q of %d rows", t.name, t.rows)) {
		if len(ids) == 0 {
			r.failf("Gather: no ids")
		}
		return r.dead(len(ids), t.cols)
	}
	out := r.newTensor(len(ids), t.cols)
	dids, ok := r.upload32(ids)
	if !ok || out.p == 0 {
		return out
	}
	r.launch("gather", r.b.k.gather, len(ids), 1, 1, rowThreads, 0,
		ptrArg(out.p), ptrArg(t.p), ptrArg(dids), intArg(t.cols), intArg(0))
	return out
}

func (r *run) AddGather(xt ml.Tensor, tw ml.Weight, ids []int32) {
	x, t := r.tensor("AddGather", xt), r.table("AddGather", tw)
	if x == nil || t == nil || !r.ok() {
		return
	}
	if x.rows != len(ids) || x.cols != t.cols {
		r.failf("AddGather: x is [%d %d], %d ids into table %q of %d columns", x.rows, x.cols, len(ids), t.name, t.cols)
		return
	}
	if !r.checkIDs("AddGather", ids, t.rows, fmt.Sprintf("table %q of %d rows", t.name, t.rows)) {
		return
	}
	r.settle(x)
	dids, ok := r.upload32(ids)
	if !ok {
		return
	}
	r.launch("gather", r.b.k.gather, len(ids), 1, 1, rowThreads, 0,
		ptrArg(x.p), ptrArg(t.p), ptrArg(dids), intArg(t.cols), intArg(1))
}

// Linear is one GEMM. Row-major y[rows, out] = x[rows, in] · Wᵀ is, seen
// column-major by cuBLAS, yᵀ[out, rows] = W · xᵀ with W (stored [out, in]
// row-major, i.e. column-major [in, out]) transposed. The bias is left
// pending on the result.
func (r *run) Linear(xt ml.Tensor, w, b ml.Weight) ml.Tensor {
	x := r.tensor("Linear", xt)
	m, ok := w.(*matrix)
	if !ok || m == nil {
		r.failf("Linear: weight %T is not a CUDA matrix", w)
	}
	if x == nil || m == nil || !r.ok() {
		return r.dead(dims(xt))
	}
	if x.cols != m.in {
		r.failf("Linear %q: input has %d columns, weight [%d %d] wants %d", m.name, x.cols, m.out, m.in, m.in)
		return r.dead(x.rows, m.out)
	}
	var bias *vector
	if b != nil {
		if bias = r.vector("Linear "+m.name+" bias", b, m.out); bias == nil {
			return r.dead(x.rows, m.out)
		}
	}
	r.settle(x)
	y := r.newTensor(x.rows, m.out)
	if y.p == 0 {
		return y
	}
	r.timed(fmt.Sprintf("gemm %dx%d", m.out, m.in), func() error {
		var err error
		if r.b.prec == FP32 {
			err = sgemm(r.w.h, blasOpT, blasOpN, m.out, x.rows, m.in, 1, m.p, m.in, x.p, m.in, 0, y.p, m.out)
		} else {
			dt := cudaR16F
			if r.b.prec == BF16 {
				dt = cudaR16BF
			}
			err = gemmEx(r.w.h, blasOpT, blasOpN, m.out, x.rows, m.in, 1, m.p, m.in, x.p, m.in, 0, y.p, m.out, dt)
		}
		if err != nil {
			return fmt.Errorf("Linear %q: %w", m.name, err)
		}
		return nil
	})
	y.bias = bias
	return y
}

func (r *run) Activate(xt ml.Tensor, act ml.Activation) {
	x := r.tensor("Activate", xt)
	if x == nil || !r.ok() {
		return
	}
	if act < ml.ActNone || act > ml.ActTanh {
		r.failf("Activate: unknown activation %d", act)
		return
	}
	if act == ml.ActNone && x.bias == nil {
		return
	}
	r.biasAct(x, act)
}

// maxLayerNormCols bounds a row kept in 48 KB of shared memory.
const maxLayerNormCols = 48 << 10 / 4

func (r *run) AddLayerNorm(xt, rt ml.Tensor, gamma, beta ml.Weight, eps float32) ml.Tensor {
	x := r.tensor("AddLayerNorm", xt)
	if x == nil || !r.ok() {
		return r.dead(dims(xt))
	}
	var res *tensor
	if rt != nil {
		if res = r.tensor("AddLayerNorm residual", rt); res == nil {
			return r.dead(x.rows, x.cols)
		}
		if res.rows != x.rows || res.cols != x.cols {
			r.failf("AddLayerNorm: x is [%d %d], residual [%d %d]", x.rows, x.cols, res.rows, res.cols)
			return r.dead(x.rows, x.cols)
		}
		r.settle(res)
	}
	g, bt := r.vector("AddLayerNorm gamma", gamma, x.cols), r.vector("AddLayerNorm beta", beta, x.cols)
	if g == nil || bt == nil {
		return r.dead(x.rows, x.cols)
	}
	if x.cols > maxLayerNormCols {
		r.failf("AddLayerNorm: %d columns, at most %d supported", x.cols, maxLayerNormCols)
		return r.dead(x.rows, x.cols)
	}
	out := r.newTensor(x.rows, x.cols)
	if out.p == 0 {
		return out
	}
	var resp devPtr
	if res != nil {
		resp = res.p
	}
	if x.cols%2 == 0 && x.cols <= lnWarpMaxCols {
		r.launch("add_layernorm", r.b.k.addLayerNormWarp, (x.rows+lnWarpRows-1)/lnWarpRows, 1, 1, 32*lnWarpRows, 0,
			ptrArg(out.p), ptrArg(x.p), biasArg(x.bias), ptrArg(resp), ptrArg(g.p), ptrArg(bt.p), intArg(x.rows), intArg(x.cols), f32Arg(eps))
		return out
	}
	r.launch("add_layernorm", r.b.k.addLayerNorm, x.rows, 1, 1, rowThreads, 4*x.cols,
		ptrArg(out.p), ptrArg(x.p), biasArg(x.bias), ptrArg(resp), ptrArg(g.p), ptrArg(bt.p), intArg(x.cols), f32Arg(eps))
	return out
}

func (r *run) Attention(qt, kt, vt ml.Tensor, heads int, offsets []int32) ml.Tensor {
	q, k, v := r.tensor("Attention q", qt), r.tensor("Attention k", kt), r.tensor("Attention v", vt)
	if q == nil || k == nil || v == nil || !r.ok() {
		return r.dead(dims(qt))
	}
	if k.rows != q.rows || v.rows != q.rows || k.cols != q.cols || v.cols != q.cols {
		r.failf("Attention: q [%d %d], k [%d %d], v [%d %d] differ", q.rows, q.cols, k.rows, k.cols, v.rows, v.cols)
		return r.dead(q.rows, q.cols)
	}
	if heads <= 0 || q.cols%heads != 0 {
		r.failf("Attention: %d columns do not split into %d heads", q.cols, heads)
		return r.dead(q.rows, q.cols)
	}
	d := q.cols / heads
	ki := -1
	for i, s := range attentionSizes {
		if d <= s {
			ki = i
			break
		}
	}
	if ki < 0 {
		r.failf("Attention: head size %d, at most %d supported", d, attentionSizes[len(attentionSizes)-1])
		return r.dead(q.rows, q.cols)
	}
	nseq := len(offsets) - 1
	if nseq < 1 || offsets[0] != 0 || int(offsets[nseq]) != q.rows {
		r.failf("Attention: offsets %v do not cover %d tokens from 0", short(offsets), q.rows)
		return r.dead(q.rows, q.cols)
	}
	maxLen := 0
	for i := 0; i < nseq; i++ {
		l := int(offsets[i+1] - offsets[i])
		if l < 0 {
			r.failf("Attention: offsets decrease at %d: %v", i, short(offsets))
			return r.dead(q.rows, q.cols)
		}
		maxLen = max(maxLen, l)
	}
	if nseq > 65535 || heads > 65535 {
		r.failf("Attention: %d sequences x %d heads is over the grid's limit of 65535 each", nseq, heads)
		return r.dead(q.rows, q.cols)
	}
	out := r.newTensor(q.rows, q.cols)
	doff, ok := r.upload32(offsets)
	if !ok || out.p == 0 {
		return out
	}
	scaleLog2 := float32(1 / math.Sqrt(float64(d)) * math.Log2E)
	args := []uint64{ptrArg(out.p), ptrArg(q.p), ptrArg(k.p), ptrArg(v.p), biasArg(q.bias), biasArg(k.bias), biasArg(v.bias),
		ptrArg(doff), intArg(q.cols), intArg(k.cols), intArg(v.cols), intArg(q.cols), intArg(d), f32Arg(scaleLog2)}
	// Tensor cores for fp16/bf16 heads up to 128 wide (mma.sync) or 64
	// (WMMA); the CUDA-core kernel (every precision and head size) otherwise.
	if r.b.prec != FP32 {
		switch r.b.attention {
		case attnMMA:
			for i, s := range attentionMMASizes {
				if d <= s {
					r.launch("attention_mma", r.b.k.attentionMMA[i], (maxLen+mmaBQ-1)/mmaBQ, heads, nseq, mmaThreads, 0, args...)
					return out
				}
			}
		case attnWMMA:
			for i, s := range attentionTCSizes {
				if d <= s {
					r.launch("attention_tc", r.b.k.attentionTC[i], (maxLen+tcBQ-1)/tcBQ, heads, nseq, tcThreads, 0, args...)
					return out
				}
			}
		}
	}
	r.launch("attention", r.b.k.attention[ki], (maxLen+attBQ-1)/attBQ, heads, nseq, attBQ, 0, args...)
	return out
}

// dims is x's shape, or 0 x 0 for a nil tensor.
func dims(x ml.Tensor) (int, int) {
	if x == nil {
		return 0, 0
	}
	return x.Rows(), x.Cols()
}

func short(o []int32) []int32 {
	if len(o) > 8 {
		return o[:8]
	}
	return o
}

func (r *run) Rows(xt ml.Tensor, idx []int32) ml.Tensor {
	x := r.tensor("Rows", xt)
	if x == nil || !r.ok() {
		_, c := dims(xt)
		return r.dead(len(idx), c)
	}
	if len(idx) == 0 {
		r.failf("Rows: no indices")
		return r.dead(0, x.cols)
	}
	if !r.checkIDs("Rows", idx, x.rows, fmt.Sprintf("a tensor of %d rows", x.rows)) {
		return r.dead(len(idx), x.cols)
	}
	out := r.newTensor(len(idx), x.cols)
	didx, ok := r.upload32(idx)
	if !ok || out.p == 0 {
		return out
	}
	r.launch("rows", r.b.k.rows, len(idx), 1, 1, rowThreads, 0,
		ptrArg(out.p), ptrArg(x.p), ptrArg(didx), intArg(x.cols))
	out.bias = x.bias // per column: it applies to the selected rows alike
	return out
}

func (r *run) Read(xt ml.Tensor) []float32 {
	x := r.tensor("Read", xt)
	if x == nil || !r.ok() {
		return nil
	}
	r.settle(x)
	n := int64(x.rows) * int64(x.cols)
	host, ok := r.staging(n * r.b.esize)
	if !ok {
		return nil
	}
	if err := dtoh(host, x.p, n*r.b.esize, r.w.s); err != nil {
		r.fail(err)
		return nil
	}
	if err := streamSync(r.w.s); err != nil {
		r.fail(err)
		return nil
	}
	out := make([]float32, n)
	if n > 0 {
		decode(r.b.prec, unsafe.Slice((*byte)(host), n*r.b.esize), out)
	}
	r.pinOff = 0 // the stream is drained: staging can start over
	return out
}

// Close waits for the run's work and gives its buffers and worker back.
func (r *run) Close() {
	if r.closed {
		return
	}
	r.closed = true
	if err := streamSync(r.w.s); err != nil {
		r.fail(err)
	}
	for _, b := range r.bufs {
		r.b.putCached(b.p, b.class)
	}
	r.bufs, r.spare = nil, nil
	r.b.putWorker(r.w)
	r.w = nil
}
