package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unsafe"

	"github.com/x448/float16"
)

// The safetensors format (https://huggingface.co/docs/safetensors): an
// 8-byte little-endian header length N, N bytes of JSON describing every
// tensor (dtype, shape, data_offsets relative to the byte buffer that
// follows) plus an optional "__metadata__" map of strings, then the bytes.

// Errors a corrupt or unsupported checkpoint gives, for errors.Is. The error
// itself always names the file and, where one is to blame, the tensor.
var (
	ErrHeader       = errors.New("bad safetensors header")
	ErrOffsets      = errors.New("data offsets outside the data")
	ErrOverlap      = errors.New("tensors overlap")
	ErrShape        = errors.New("shape does not match byte size")
	ErrDType        = errors.New("unsupported dtype")
	ErrMissingShard = errors.New("missing shard")
	ErrNotFound     = errors.New("no such tensor")
)

// maxHeaderLen is the header size limit the reference implementation
// enforces (100 MB); anything larger is a corrupt or hostile file, and we
// must not allocate for it.
const maxHeaderLen = 100 << 20

// DType is a safetensors dtype string ("F32", "F16", "BF16", ...).
type DType string

const (
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	F64  DType = "F64"
	I64  DType = "I64"
	I32  DType = "I32"
)

// dtypeSizes lists the dtypes safetensors defines with a whole number of
// bytes per element. Integer tensors appear in real checkpoints (older BERT
// checkpoints store embeddings.position_ids as I64), so the header accepts
// them; Float32 converts only the floating-point ones.
var dtypeSizes = map[DType]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// Size is the number of bytes of one element, 0 for an unknown dtype.
func (d DType) Size() int { return dtypeSizes[d] }

// TensorInfo describes one stored tensor.
type TensorInfo struct {
	Name   string // the name as stored in the file
	DType  DType
	Shape  []int
	Size   int64  // bytes
	File   string // path of the .safetensors file that holds it
	Offset int64  // absolute byte offset in File
}

// Elements is the number of elements (1 for a scalar).
func (t TensorInfo) Elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= int64(d)
	}
	return n
}

// stFile is one memory-mapped .safetensors file.
type stFile struct {
	path string
	data []byte // the whole mapping (a heap copy where mapsFiles is false)
}

type tensorRef struct {
	file *stFile
	info TensorInfo
	lo   int64 // offset of the tensor's bytes in file.data
}

// Checkpoint is one safetensors file or a sharded set of them, memory-mapped.
// Slices it returns point into the mapping: they are read-only (writing to
// them faults) and valid until Close. It is safe for concurrent use (it is
// never modified after Open) until Close.
type Checkpoint struct {
	files   []*stFile
	tensors map[string]tensorRef
	names   []string
	meta    map[string]string
}

// Names of all stored tensors, sorted.
func (c *Checkpoint) Names() []string { return append([]string(nil), c.names...) }

// Metadata is the "__metadata__" of the file (merged over the shards and
// the index's "metadata" for a sharded checkpoint).
func (c *Checkpoint) Metadata() map[string]string {
	m := make(map[string]string, len(c.meta))
	for k, v := range c.meta {
		m[k] = v
	}
	return m
}

// Files are the paths of the .safetensors files, in the order they were opened.
func (c *Checkpoint) Files() []string {
	out := make([]string, len(c.files))
	for i, f := range c.files {
		out[i] = f.path
	}
	return out
}

// Info describes a tensor, found by its stored or its canonical name (see Lookup).
func (c *Checkpoint) Info(name string) (TensorInfo, bool) {
	r, ok := c.ref(name)
	if !ok {
		return TensorInfo{}, false
	}
	info := r.info
	info.Shape = append([]int(nil), info.Shape...)
	return info, true
}

func (c *Checkpoint) ref(name string) (tensorRef, bool) {
	stored, ok := c.Lookup(name)
	if !ok {
		return tensorRef{}, false
	}
	return c.tensors[stored], true
}

// Bytes returns a tensor's raw little-endian bytes: a slice of the mapping,
// not a copy.
func (c *Checkpoint) Bytes(name string) ([]byte, error) {
	r, ok := c.ref(name)
	if !ok {
		return nil, c.notFound(name)
	}
	return r.file.data[r.lo : r.lo+r.info.Size : r.lo+r.info.Size], nil
}

func (c *Checkpoint) notFound(name string) error {
	where := "checkpoint"
	if len(c.files) == 1 {
		where = c.files[0].path
	} else if len(c.files) > 1 {
		where = filepath.Dir(c.files[0].path)
	}
	return fmt.Errorf("weights: %s: tensor %q: %w", where, name, ErrNotFound)
}

