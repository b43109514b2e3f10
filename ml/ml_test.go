package ml

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/weights"
)

// fakeBackend records what it was asked to prepare; its runs have none of
// the optional operations.
type fakeBackend struct{ prepared []string }

func (b *fakeBackend) Name() string { return "fake" }
func (b *fakeBackend) Matrix(name string, _ []float32, out, in int) (Weight, error) {
	b.prepared = append(b.prepared, fmt.Sprintf("matrix %s [%d %d]", name, out, in))
	return name, nil
}
func (b *fakeBackend) Vector(name string, data []float32) (Weight, error) {
	b.prepared = append(b.prepared, fmt.Sprintf("vector %s [%d]", name, len(data)))
	return name, nil
}
func (b *fakeBackend) Table(name string, _ []float32, rows, cols int) (Weight, error) {
	b.prepared = append(b.prepared, fmt.Sprintf("table %s [%d %d]", name, rows, cols))
	return name, nil
}
func (b *fakeBackend) NewRun(context.Context, int) (Run, error) { return fakeRun{}, nil }
func (b *fakeBackend) Close() error                             { return nil }

type fakeRun struct{ Run }

func (fakeRun) Close() {}

type source map[string][]int // tensor name -> shape, values all 0.5 (or NaN for "nan")

func (s source) Float32(name string) ([]float32, []int, error) {
	shape, ok := s[name]
	if !ok {
		return nil, nil, fmt.Errorf("tensor %q: %w", name, weights.ErrNotFound)
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = 0.5
		if strings.Contains(name, "nan") {
			v[i] = float32(math.NaN())
		}
	}
	return v, shape, nil
}

// scale is a Param of this test's own: one vector, no bias.
type scale struct{ W Weight }

func (s *scale) BindParam(bd *Binder, name string, dims []int) error {
	v, err := bd.Tensor(name+".weight", dims...)
	if err != nil {
		return err
	}
	s.W, err = bd.Backend.Vector(name+".weight", v)
	return err
}

type block struct {
	Dense Linear    `hf:"dense" dims:"out,in"`
	Norm  LayerNorm `hf:"norm" dims:"out"`
	Scale scale     `hf:"scale" dims:"out"`
	Skip  int       // untagged: left alone
}

type module struct {
	Emb    Embedding `hf:"emb" dims:"rows,in"`
	Layers []block   `hf:"layer"`
}

