package cpu

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"strings"
	"sync"

	"github.com/crossrank/crossrank/internal/gemm"
	"github.com/crossrank/crossrank/ml"
)

// Default returns the backend in fp32: New(Options{}), which cannot fail
// (only a precision can).
func Default() ml.Backend { return &fastBackend{pool: gemm.Default(), name: "cpu"} }

// Options configure the backend (New). The zero value is fp32.
type Options struct {
	// Precision is the arithmetic of the Linear layers (nearly all of the
	// work): "fp32" (also ""), "bf16" (weights rounded to bf16 at load,
	// activations rounded at each product's input, fp32 sums) or "int8"
	// (weights quantised per output channel at load, activations per token
	// at each product, int32 sums). Attention, LayerNorm, softmax and the
	// activations stay fp32 whatever it is, and so do the pooler and the
	// classifier, but for causal attention in bf16 on a CPU with
	// AVX512_BF16: its two products take bf16 inputs with fp32 sums, as
	// PyTorch's autocast does (attention_bf16.go); in bf16 and int8 the word embeddings are kept in bf16
	// (halfTableMin: half the memory of the largest tensor). See
	// internal/gemm for the kernels and their error.
	Precision string
	// Logger is told when the CPU has no fast kernel for Precision and the
	// backend runs fp32 instead; nil means slog.Default().
	Logger *slog.Logger
}

// New returns the CPU backend with opts. A precision
// whose kernel this CPU lacks (bf16 needs AVX512_BF16, int8 AVX512_VNNI)
// runs as fp32 instead, since the portable Go kernels are slower than fp32:
// Name says so, and a warning is logged. An unknown precision is an error.
func New(opts Options) (ml.Backend, error) {
	prec, err := gemm.ParsePrecision(opts.Precision)
	if err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	b := &fastBackend{pool: gemm.Default(), prec: prec, name: "cpu"}
	if prec == gemm.FP32 {
		return b, nil
	}
	// The kernel is chosen from the CPU's features when a weight is
	// packed: a 1 x 1 probe says which one the model's weights would get.
	probe, err := gemm.Pack(prec, []float32{0}, 1, 1)
	if err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	var fellBack bool
	b.prec, b.name, fellBack = precisionPlan(prec, probe.Kernel())
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if ok, hw, why := gemm.AMXStatus(); hw && !ok {
		log.Warn("cpu: the CPU has AMX but the "+prec.String()+" products run without it", "why", why, "kernel", probe.Kernel())
	}
	if fellBack {
		log.Warn("cpu: this CPU has no fast kernel for the precision asked; running fp32", "precision", prec.String())
	}
	return b, nil
}

// precisionPlan decides what runs when prec was asked and the weights would
// get the kernel named kernel: prec itself, unless the kernel is the
// portable Go one ("go"), slower than fp32's assembly, in which case fp32.
// name is the backend's Name.
func precisionPlan(prec gemm.Precision, kernel string) (run gemm.Precision, name string, fellBack bool) {
	switch {
	case prec == gemm.FP32:
		return gemm.FP32, "cpu", false
	case kernel == "go":
		return gemm.FP32, fmt.Sprintf("cpu (fp32: no %s kernel on this CPU)", prec), true
	}
	return prec, fmt.Sprintf("cpu (%s, %s)", prec, kernel), false
}

type fastBackend struct {
	pool *gemm.Pool
	prec gemm.Precision // of the Linear weights
	name string
}

// Name is "cpu" in fp32, like the reference backend: callers (the
// re-ranker's model info) report the device, not the kernel. In bf16 or
// int8 it names the precision and the kernel, e.g. "cpu (bf16, avx512bf16)".
func (b *fastBackend) Name() string { return b.name }

// Precision is the arithmetic the Linear layers run in: "fp32", "bf16" or
// "int8" (fp32 when the precision asked had no fast kernel).
func (b *fastBackend) Precision() string { return b.prec.String() }

func (b *fastBackend) Close() error { return nil }

type fastMatrix struct {
	name    string
	w       gemm.Weight
	out, in int
}

type fastTable struct {
	name       string
	data       []float32 // the values, or nil when half holds them
	half       []uint16  // bf16 values (large tables of a bf16 or int8 backend)
	rows, cols int
}