// hostLittleEndian is whether float32s in the mapping can be used as they lie.
var hostLittleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// Float32 returns a tensor's values as float32 and its shape. An F32 tensor
// whose bytes are 4-byte aligned comes back as a view of the mapping (no
// copy: read-only, valid until Close); F16, BF16 and F64 are converted into a
// new slice.
func (c *Checkpoint) Float32(name string) (data []float32, shape []int, err error) {
	r, ok := c.ref(name)
	if !ok {
		return nil, nil, c.notFound(name)
	}
	b := r.file.data[r.lo : r.lo+r.info.Size : r.lo+r.info.Size]
	shape = append([]int(nil), r.info.Shape...)
	n := int(r.info.Elements())
	if n == 0 {
		return []float32{}, shape, nil
	}
	if r.info.DType == F32 && hostLittleEndian && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n), shape, nil
	}
	out := make([]float32, n)
	if err := r.widen(out, b); err != nil {
		return nil, nil, err
	}
	return out, shape, nil
}

// widen converts the stored values b (whole values of r's dtype) into
// out, one float32 each.
func (r tensorRef) widen(out []float32, b []byte) error {
	switch r.info.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = float16.Frombits(binary.LittleEndian.Uint16(b[2*i:])).Float32()
		}
	case BF16:
		// bfloat16 is the top half of a float32: widening is exact.
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	default:
		return fmt.Errorf("weights: %s: tensor %q: dtype %s cannot be read as float32: %w",
			r.info.File, r.info.Name, r.info.DType, ErrDType)
	}
	return nil
}

// Float32Rows returns rows idx of a tensor of two or more dimensions (its
// first dimension being the rows) as float32, one after another, and the
// tensor's whole shape: only those rows are read and widened, so two rows
// of a 151,669 x 1,024 bf16 table cost 8 KB, not 600 MB.
func (c *Checkpoint) Float32Rows(name string, idx ...int) (data []float32, shape []int, err error) {
	r, ok := c.ref(name)
	if !ok {
		return nil, nil, c.notFound(name)
	}
	shape = append([]int(nil), r.info.Shape...)
	if len(shape) < 2 {
		return nil, nil, fmt.Errorf("weights: tensor %q: shape %v has no rows", name, shape)
	}
	rows := shape[0]
	width := 1
	for _, d := range shape[1:] {
		width *= d
	}
	elem := int64(r.info.DType.Size())
	if elem == 0 {
		return nil, nil, fmt.Errorf("weights: %s: tensor %q: dtype %s cannot be read as float32: %w",
			r.info.File, r.info.Name, r.info.DType, ErrDType)
	}
	out := make([]float32, len(idx)*width)
	for k, i := range idx {
		if i < 0 || i >= rows {
			return nil, nil, fmt.Errorf("weights: tensor %q: row %d outside [0, %d)", name, i, rows)
		}
		lo := r.lo + int64(i)*int64(width)*elem
		if err := r.widen(out[k*width:(k+1)*width], r.file.data[lo:lo+int64(width)*elem]); err != nil {
			return nil, nil, err
		}
	}
	return out, shape, nil
}

// Close unmaps every file. Slices handed out before become invalid.
func (c *Checkpoint) Close() error {
	var first error
	for _, f := range c.files {
		if err := unmapFile(f.data); err != nil && first == nil {
			first = fmt.Errorf("weights: %s: unmap: %w", f.path, err)
		}
		f.data = nil
	}
	c.files = nil
	c.tensors = nil
	c.names = nil
	return first
}

// OpenFile memory-maps one .safetensors file and validates its header.
func OpenFile(path string) (*Checkpoint, error) {
	f, err := openMapped(path)
	if err != nil {
		return nil, err
	}
	infos, meta, err := parseFile(f)
	if err != nil {
		unmapFile(f.data)
		return nil, err
	}
	c := &Checkpoint{files: []*stFile{f}, tensors: map[string]tensorRef{}, meta: meta}
	for _, r := range infos {
		c.tensors[r.info.Name] = r
	}
	c.sortNames()
	return c, nil
}

func (c *Checkpoint) sortNames() {
	c.names = make([]string, 0, len(c.tensors))
	for n := range c.tensors {
		c.names = append(c.names, n)
	}
	sort.Strings(c.names)
}

func openMapped(path string) (*stFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	defer fh.Close() // the mapping outlives the descriptor
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("weights: %s: not a regular file", path)
	}
	if st.Size() > math.MaxInt {
		return nil, fmt.Errorf("weights: %s: %d bytes is too large to map", path, st.Size())
	}
	data, err := mapFile(fh, st.Size())
	if err != nil {
		return nil, fmt.Errorf("weights: %s: mmap: %w", path, err)
	}
	return &stFile{path: path, data: data}, nil
}

