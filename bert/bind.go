package bert

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/crossrank/crossrank/weights"
)

// The weight binder.
//
// A module's weights are the fields of its Go type, tagged with the name the
// checkpoint gives them and their shape in config terms:
//
//	Query Linear `hf:"query" dims:"hidden,hidden"`
//
// bind walks a module, joins the hf names into the full tensor name
// ("bert.encoder.layer.3.attention.self.query.weight"), reads the tensor,
// checks its shape and values and hands it to the backend, once, at load.

// Linear is torch.nn.Linear: y = x·Wᵀ + b, W stored [out, in]. Its dims tag
// is "out,in".
type Linear struct {
	Weight Weight // "weight", [out, in]
	Bias   Weight // "bias", [out]
}

// Forward applies the layer to every row of x.
func (l *Linear) Forward(r Run, x Tensor) Tensor { return r.Linear(x, l.Weight, l.Bias) }

// LayerNorm is torch.nn.LayerNorm over the last dimension. Its dims tag is
// the normalised size; Eps is the config's layer_norm_eps.
type LayerNorm struct {
	Weight Weight // "weight" (legacy "gamma"), [n]
	Bias   Weight // "bias" (legacy "beta"), [n]
	Eps    float32
}

// Forward returns LayerNorm(x + residual); residual may be nil.
func (ln *LayerNorm) Forward(r Run, x, residual Tensor) Tensor {
	return r.AddLayerNorm(x, residual, ln.Weight, ln.Bias, ln.Eps)
}

// Embedding is torch.nn.Embedding: a lookup table of [rows, cols].
type Embedding struct {
	Weight Weight // "weight", [rows, cols]
}

// tensorSource is where weights come from: a *weights.Checkpoint, or a map
// of tensors in tests.
type tensorSource interface {
	Float32(name string) (data []float32, shape []int, err error)
}

type binder struct {
	ctx     context.Context // loading a large checkpoint takes seconds
	backend Backend
	src     tensorSource
	dims    map[string]int // "hidden" -> hidden_size, ...
	eps     float32
}

var (
	linearType    = reflect.TypeFor[Linear]()
	layerNormType = reflect.TypeFor[LayerNorm]()
	embeddingType = reflect.TypeFor[Embedding]()
)

// bind binds every hf-tagged field of the struct module points to, under
// the name prefix.
func (bd *binder) bind(prefix string, module any) error {
	v := reflect.ValueOf(module)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("bert: bind %T: want a pointer to a struct", module)
	}
	return bd.bindStruct(prefix, v.Elem())
}

func (bd *binder) bindStruct(prefix string, v reflect.Value) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("hf")
		if !ok {
			continue
		}
		name := join(prefix, tag)
		dims, err := bd.shape(f.Tag.Get("dims"))
		if err != nil {
			return fmt.Errorf("bert: field %s.%s: %w", t.Name(), f.Name, err)
		}
		if err := bd.bindValue(name, v.Field(i), dims); err != nil {
			return err
		}
	}
	return nil
}

func (bd *binder) bindValue(name string, v reflect.Value, dims []int) error {
	var err error
	switch v.Type() {
	case linearType:
		err = bd.linear(name, v.Addr().Interface().(*Linear), dims)
	case layerNormType:
		err = bd.layerNorm(name, v.Addr().Interface().(*LayerNorm), dims)
	case embeddingType:
		err = bd.embedding(name, v.Addr().Interface().(*Embedding), dims)
	default:
		switch v.Kind() {
		case reflect.Struct:
			err = bd.bindStruct(name, v)
		case reflect.Slice:
			// A ModuleList: the constructor sized it (num_hidden_layers);
			// element i is named "<name>.<i>".
			for i := 0; i < v.Len() && err == nil; i++ {
				err = bd.bindValue(join(name, strconv.Itoa(i)), v.Index(i), dims)
			}
		default:
			err = fmt.Errorf("bert: %s: cannot bind a %s", name, v.Type())
		}
	}
	return err
}

func (bd *binder) linear(name string, l *Linear, dims []int) error {
	if len(dims) != 2 {
		return fmt.Errorf("bert: %s: a Linear needs dims \"out,in\"", name)
	}
	out, in := dims[0], dims[1]
	w, err := bd.tensor(name+".weight", out, in)
	if err != nil {
		return err
	}
	b, err := bd.tensor(name+".bias", out)
	if err != nil {
		return err
	}
	if l.Weight, err = bd.backend.Matrix(name+".weight", w, out, in); err != nil {
		return err
	}
	if l.Bias, err = bd.backend.Vector(name+".bias", b); err != nil {
		return err
	}
	bd.release(name+".weight", name+".bias")
	return nil
}