// halfTableMin is the size from which a bf16 or int8 backend keeps a table
// in bf16: the word embeddings (XLM-R's 250,002 x 1,024 floats: 1 GB in
// fp32, 0.5 GB in bf16; BERT's 30,522 x 384), not the small position and
// type tables. The rounding (at most 2^-8 relative) is that of every GEMM input in
// bf16, and coarser than int8's per-token activation scales.
const halfTableMin = 1 << 20

// row writes (add: adds) row id of the table into dst.
func (t *fastTable) row(dst []float32, id int, add bool) {
	n := t.cols
	if t.half != nil {
		src := t.half[id*n : (id+1)*n]
		if add {
			for j, h := range src {
				dst[j] += gemm.FromBF16(h)
			}
		} else {
			for j, h := range src {
				dst[j] = gemm.FromBF16(h)
			}
		}
		return
	}
	src := t.data[id*n : (id+1)*n]
	if add {
		for j, x := range src {
			dst[j] += x
		}
	} else {
		copy(dst, src)
	}
}

func (b *fastBackend) Matrix(name string, data []float32, out, in int) (ml.Weight, error) {
	if out <= 0 || in <= 0 || len(data) != out*in {
		return nil, fmt.Errorf("cpu: matrix %q: %d values for [%d %d]", name, len(data), out, in)
	}
	// Pack copies (or converts) data into the kernel's panels, so the
	// checkpoint mapping may go after this call.
	// The pooler and classifier run on one row per sequence, so they cost
	// nothing in any precision, and they write the logits themselves: they
	// stay fp32 (it lowers the int8 logit error by about a tenth).
	prec := b.prec
	if strings.Contains(name, "classifier") || strings.Contains(name, "pooler") {
		prec = gemm.FP32
	}
	w, err := gemm.Pack(prec, data, out, in)
	if err != nil {
		return nil, fmt.Errorf("cpu: matrix %q: %w", name, err)
	}
	return &fastMatrix{name: name, w: w, out: out, in: in}, nil
}

func (b *fastBackend) Vector(name string, data []float32) (ml.Weight, error) {
	v, err := ml.NewHostVector(name, data)
	if err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	return v, nil
}

func (b *fastBackend) Table(name string, data []float32, rows, cols int) (ml.Weight, error) {
	return b.BuildTable(name, rows, cols, func(put func(off int, vals []float32) error) error {
		if len(data) != rows*cols {
			return fmt.Errorf("%d values", len(data))
		}
		return put(0, data)
	})
}

// BuildTable is Table for values that come in blocks (read calls put with
// each block, off being its first value's index): the backend allocates
// its own storage, fp32 or bf16 (halfTableMin), and copies each block into
// it, so a caller reading a memory-mapped checkpoint block by block
// (weights.Checkpoint.Float32Blocks) never holds the whole table twice.
// An fp32 backend keeps a large table whose values are all bf16 (a bf16
// checkpoint's, widened) in bf16 too: nothing is rounded, so Gather gives
// the same floats from half the memory (Qwen3-0.6B's 151,669 x 1,024
// table: 311 MB, not 621 MB). It decides on the first block and widens to
// fp32 should a later block hold a value bf16 cannot.
func (b *fastBackend) BuildTable(name string, rows, cols int, read func(put func(off int, vals []float32) error) error) (ml.Weight, error) {
	if rows <= 0 || cols <= 0 {
		return nil, fmt.Errorf("cpu: table %q: [%d %d]", name, rows, cols)
	}
	n := rows * cols
	t := &fastTable{name: name, rows: rows, cols: cols}
	lossless := b.prec == gemm.FP32 // bf16 storage only while exact
	if !lossless && n >= halfTableMin {
		t.half = make([]uint16, n)
	} else if n < halfTableMin {
		t.data = make([]float32, n)
	}
	got := 0
	err := read(func(off int, vals []float32) error {
		if off < 0 || off+len(vals) > n {
			return fmt.Errorf("values %d..%d", off, off+len(vals))
		}
		if t.half == nil && t.data == nil { // lossless and large: the first block decides
			if allBF16(vals) {
				t.half = make([]uint16, n)
			} else {
				t.data = make([]float32, n)
			}
		}
		if lossless && t.half != nil && !allBF16(vals) {
			t.data = make([]float32, n)
			for i, h := range t.half {
				t.data[i] = gemm.FromBF16(h)
			}
			t.half = nil
		}
		if t.half != nil {
			gemm.ToBF16(t.half[off:off+len(vals)], vals)
		} else {
			copy(t.data[off:], vals)
		}
		got += len(vals)
		return nil
	})
	if err == nil && got != n {
		err = fmt.Errorf("%d values", got)
	}
	if err != nil {
		return nil, fmt.Errorf("cpu: table %q [%d %d]: %w", name, rows, cols, err)
	}
	return t, nil
}