func parseFile(f *stFile) ([]tensorRef, map[string]string, error) {
	if len(f.data) < 8 {
		return nil, nil, fmt.Errorf("weights: %s: %d bytes, shorter than the 8-byte header length: %w", f.path, len(f.data), ErrHeader)
	}
	n := binary.LittleEndian.Uint64(f.data)
	if n > uint64(len(f.data)-8) {
		return nil, nil, fmt.Errorf("weights: %s: header length %d runs past the end of the file (%d bytes): %w", f.path, n, len(f.data), ErrHeader)
	}
	start := 8 + int64(n)
	infos, meta, err := parseHeader(f.path, f.data[8:start], int64(len(f.data))-start)
	if err != nil {
		return nil, nil, err
	}
	refs := make([]tensorRef, len(infos))
	for i, info := range infos {
		info.Offset += start
		refs[i] = tensorRef{file: f, info: info, lo: info.Offset}
	}
	return refs, meta, nil
}

// headerEntry is one tensor's description in the JSON header.
type headerEntry struct {
	DType       DType    `json:"dtype"`
	Shape       []uint64 `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

// parseHeader validates the JSON header of file (its name is only for
// errors) whose byte buffer is dataLen bytes long. The offsets of the
// returned infos are relative to the start of the byte buffer. It checks
// everything that could make a later slice of the mapping go wrong.
func parseHeader(file string, header []byte, dataLen int64) ([]TensorInfo, map[string]string, error) {
	if len(header) > maxHeaderLen {
		return nil, nil, fmt.Errorf("weights: %s: header of %d bytes exceeds the %d-byte limit: %w", file, len(header), maxHeaderLen, ErrHeader)
	}
	// The format allows trailing spaces as padding (for alignment).
	header = bytes.TrimRight(header, " ")
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, nil, fmt.Errorf("weights: %s: header is not a JSON object: %v: %w", file, err, ErrHeader)
	}
	var meta map[string]string
	infos := make([]TensorInfo, 0, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, fmt.Errorf("weights: %s: __metadata__ is not a map of strings: %v: %w", file, err, ErrHeader)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, nil, fmt.Errorf("weights: %s: tensor %q: %v: %w", file, name, err, ErrHeader)
		}
		size := e.DType.Size()
		if size == 0 {
			return nil, nil, fmt.Errorf("weights: %s: tensor %q: dtype %q: %w", file, name, e.DType, ErrDType)
		}
		if len(e.DataOffsets) != 2 {
			return nil, nil, fmt.Errorf("weights: %s: tensor %q: data_offsets has %d values, want 2: %w", file, name, len(e.DataOffsets), ErrHeader)
		}
		lo, hi := e.DataOffsets[0], e.DataOffsets[1]
		if lo > hi || hi > uint64(dataLen) {
			return nil, nil, fmt.Errorf("weights: %s: tensor %q: data_offsets [%d %d] outside the %d bytes of data: %w", file, name, lo, hi, dataLen, ErrOffsets)
		}
		elems, ok := elementCount(e.Shape, uint64(dataLen))
		if !ok || elems > uint64(dataLen)/uint64(size) || elems*uint64(size) != hi-lo {
			return nil, nil, fmt.Errorf("weights: %s: tensor %q: shape %v of %s is not %d bytes: %w", file, name, e.Shape, e.DType, hi-lo, ErrShape)
		}
		shape := make([]int, len(e.Shape))
		for i, d := range e.Shape {
			// Each d <= dataLen here, or elems is 0 and d is checked below:
			// an empty tensor's other dimensions take no bytes, so they are
			// bounded by what an int holds on every platform, not by the
			// data length (a file whose only tensor is [0 4] has none).
			shape[i] = int(d)
			if elems == 0 && d > max(uint64(dataLen), math.MaxInt32) {
				return nil, nil, fmt.Errorf("weights: %s: tensor %q: dimension %d of shape %v is too large: %w", file, name, i, e.Shape, ErrShape)
			}
		}
		infos = append(infos, TensorInfo{Name: name, DType: e.DType, Shape: shape, Size: int64(hi - lo), File: file, Offset: int64(lo)})
	}
	// Overlap check: sorted by start, each tensor must end before the next
	// begins. Empty tensors take no bytes and overlap nothing.
	sorted := make([]TensorInfo, 0, len(infos))
	for _, t := range infos {
		if t.Size > 0 {
			sorted = append(sorted, t)
		}
	}
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Offset != sorted[j].Offset {
			return sorted[i].Offset < sorted[j].Offset
		}
		return sorted[i].Name < sorted[j].Name
	})
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		if b.Offset < a.Offset+a.Size {
			return nil, nil, fmt.Errorf("weights: %s: tensors %q [%d %d] and %q [%d %d]: %w", file,
				a.Name, a.Offset, a.Offset+a.Size, b.Name, b.Offset, b.Offset+b.Size, ErrOverlap)
		}
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	return infos, meta, nil
}

// elementCount multiplies the dimensions of shape; ok is false when the
// product exceeds limit (which also rules out overflow).
func elementCount(shape []uint64, limit uint64) (n uint64, ok bool) {
	for _, d := range shape {
		if d == 0 {
			return 0, true
		}
	}
	n = 1
	for _, d := range shape {
		if d > limit/n {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// shardIndex is model.safetensors.index.json.
type shardIndex struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// Single-file and sharded checkpoint names, as transformers writes them.
const (
	SafetensorsFile  = "model.safetensors"
	SafetensorsIndex = "model.safetensors.index.json"
	PickleFile       = "pytorch_model.bin"
	ConfigFile       = "config.json"
)

// Open opens the checkpoint in a model folder: model.safetensors, or the
// shards model.safetensors.index.json lists. A path to a .safetensors file
// is opened as that file.
func Open(dir string) (*Checkpoint, error) {
	if st, err := os.Stat(dir); err == nil && st.Mode().IsRegular() {
		if strings.HasSuffix(dir, ".json") {
			return openIndex(dir)
		}
		return OpenFile(dir)
	}
	single := filepath.Join(dir, SafetensorsFile)
	if _, err := os.Stat(single); err == nil {
		return OpenFile(single)
	}
	index := filepath.Join(dir, SafetensorsIndex)
	if _, err := os.Stat(index); err == nil {
		return openIndex(index)
	}
	if _, err := os.Stat(filepath.Join(dir, PickleFile)); err == nil {
		return nil, fmt.Errorf("weights: %s has only %s: crossrank reads safetensors only, because a pickle file can run arbitrary code when loaded and cannot be memory-mapped; convert it (e.g. with transformers: model.save_pretrained(dir, safe_serialization=True))", dir, PickleFile)
	}
	return nil, fmt.Errorf("weights: %s: no %s or %s", dir, SafetensorsFile, SafetensorsIndex)
}

func openIndex(path string) (*Checkpoint, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	var idx shardIndex
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("weights: %s: empty weight_map", path)
	}
	dir := filepath.Dir(path)
	// Shards named in sorted order so errors and Files() are deterministic.
	byShard := map[string][]string{}
	for name, shard := range idx.WeightMap {
		if shard == "" || shard != filepath.Base(shard) || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`) {
			return nil, fmt.Errorf("weights: %s: tensor %q: shard name %q is not a file name in the checkpoint's folder", path, name, shard)
		}
		byShard[shard] = append(byShard[shard], name)
	}
	shards := make([]string, 0, len(byShard))
	for s := range byShard {
		shards = append(shards, s)
	}
	sort.Strings(shards)

	c := &Checkpoint{tensors: map[string]tensorRef{}, meta: map[string]string{}}
	fail := func(err error) (*Checkpoint, error) {
		c.Close()
		return nil, err
	}
	for _, shard := range shards {
		names := byShard[shard]
		sort.Strings(names)
		sp := filepath.Join(dir, shard)
		if _, err := os.Stat(sp); err != nil {
			return fail(fmt.Errorf("weights: %s: shard %s (holding tensor %q and %d more): %v: %w", path, shard, names[0], len(names)-1, err, ErrMissingShard))
		}
		f, err := openMapped(sp)
		if err != nil {
			return fail(err)
		}
		c.files = append(c.files, f)
		refs, meta, err := parseFile(f)
		if err != nil {
			return fail(err)
		}
		for k, v := range meta {
			c.meta[k] = v
		}
		for _, r := range refs {
			if prev, dup := c.tensors[r.info.Name]; dup {
				return fail(fmt.Errorf("weights: tensor %q is stored twice: in %s and in %s", r.info.Name, prev.info.File, r.info.File))
			}
			c.tensors[r.info.Name] = r
		}
		for _, n := range names {
			r, ok := c.tensors[n]
			if !ok || r.file != f {
				return fail(fmt.Errorf("weights: %s: tensor %q: the index puts it in %s, which does not hold it: %w", path, n, shard, ErrMissingShard))
			}
		}
	}
	for k, v := range idx.Metadata {
		c.meta[k] = fmt.Sprint(v)
	}
	c.sortNames()
	return c, nil
}