func (bd *binder) layerNorm(name string, ln *LayerNorm, dims []int) error {
	if len(dims) != 1 {
		return fmt.Errorf("bert: %s: a LayerNorm needs dims \"n\"", name)
	}
	g, err := bd.tensor(name+".weight", dims[0])
	if err != nil {
		return err
	}
	b, err := bd.tensor(name+".bias", dims[0])
	if err != nil {
		return err
	}
	if ln.Weight, err = bd.backend.Vector(name+".weight", g); err != nil {
		return err
	}
	if ln.Bias, err = bd.backend.Vector(name+".bias", b); err != nil {
		return err
	}
	bd.release(name+".weight", name+".bias")
	ln.Eps = bd.eps
	return nil
}

func (bd *binder) embedding(name string, e *Embedding, dims []int) error {
	if len(dims) != 2 {
		return fmt.Errorf("bert: %s: an Embedding needs dims \"rows,cols\"", name)
	}
	// A backend that builds its tables from blocks (tableBuilder) gets the
	// checkpoint's values a block at a time, each block's mapped pages
	// given back once copied (Float32Blocks): XLM-R's 1 GB word embeddings
	// then never sit in memory twice (copy + mapped file).
	tb, builds := bd.backend.(tableBuilder)
	blocks, streams := bd.src.(interface {
		Info(name string) (weights.TensorInfo, bool)
		Float32Blocks(name string, fn func(off int, vals []float32) error) error
	})
	if builds && streams {
		full := name + ".weight"
		if info, ok := blocks.Info(full); ok {
			if err := bd.ctx.Err(); err != nil {
				return err
			}
			if err := checkShape(full, info.Shape, dims); err != nil {
				return err
			}
			w, err := tb.BuildTable(full, dims[0], dims[1], func(put func(off int, vals []float32) error) error {
				return blocks.Float32Blocks(full, func(off int, vals []float32) error {
					if err := checkFinite(full, off, vals); err != nil {
						return err
					}
					return put(off, vals)
				})
			})
			if err != nil {
				return err
			}
			e.Weight = w
			return nil
		}
	}
	w, err := bd.tensor(name+".weight", dims...)
	if err != nil {
		return err
	}
	if e.Weight, err = bd.backend.Table(name+".weight", w, dims[0], dims[1]); err != nil {
		return err
	}
	bd.release(name + ".weight")
	return nil
}

// tableBuilder is a backend that allocates a table's storage itself and
// fills it from blocks of values (read calls put for each block).
type tableBuilder interface {
	BuildTable(name string, rows, cols int, read func(put func(off int, vals []float32) error) error) (Weight, error)
}

// release tells the source that the backend has taken these tensors
// (weights.Checkpoint.Release): backends copy what they keep (Load closes
// the checkpoint once the model is built), so the mapped file's pages need
// not stay resident beside the copies, and a model's peak memory is its
// copies, not its copies plus the whole checkpoint. Were a backend to keep
// a view, it would still read the right values: released pages fault back
// in from the page cache.
func (bd *binder) release(names ...string) {
	r, ok := bd.src.(interface{ Release(name string) })
	if !ok {
		return
	}
	for _, n := range names {
		r.Release(n)
	}
}

// tensor reads a tensor and checks that it has the shape the config
// implies and only finite values: a NaN in a weight would otherwise surface
// as NaN scores with no hint of where it came from.
func (bd *binder) tensor(name string, want ...int) ([]float32, error) {
	if err := bd.ctx.Err(); err != nil {
		return nil, err
	}
	data, shape, err := bd.src.Float32(name)
	if err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	if err := checkShape(name, shape, want); err != nil {
		return nil, err
	}
	if err := checkFinite(name, 0, data); err != nil {
		return nil, err
	}
	return data, nil
}

// checkShape refuses a tensor whose shape is not the one config.json implies.
func checkShape(name string, shape, want []int) error {
	if !slices.Equal(shape, want) {
		return fmt.Errorf("bert: tensor %q: shape %v, want %v (from config.json)", name, shape, want)
	}
	return nil
}

// checkFinite refuses a NaN or an infinity among the values of tensor name
// from index off on: it would otherwise surface as NaN scores with no hint
// of where it came from.
func checkFinite(name string, off int, vals []float32) error {
	for i, x := range vals {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("bert: tensor %q: element %d is %v", name, off+i, x)
		}
	}
	return nil
}

// shape turns a dims tag ("intermediate,hidden") into sizes.
func (bd *binder) shape(tag string) ([]int, error) {
	if tag == "" {
		return nil, nil
	}
	var out []int
	for _, d := range strings.Split(tag, ",") {
		n, ok := bd.dims[d]
		if !ok {
			return nil, fmt.Errorf("unknown dimension %q", d)
		}
		out = append(out, n)
	}
	return out, nil
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