// allBF16 reports whether every value of vals is a bf16 value (its low 16
// bits zero), which bf16 storage then holds exactly.
func allBF16(vals []float32) bool {
	for _, x := range vals {
		if math.Float32bits(x)&0xffff != 0 {
			return false
		}
	}
	return true
}

// Arenas. A run's buffers are sized in row classes (rowClass): a tensor of
// r rows takes a buffer of rowClass(r)*cols floats. Runs are pooled by the
// row class of their token count, so two runs of 3,900 and 4,000 tokens
// share an arena whose buffers fit both, and a server that sees every
// batch size still reuses its memory.

// rowClass rounds rows up to the next of 1, 2, 3, 4, 6, 8, 12, 16, 24, ...
// (powers of two and their 1.5 multiples): at most a third more than asked.
func rowClass(rows int) int {
	if rows <= 4 {
		return max(rows, 1)
	}
	p := 1 << (bits.Len(uint(rows-1)) - 1) // the largest power of two below rows
	if rows <= p+p/2 {
		return p + p/2
	}
	return 2 * p
}

// runPoolIndex maps a token count to its arena pool (two per power of two,
// as rowClass).
func runPoolIndex(tokens int) int {
	c := rowClass(tokens)
	i := 2 * bits.Len(uint(c))
	if c&(c-1) != 0 { // a 1.5 multiple sits between two powers of two
		i++
	}
	return i
}

var runPools [2*64 + 2]sync.Pool

// maxFreeBuffers bounds the buffers an idle arena keeps, so that an arena
// used once for an odd shape does not hold its memory forever.
const maxFreeBuffers = 48

func (b *fastBackend) NewRun(ctx context.Context, tokens int) (ml.Run, error) {
	if tokens <= 0 {
		return nil, fmt.Errorf("cpu: run of %d tokens", tokens)
	}
	pi := runPoolIndex(tokens)
	r, _ := runPools[pi].Get().(*fastRun)
	if r == nil {
		r = &fastRun{}
	}
	r.b, r.ctx, r.err, r.pool, r.closed = b, ctx, nil, pi, false
	r.gen++
	return r, nil
}

// fastTensor is a row-major rows x cols activation in a run's arena. The
// structs themselves are reused from run to run (gen tells them apart).
type fastTensor struct {
	data       []float32
	rows, cols int
	run        *fastRun
	gen        uint64
}

func (t *fastTensor) Rows() int { return t.rows }
func (t *fastTensor) Cols() int { return t.cols }

// fastDead is what an operation returns after an error.
var fastDead = &fastTensor{}

type fastRun struct {
	b      *fastBackend
	ctx    context.Context
	err    error
	pool   int    // index in runPools
	gen    uint64 // incremented by every NewRun that takes this arena
	closed bool

	tensors []*fastTensor // this run's tensors are tensors[:nt]
	nt      int
	free    [][]float32 // buffers not in use (released, or left by earlier runs)

	job     parJob
	slots   []*attnScratch // per-participant attention scratch
	attn    attnTask
	rowsJob rowsTask

	// the decoder operations' (decoder.go)
	decJob decoderTask
	causal causalTask

	rowsAttn rowsAttnTask // AttentionRows's (rows.go)
}

func (r *fastRun) ok() bool {
	if r.err != nil {
		return false
	}
	if r.closed {
		r.err = fmt.Errorf("cpu: run used after Close")
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return false
	}
	return true
}

