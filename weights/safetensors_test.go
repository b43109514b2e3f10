package weights

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFloat32Dtypes(t *testing.T) {
	// Values exactly representable in every dtype, so any conversion error shows.
	vals := seq(12, 0.25)
	dir := t.TempDir()
	p := filepath.Join(dir, "model.safetensors")
	writeFile(t, p, safetensorsBytes([]testTensor{
		{"a32", F32, []int{3, 4}, vals},
		{"a16", F16, []int{3, 4}, vals},
		{"abf", BF16, []int{12}, vals},
		{"ids", I64, []int{1, 12}, vals},
	}, map[string]string{"format": "pt"}))
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := c.Names(), []string{"a16", "a32", "abf", "ids"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Names = %v, want %v", got, want)
	}
	if c.Metadata()["format"] != "pt" {
		t.Errorf("Metadata = %v", c.Metadata())
	}
	for _, n := range []string{"a32", "a16", "abf"} {
		got, shape, err := c.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, vals) {
			t.Errorf("%s = %v, want %v", n, got, vals)
		}
		info, _ := c.Info(n)
		if !reflect.DeepEqual(shape, info.Shape) || info.Elements() != 12 {
			t.Errorf("%s: shape %v, info %+v", n, shape, info)
		}
	}
	if _, _, err := c.Float32("ids"); !errors.Is(err, ErrDType) || !strings.Contains(err.Error(), `"ids"`) {
		t.Errorf("Float32(I64) err = %v", err)
	}
	if _, _, err := c.Float32("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Float32(missing) err = %v", err)
	}
	b, _ := c.Bytes("a16")
	if len(b) != 24 {
		t.Errorf("Bytes(a16) has %d bytes, want 24", len(b))
	}
}

func TestPickleOnly(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pytorch_model.bin"), []byte("PK"))
	_, err := Open(dir)
	if err == nil || !strings.Contains(err.Error(), "safetensors") || !strings.Contains(err.Error(), "pickle") {
		t.Fatalf("err = %v", err)
	}
}

func TestLookupVariants(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "model.safetensors"), safetensorsBytes([]testTensor{
		{"embeddings.LayerNorm.gamma", F32, []int{2}, []float32{1, 2}},
		{"embeddings.LayerNorm.beta", F32, []int{2}, []float32{3, 4}},
		{"roberta.encoder.layer.0.output.dense.weight", F32, []int{1}, []float32{5}},
		{"classifier.weight", F32, []int{1, 2}, []float32{6, 7}},
		{"classifier.bias", F32, []int{1}, []float32{8}},
	}, nil))
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for canon, want := range map[string]string{
		"bert.embeddings.LayerNorm.weight":            "embeddings.LayerNorm.gamma",
		"roberta.embeddings.LayerNorm.bias":           "embeddings.LayerNorm.beta",
		"roberta.encoder.layer.0.output.dense.weight": "roberta.encoder.layer.0.output.dense.weight",
		"classifier.weight":                           "classifier.weight",
	} {
		got, ok := c.Lookup(canon)
		if !ok || got != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", canon, got, ok, want)
		}
	}
	if _, ok := c.Lookup("bert.encoder.layer.0.output.dense.weight"); ok {
		t.Error("Lookup found a roberta. tensor under a bert. name")
	}
	v, _, err := c.Float32("bert.embeddings.LayerNorm.bias")
	if err != nil || !reflect.DeepEqual(v, []float32{3, 4}) {
		t.Errorf("Float32 via canonical name = %v, %v", v, err)
	}
	if err := c.CheckHead(Bert); err != nil {
		t.Errorf("CheckHead(Bert) = %v", err)
	}
	err = c.CheckHead(XLMRoberta)
	if err == nil || !strings.Contains(err.Error(), "classifier.weight") || !strings.Contains(err.Error(), "classifier.out_proj.weight") {
		t.Errorf("CheckHead(XLMRoberta) = %v, want an error naming both head forms", err)
	}
}

func TestOpenMissing(t *testing.T) {
	if _, err := Open(t.TempDir()); err == nil {
		t.Fatal("Open of an empty folder succeeded")
	}
	if _, err := OpenFile(filepath.Join(t.TempDir(), "x.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}
