package ml

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
//	Query ml.Linear `hf:"query" dims:"hidden,hidden"`
//
// Bind walks a module, joins the hf names into the full tensor name
// ("bert.encoder.layer.3.attention.self.query.weight"), reads the tensor,
// checks its shape and values and hands it to the backend, once, at load.
// A field whose type implements Param (Linear, LayerNorm, Embedding) binds
// itself; a struct field is walked; a slice field is a ModuleList, element
// i named "<name>.<i>".

// TensorSource is where weights come from: a *weights.Checkpoint, or a map
// of tensors in tests. The binder also uses, when the source has them, the
// methods Info and Float32Blocks (to stream embedding tables, see
// TableBuilder) and Release (to give a tensor's mapped pages back once the
// backend has copied it).
type TensorSource interface {
	Float32(name string) (data []float32, shape []int, err error)
}

// Param is a module that binds its own weights: name is its full name in
// the checkpoint ("bert.pooler.dense") and dims its dims tag resolved to
// sizes. Linear, LayerNorm and Embedding are Params; a new kind of weight
// (a norm without bias, say) is a new Param, with no change to the binder.
type Param interface {
	BindParam(bd *Binder, name string, dims []int) error
}

// Binder binds a model's weights on a backend.
type Binder struct {
	Ctx     context.Context // loading a large checkpoint takes seconds; nil means Background
	Backend Backend
	Src     TensorSource
	Dims    map[string]int // dims tag names: "hidden" -> hidden_size, ...
	Eps     float32        // the config's norm epsilon, given to every LayerNorm
}

var paramType = reflect.TypeFor[Param]()

// Bind binds every hf-tagged field of the struct module points to, under
// the name prefix.
func (bd *Binder) Bind(prefix string, module any) error {
	v := reflect.ValueOf(module)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("bind %T: want a pointer to a struct", module)
	}
	return bd.bindStruct(prefix, v.Elem())
}

func (bd *Binder) bindStruct(prefix string, v reflect.Value) error {
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
			return fmt.Errorf("field %s.%s: %w", t.Name(), f.Name, err)
		}
		if err := bd.bindValue(name, v.Field(i), dims); err != nil {
			return err
		}
	}
	return nil
}

func (bd *Binder) bindValue(name string, v reflect.Value, dims []int) error {
	if v.Addr().Type().Implements(paramType) {
		return v.Addr().Interface().(Param).BindParam(bd, name, dims)
	}
	var err error
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
		err = fmt.Errorf("%s: cannot bind a %s", name, v.Type())
	}
	return err
}

func (bd *Binder) ctx() context.Context {
	if bd.Ctx == nil {
		return context.Background()
	}
	return bd.Ctx
}

// Tensor reads a tensor and checks that it has the shape the config
// implies (want) and only finite values: a NaN in a weight would otherwise
// surface as NaN scores with no hint of where it came from.
func (bd *Binder) Tensor(name string, want ...int) ([]float32, error) {
	if err := bd.ctx().Err(); err != nil {
		return nil, err
	}
	data, shape, err := bd.Src.Float32(name)
	if err != nil {
		return nil, err
	}
	if err := checkShape(name, shape, want); err != nil {
		return nil, err
	}
	if err := checkFinite(name, 0, data); err != nil {
		return nil, err
	}
	return data, nil
}

// Rows reads rows idx of the [rows, cols] tensor name, one after another,
// with Tensor's checks. A source that reads rows alone (Float32Rows, as
// weights.Checkpoint does) widens only those rows: a head made of two rows
// of a tied 151,669-row embedding table then costs two rows, not a float32
// copy of the table.
func (bd *Binder) Rows(name string, rows, cols int, idx ...int) ([]float32, error) {
	if err := bd.ctx().Err(); err != nil {
		return nil, err
	}
	for _, i := range idx {
		if i < 0 || i >= rows {
			return nil, fmt.Errorf("tensor %q: row %d outside [0, %d)", name, i, rows)
		}
	}
	want := []int{rows, cols}
	if rs, ok := bd.Src.(interface {
		Float32Rows(name string, idx ...int) ([]float32, []int, error)
	}); ok {
		data, shape, err := rs.Float32Rows(name, idx...)
		if err != nil {
			return nil, err
		}
		if err := checkShape(name, shape, want); err != nil {
			return nil, err
		}
		for k, i := range idx {
			if err := checkFinite(name, i*cols, data[k*cols:(k+1)*cols]); err != nil {
				return nil, err
			}
		}
		return data, nil
	}
	w, err := bd.Tensor(name, want...)
	if err != nil {
		return nil, err
	}
	out := make([]float32, 0, len(idx)*cols)
	for _, i := range idx {
		out = append(out, w[i*cols:(i+1)*cols]...)
	}
	return out, nil
}

// Release tells the source that the backend has taken these tensors
// (weights.Checkpoint.Release): backends copy what they keep (models close
// the checkpoint once they are built), so the mapped file's pages need
// not stay resident beside the copies, and a model's peak memory is its
// copies, not its copies plus the whole checkpoint. Were a backend to keep
// a view, it would still read the right values: released pages fault back
// in from the page cache.
func (bd *Binder) Release(names ...string) {
	r, ok := bd.Src.(interface{ Release(name string) })
	if !ok {
		return
	}
	for _, n := range names {
		r.Release(n)
	}
}

// table prepares the embedding table name of dims [rows, cols]. A backend
// that builds its tables from blocks (TableBuilder) gets the checkpoint's
// values a block at a time, each block's mapped pages given back once
// copied (Float32Blocks): XLM-R's 1 GB word embeddings then never sit in
// memory twice (copy + mapped file).
func (bd *Binder) table(name string, dims []int) (Weight, error) {
	tb, builds := bd.Backend.(TableBuilder)
	blocks, streams := bd.Src.(interface {
		Info(name string) (weights.TensorInfo, bool)
		Float32Blocks(name string, fn func(off int, vals []float32) error) error
	})
	if builds && streams {
		if info, ok := blocks.Info(name); ok {
			if err := bd.ctx().Err(); err != nil {
				return nil, err
			}
			if err := checkShape(name, info.Shape, dims); err != nil {
				return nil, err
			}
			return tb.BuildTable(name, dims[0], dims[1], func(put func(off int, vals []float32) error) error {
				return blocks.Float32Blocks(name, func(off int, vals []float32) error {
					if err := checkFinite(name, off, vals); err != nil {
						return err
					}
					return put(off, vals)
				})
			})
		}
	}
	w, err := bd.Tensor(name, dims...)
	if err != nil {
		return nil, err
	}
	t, err := bd.Backend.Table(name, w, dims[0], dims[1])
	if err != nil {
		return nil, err
	}
	bd.Release(name)
	return t, nil
}

// checkShape refuses a tensor whose shape is not the one config.json implies.
func checkShape(name string, shape, want []int) error {
	if !slices.Equal(shape, want) {
		return fmt.Errorf("tensor %q: shape %v, want %v (from config.json)", name, shape, want)
	}
	return nil
}

// checkFinite refuses a NaN or an infinity among the values of tensor name
// from index off on: it would otherwise surface as NaN scores with no hint
// of where it came from.
func checkFinite(name string, off int, vals []float32) error {
	for i, x := range vals {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("tensor %q: element %d is %v", name, off+i, x)
		}
	}
	return nil
}

// shape turns a dims tag ("intermediate,hidden") into sizes.
func (bd *Binder) shape(tag string) ([]int, error) {
	if tag == "" {
		return nil, nil
	}
	var out []int
	for _, d := range strings.Split(tag, ",") {
		n, ok := bd.Dims[d]
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