func (r *fastRun) fail(format string, args ...any) *fastTensor {
	if r.err == nil {
		r.err = fmt.Errorf("cpu: "+format, args...)
	}
	return fastDead
}

func (r *fastRun) Err() error { return r.err }

// newTensor takes a rows x cols tensor from the arena. Its values are
// whatever the buffer held: every operation writes all of its output.
func (r *fastRun) newTensor(rows, cols int) *fastTensor {
	n := rows * cols
	want := rowClass(rows) * cols
	best := -1
	for i, buf := range r.free {
		// A buffer more than twice the size wanted stays for a tensor
		// that needs it (a small head tensor must not take a layer's).
		if c := cap(buf); c >= n && c <= 2*want && (best < 0 || c < cap(r.free[best])) {
			best = i
			if c == want {
				break
			}
		}
	}
	var buf []float32
	if best >= 0 {
		buf = r.free[best][:n]
		last := len(r.free) - 1
		r.free[best] = r.free[last]
		r.free[last] = nil
		r.free = r.free[:last]
	} else {
		buf = make([]float32, n, want)
	}
	if r.nt == len(r.tensors) {
		r.tensors = append(r.tensors, &fastTensor{})
	}
	t := r.tensors[r.nt]
	r.nt++
	*t = fastTensor{data: buf, rows: rows, cols: cols, run: r, gen: r.gen}
	return t
}

// Release gives x's buffer back to the arena for the rest of the run (the
// model code calls it when a tensor is dead, see ml.Release).
// x must not be used afterwards; an operation given it records an error.
func (r *fastRun) Release(x ml.Tensor) {
	t, ok := x.(*fastTensor)
	if !ok || t == nil || t.run != r || t.gen != r.gen || t.data == nil {
		return
	}
	r.free = append(r.free, t.data)
	t.data = nil
}

// Close gives every buffer back and the arena to its pool.
func (r *fastRun) Close() {
	if r.closed {
		return
	}
	r.closed = true
	for _, t := range r.tensors[:r.nt] {
		if t.data != nil {
			r.free = append(r.free, t.data)
		}
		*t = fastTensor{}
	}
	r.nt = 0
	if len(r.free) > maxFreeBuffers {
		// Keep the largest: they serve the most requests of this class.
		sortBuffersBySizeDesc(r.free)
		clear(r.free[maxFreeBuffers:])
		r.free = r.free[:maxFreeBuffers]
	}
	r.ctx = nil
	runPools[r.pool].Put(r)
}

func sortBuffersBySizeDesc(bufs [][]float32) {
	// insertion sort: a few dozen entries, and no closure to allocate
	for i := 1; i < len(bufs); i++ {
		for j := i; j > 0 && cap(bufs[j]) > cap(bufs[j-1]); j-- {
			bufs[j], bufs[j-1] = bufs[j-1], bufs[j]
		}
	}
}

func (r *fastRun) tensor(x ml.Tensor) *fastTensor {
	t, ok := x.(*fastTensor)
	switch {
	case !ok || t == nil || t == fastDead:
		r.fail("got a %T activation, want one made by this run", x)
		return nil
	case t.run != r || t.gen != r.gen:
		r.fail("got an activation of another run (or of a closed one)")
		return nil
	case t.data == nil:
		r.fail("got an activation that was released")
		return nil
	}
	return t
}

func (r *fastRun) matrix(w ml.Weight) *fastMatrix { return own[*fastMatrix](r, w, "matrix") }
func (r *fastRun) table(w ml.Weight) *fastTable   { return own[*fastTable](r, w, "table") }

// own is ml.Own, the error recorded in the run.
func own[P comparable](r *fastRun, w ml.Weight, what string) P {
	p, err := ml.Own[P](w, what)
	if err != nil {
		r.fail("%v", err)
	}
	return p
}

func (r *fastRun) vector(w ml.Weight, n int) []float32 {
	v, err := ml.HostValues(w, n)
	if err != nil {
		r.fail("%v", err)
	}
	return v
}

func (r *fastRun) Gather(table ml.Weight, ids []int32) ml.Tensor {
	if !r.ok() {
		return fastDead
	}
	t := r.table(table)
	if t == nil {
		return fastDead
	}
	if !r.checkIDs(t, ids) {
		return fastDead
	}
	out := r.newTensor(len(ids), t.cols)
	for i, id := range ids {
		t.row(out.data[i*t.cols:(i+1)*t.cols], int(id), false)
	}
	return out
}