func TestBinder(t *testing.T) {
	src := source{"m.emb.weight": {5, 3}}
	for i := range 2 {
		p := fmt.Sprintf("m.layer.%d.", i)
		src[p+"dense.weight"], src[p+"dense.bias"] = []int{4, 3}, []int{4}
		src[p+"norm.weight"], src[p+"norm.bias"] = []int{4}, []int{4}
		src[p+"scale.weight"] = []int{4}
	}
	b := &fakeBackend{}
	bd := &Binder{Backend: b, Src: src, Dims: map[string]int{"rows": 5, "in": 3, "out": 4}, Eps: 1e-5}
	m := module{Layers: make([]block, 2)}
	if err := bd.Bind("m", &m); err != nil {
		t.Fatal(err)
	}
	want := "table m.emb.weight [5 3]|matrix m.layer.0.dense.weight [4 3]|vector m.layer.0.dense.bias [4]|" +
		"vector m.layer.0.norm.weight [4]|vector m.layer.0.norm.bias [4]|vector m.layer.0.scale.weight [4]"
	if got := strings.Join(b.prepared[:6], "|"); got != want {
		t.Errorf("prepared\n%s\nwant\n%s", got, want)
	}
	if len(b.prepared) != 11 || m.Layers[1].Norm.Eps != 1e-5 || m.Layers[1].Scale.W != "m.layer.1.scale.weight" {
		t.Errorf("prepared %d weights, eps %v, scale %v", len(b.prepared), m.Layers[1].Norm.Eps, m.Layers[1].Scale.W)
	}

	for _, tc := range []struct {
		name   string
		src    source
		dims   map[string]int
		module any
		want   string
	}{
		{"shape", source{"x.dense.weight": {4, 2}, "x.dense.bias": {4}}, map[string]int{"out": 4, "in": 3}, &struct {
			L Linear `hf:"dense" dims:"out,in"`
		}{}, `tensor "x.dense.weight": shape [4 2], want [4 3]`},
		{"missing", source{}, map[string]int{"out": 4, "in": 3}, &struct {
			L Linear `hf:"dense" dims:"out,in"`
		}{}, "no such tensor"},
		{"nan", source{"x.nan.weight": {4}, "x.nan.bias": {4}}, map[string]int{"out": 4}, &struct {
			N LayerNorm `hf:"nan" dims:"out"`
		}{}, "element 0 is NaN"},
		{"dimension", source{}, map[string]int{}, &struct {
			N LayerNorm `hf:"n" dims:"hidden"`
		}{}, `unknown dimension "hidden"`},
		{"field type", source{}, map[string]int{}, &struct {
			N int `hf:"n"`
		}{}, "cannot bind a int"},
		{"not a pointer", source{}, map[string]int{}, struct{}{}, "want a pointer to a struct"},
	} {
		bd := &Binder{Backend: &fakeBackend{}, Src: tc.src, Dims: tc.dims}
		if err := bd.Bind("x", tc.module); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one containing %q", tc.name, err, tc.want)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	bd = &Binder{Ctx: ctx, Backend: b, Src: src, Dims: map[string]int{"rows": 5, "in": 3, "out": 4}}
	if err := bd.Bind("m", &module{Layers: make([]block, 2)}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err %v", err)
	}
}

func TestRegistry(t *testing.T) {
	var got string
	var gotReq Request
	fn := func(name string) NewFunc {
		return func(_ context.Context, req Request) (Model, error) {
			got, gotReq = name, req
			return nil, errors.New("built")
		}
	}
	Register("TestArchForSequenceClassification", fn("arch"))
	Register("test-arch", fn("type"))
	// The registry is global: take the test's names out again, so that the
	// test can run twice in one process (go test -count=N).
	t.Cleanup(func() {
		registryMu.Lock()
		delete(registry, "TestArchForSequenceClassification")
		delete(registry, "test-arch")
		registryMu.Unlock()
	})
	for _, tc := range []struct {
		archs     []string
		modelType string
		want      string
	}{
		{[]string{"Other", "TestArchForSequenceClassification"}, "x", "arch"},
		{nil, "test-arch", "type"},
	} {
		name, f, err := Lookup(tc.archs, tc.modelType)
		if err != nil {
			t.Fatal(err)
		}
		got = ""
		f(context.Background(), Request{Arch: name})
		if got != tc.want || gotReq.Arch != map[string]string{"arch": "TestArchForSequenceClassification", "type": "test-arch"}[tc.want] {
			t.Errorf("%v %q: ran %q as %q, want %q", tc.archs, tc.modelType, got, gotReq.Arch, tc.want)
		}
	}
	// A config naming architectures none of which is registered does not
	// fall back to its model_type.
	_, _, err := Lookup([]string{"Nope"}, "test-arch")
	if err == nil || !strings.Contains(err.Error(), "TestArchForSequenceClassification") {
		t.Errorf("unregistered: err %v, want one listing what is registered", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("registering a name twice did not panic")
			}
		}()
		Register("test-arch", fn("again"))
	}()
	if _, err := Load(context.Background(), t.TempDir(), nil); err == nil {
		t.Error("Load with no backend: no error")
	}

	// LoadWith hands the architecture the folder, config.json as read, the
	// name that matched, the checkpoint, the backend and the token ids.
	dir := t.TempDir()
	raw := []byte(`{"architectures": ["TestArchForSequenceClassification"], "own_field": 3}`)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("\x02\x00\x00\x00\x00\x00\x00\x00{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &fakeBackend{}
	tokenID := func(string) (int32, error) { return 7, nil }
	if _, err := LoadWith(context.Background(), dir, b, LoadOptions{TokenID: tokenID}); err == nil || err.Error() != "built" {
		t.Fatalf("LoadWith: %v", err)
	}
	if got != "arch" || gotReq.Dir != dir || string(gotReq.Raw) != string(raw) || gotReq.Arch != "TestArchForSequenceClassification" ||
		gotReq.Src == nil || gotReq.Backend != b || gotReq.TokenID == nil || gotReq.ConfigPath() != filepath.Join(dir, "config.json") {
		t.Errorf("request %+v", gotReq)
	}
	if id, _ := gotReq.TokenID("x"); id != 7 {
		t.Errorf("TokenID gave %d", id)
	}
	// An architecture nobody registered: the error lists those that are.
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures": ["DebertaV2ForSequenceClassification"]}`), 0o644)
	if _, err := Load(context.Background(), dir, b); err == nil || !strings.Contains(err.Error(), "registered: ") ||
		!strings.Contains(err.Error(), "TestArchForSequenceClassification") {
		t.Errorf("unknown architecture: %v", err)
	}
}

func TestOwnAndHostValues(t *testing.T) {
	v, err := NewHostVector("b", []float32{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := HostValues(v, 2); err != nil || len(got) != 2 {
		t.Errorf("HostValues: %v, %v", got, err)
	}
	if _, err := HostValues(v, 3); err == nil || !strings.Contains(err.Error(), `vector "b" has 2 values, want 3`) {
		t.Errorf("wrong length: %v", err)
	}
	if _, err := HostValues("not a vector", 2); err == nil || !strings.Contains(err.Error(), "got a string vector") {
		t.Errorf("wrong type: %v", err)
	}
	if _, err := Own[*HostVector]((*HostVector)(nil), "vector"); err == nil {
		t.Error("a nil *HostVector was accepted")
	}
	if _, err := NewHostVector("e", nil); err == nil {
		t.Error("an empty vector was accepted")
	}
}

func TestNeed(t *testing.T) {
	err := Need[LinearActRun](&fakeBackend{}, "LinearAct")
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "backend fake has no LinearAct") {
		t.Errorf("Need: %v", err)
	}
	if err := Need[Run](&fakeBackend{}, "Run"); err != nil {
		t.Errorf("Need of what the run has: %v", err)
	}
}

func TestCheckOffsets(t *testing.T) {
	for _, tc := range []struct {
		off    []int32
		tokens int
		ok     bool
	}{
		{[]int32{0, 3, 5}, 5, true}, {[]int32{0, 0, 5}, 5, true}, {[]int32{0}, 0, false},
		{[]int32{1, 5}, 5, false}, {[]int32{0, 4}, 5, false}, {[]int32{0, 4, 3, 5}, 5, false},
	} {
		if err := CheckOffsets(tc.off, tc.tokens); (err == nil) != tc.ok {
			t.Errorf("%v over %d: %v", tc.off, tc.tokens, err)
		}
	}
}