func (r *fastRun) checkIDs(t *fastTable, ids []int32) bool {
	if err := ml.CheckIDs(t.name, t.rows, ids); err != nil {
		r.fail("%v", err)
		return false
	}
	return true
}

func (r *fastRun) AddGather(x ml.Tensor, table ml.Weight, ids []int32) {
	if !r.ok() {
		return
	}
	xt, t := r.tensor(x), r.table(table)
	if xt == nil || t == nil {
		return
	}
	if err := ml.CheckAddGather(xt, t.name, t.rows, t.cols, ids); err != nil {
		r.fail("%v", err)
		return
	}
	n := t.cols
	for i, id := range ids {
		t.row(xt.data[i*n:(i+1)*n], int(id), true)
	}
}

func (r *fastRun) Linear(x ml.Tensor, w, b ml.Weight) ml.Tensor {
	return r.LinearAct(x, w, b, ml.ActNone)
}

// LinearAct is Linear then Activate, with the activation applied by the
// GEMM's epilogue to each block of the output while it is in cache.
func (r *fastRun) LinearAct(x ml.Tensor, w, b ml.Weight, act ml.Activation) ml.Tensor {
	if !r.ok() {
		return fastDead
	}
	xt, m := r.tensor(x), r.matrix(w)
	if xt == nil || m == nil {
		return fastDead
	}
	if err := ml.CheckLinear(m.name, xt, m.in); err != nil {
		return r.fail("%v", err)
	}
	var bias []float32
	if b != nil {
		if bias = r.vector(b, m.out); bias == nil {
			return fastDead
		}
	}
	if err := ml.CheckActivation(act); err != nil {
		return r.fail("%v", err)
	}
	out := r.newTensor(xt.rows, m.out)
	r.b.pool.Linear(out.data, xt.data, xt.rows, m.w, bias, actEpilogues[act])
	return out
}

// actEpilogues applies an activation to a finished block of C (see
// gemm.Epilogue); nil for ActNone. Package-level functions, so that passing
// one to MatMul allocates nothing.
var actEpilogues = [...]gemm.Epilogue{
	ml.ActNone:    nil,
	ml.ActGELU:    func(c []float32, ldc, r0, r1, c0, c1 int) { blockApply(c, ldc, r0, r1, c0, c1, geluSlice) },
	ml.ActGELUNew: func(c []float32, ldc, r0, r1, c0, c1 int) { blockApply(c, ldc, r0, r1, c0, c1, geluTanhSlice) },
	ml.ActReLU:    func(c []float32, ldc, r0, r1, c0, c1 int) { blockApply(c, ldc, r0, r1, c0, c1, reluSlice) },
	ml.ActTanh:    func(c []float32, ldc, r0, r1, c0, c1 int) { blockApply(c, ldc, r0, r1, c0, c1, tanhSlice) },
}

func blockApply(c []float32, ldc, r0, r1, c0, c1 int, f func([]float32)) {
	for i := r0; i < r1; i++ {
		f(c[i*ldc+c0 : i*ldc+c1])
	}
}

// sliceActs are the activations over a slice, in place.
var sliceActs = [...]func([]float32){
	ml.ActNone:    func([]float32) {},
	ml.ActGELU:    geluSlice,
	ml.ActGELUNew: geluTanhSlice,
	ml.ActReLU:    reluSlice,
	ml.ActTanh:    tanhSlice,
}

func (r *fastRun) Activate(x ml.Tensor, act ml.Activation) {
	if !r.ok() {
		return
	}
	xt := r.tensor(x)
	if xt == nil {
		return
	}
	if err := ml.CheckActivation(act); err != nil {
		r.fail("%v", err)
		return
	}
	if act == ml.ActNone {
		return
	}
	r.rowsJob = rowsTask{kind: rowsActivate, act: act, x: xt.data, cols: xt.cols}
	r.parallelRows(xt.rows, xt.cols)
}

func (r *fastRun) AddLayerNorm(x, residual ml.Tensor, gamma, beta ml.Weight, eps float32) ml.Tensor {
	if !r.ok() {
		return fastDead
	}
	xt := r.tensor(x)
	if xt == nil {
		return fastDead
	}
	var res []float32
	if residual != nil {
		rt := r.tensor(residual)
		if rt == nil {
			return fastDead
		}
		if err := ml.CheckLayerNorm(xt, rt); err != nil {
			return r.fail("%v", err)
		}
		res = rt.data
	}
	g, b := r.vector(gamma, xt.cols), r.vector(beta, xt.cols)
	if g == nil || b == nil {
		return fastDead
	}
	out := r.newTensor(xt.rows, xt.cols)
	r.rowsJob = rowsTask{kind: rowsLayerNorm, x: xt.data, res: res, out: out.data, gamma: g, beta: b, eps: eps, cols: xt.cols}
	r.parallelRows(xt.rows, xt.cols)
	return out
}

// rowsPerPart is how many floats one part of a row-wise pass covers at
// least: below about 16 KiB of work, handing a part to another core costs
// more than it saves.
const rowsPerPart = 4096

// parallelRows runs r.rowsJob over rows rows of cols floats, cut into parts.
func (r *fastRun) parallelRows(rows, cols int) {
	per := max(1, rowsPerPart/max(cols, 1))
	parts := (rows + per - 1) / per
	r.rowsJob.rows, r.rowsJob.per = rows, per
	r.parallel(&r.rowsJob, parts)
}

const (
	rowsActivate = iota
	rowsLayerNorm
)

// rowsTask is a row-wise pass: an activation in place, or residual +
// LayerNorm into out.
type rowsTask struct {
	kind        int
	act         ml.Activation
	x, res, out []float32
	gamma, beta []float32
	eps         float32
	rows, cols  int
	per         int // rows per part
}

func (t *rowsTask) runPart(slot, part int) {
	r0 := part * t.per
	r1 := min(r0+t.per, t.rows)
	n := t.cols
	switch t.kind {
	case rowsActivate:
		sliceActs[t.act](t.x[r0*n : r1*n])
	case rowsLayerNorm:
		for i := r0; i < r1; i++ {
			var res []float32
			if t.res != nil {
				res = t.res[i*n : (i+1)*n]
			}
			if hasMM4 {
				layerNormAsm(t.out[i*n:(i+1)*n], t.x[i*n:(i+1)*n], res, t.gamma, t.beta, t.eps)
			} else {
				addLayerNormRow(t.out[i*n:(i+1)*n], t.x[i*n:(i+1)*n], res, t.gamma, t.beta, t.eps)
			}
		}
	}
}

func (r *fastRun) Attention(q, k, v ml.Tensor, heads int, offsets []int32) ml.Tensor {
	if !r.ok() {
		return fastDead
	}
	qt, kt, vt := r.tensor(q), r.tensor(k), r.tensor(v)
	if qt == nil || kt == nil || vt == nil {
		return fastDead
	}
	if err := ml.CheckAttention(qt, kt, vt, heads, offsets); err != nil {
		return r.fail("%v", err)
	}
	out := r.newTensor(qt.rows, qt.cols)
	r.attn = attnTask{out: out.data, q: qt.data, k: kt.data, v: vt.data, dim: qt.cols, heads: heads, offsets: offsets, slots: r.slots}
	r.parallel(&r.attn, (len(offsets)-1)*heads)
	r.attn = attnTask{}
	return out
}

func (r *fastRun) Rows(x ml.Tensor, idx []int32) ml.Tensor {
	if !r.ok() {
		return fastDead
	}
	xt := r.tensor(x)
	if xt == nil {
		return fastDead
	}
	if err := ml.CheckRows(xt, idx); err != nil {
		return r.fail("%v", err)
	}
	out := r.newTensor(len(idx), xt.cols)
	n := xt.cols
	for i, row := range idx {
		copy(out.data[i*n:(i+1)*n], xt.data[int(row)*n:(int(row)+1)*n])
	}
	return out
}

func (r *fastRun) Read(x ml.Tensor) []float32 {
	if r.err != nil {
		return nil
	}
	xt := r.tensor(x)
	if xt == nil {
		return nil
	}
	return append([]float32(nil), xt.data...)
}
