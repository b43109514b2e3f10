package weights

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The all-MiniLM-L6-v2 and bge-small-en-v1.5 files, as the Hub ships them
// (legacy pooling keys), and what sentence-transformers 6 writes.
const (
	miniLMModules = `[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
 {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
 {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]`
	miniLMPooling = `{"word_embedding_dimension": 384, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true,
 "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false}`
	bgePooling = `{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false,
 "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false, "pooling_mode_weightedmean_tokens": false, "pooling_mode_lasttoken": false, "include_prompt": true}`
	st6Pooling  = `{"embedding_dimension": 32, "pooling_mode": ["cls", "max"], "include_prompt": false}`
	e5STConfig  = `{"__version__": {"sentence_transformers": "2.6.1"}, "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": null}`
	denseConfig = `{"in_features": 32, "out_features": 16, "bias": true, "activation_function": "torch.nn.modules.activation.Tanh"}`
)

func TestParsePooling(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		dim     int
		modes   []PoolingMode
		include bool
	}{
		{miniLMPooling, 384, []PoolingMode{PoolMean}, true},
		{bgePooling, 384, []PoolingMode{PoolCLS}, true},
		{st6Pooling, 32, []PoolingMode{PoolCLS, PoolMax}, false},
		{`{"embedding_dimension": 8, "pooling_mode": "lasttoken"}`, 8, []PoolingMode{PoolLastToken}, true},
		// Legacy keys concatenate in sentence-transformers' order, not the file's.
		{`{"word_embedding_dimension": 8, "pooling_mode_lasttoken": true, "pooling_mode_cls_token": true}`, 8, []PoolingMode{PoolCLS, PoolLastToken}, true},
		// No mode at all: mean, as sentence-transformers does.
		{`{"word_embedding_dimension": 8}`, 8, []PoolingMode{PoolMean}, true},
	} {
		p, err := ParsePooling([]byte(tc.raw))
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		if p.Dimension != tc.dim || !slices.Equal(p.Modes, tc.modes) || p.IncludePrompt != tc.include {
			t.Errorf("%s: got %+v", tc.raw, p)
		}
	}
	for raw, want := range map[string]string{
		`[]`: "cannot unmarshal", `null`: "not a JSON object", `{}`: "word_embedding_dimension is 0",
		`{"embedding_dimension": 8, "pooling_mode": "median"}`:         `pooling_mode "median"`,
		`{"embedding_dimension": 8, "pooling_mode": []}`:               "empty list",
		`{"embedding_dimension": -1}`:                                  "embedding_dimension is -1",
		`{"embedding_dimension": 8, "include_prompt": "no"}`:           "include_prompt",
		`{"word_embedding_dimension": 8, "pooling_mode_cls_token": 1}`: "pooling_mode_cls_token",
		`{"embedding_dimension": 8`:                                    "unexpected end",
	} {
		if _, err := ParsePooling([]byte(raw)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", raw, err, want)
		}
	}
}

func TestParseModules(t *testing.T) {
	mods, err := ParseModules([]byte(miniLMModules))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range mods {
		kinds = append(kinds, m.Kind())
	}
	if strings.Join(kinds, ",") != "Transformer,Pooling,Normalize" || mods[1].Path != "1_Pooling" {
		t.Errorf("got %+v", mods)
	}
	for raw, want := range map[string]string{
		`[]`: "no modules", `{}`: "cannot unmarshal", `[{"idx":0,"path":""}]`: "no type",
		`[{"idx":0,"path":"../x","type":"a.Pooling"}]`: "leaves the model folder",
		`[{"idx":0,"path":"/etc","type":"a.Pooling"}]`: "not a relative folder",
		`[{"idx":0,"path":"a/../../b","type":"a.X"}]`:  "leaves the model folder",
		`[{"idx":0,"path":"a\\b","type":"a.X"}]`:       "not a relative folder",
		`[{"idx":0,"path":".","type":"a.X"}]`:          "leaves the model folder",
		`[{"idx":0,"path":"a//b","type":"a.X"}]`:       "not clean",
	} {
		if _, err := ParseModules([]byte(raw)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", raw, err, want)
		}
	}
}

func TestParseDenseAndSTConfig(t *testing.T) {
	c, act, err := ParseDenseConfig([]byte(denseConfig))
	if err != nil || c.InFeatures != 32 || c.OutFeatures != 16 || act != DenseTanh {
		t.Errorf("dense: %+v %q %v", c, act, err)
	}
	// Not under torch.: sentence-transformers falls back to Tanh.
	if _, act, err := ParseDenseConfig([]byte(`{"in_features": 2, "out_features": 2, "activation_function": "my.pkg.Act"}`)); err != nil || act != DenseTanh {
		t.Errorf("untrusted activation: %q %v, want tanh", act, err)
	}
	if _, act, _ := ParseDenseConfig([]byte(`{"in_features": 2, "out_features": 2, "activation_function": "torch.nn.modules.linear.Identity"}`)); act != DenseIdentity {
		t.Errorf("identity: %q", act)
	}
	for raw, want := range map[string]string{
		`{"in_features": 0, "out_features": 2}`:                                            "in_features 0",
		`{"in_features": 2, "out_features": 2, "activation_function": "torch.nn.Softmax"}`: "not supported",
		`{"in_features": 2, "out_features": 2, "module_input_name": "token_embeddings"}`:   "token_embeddings",
	} {
		if _, _, err := ParseDenseConfig([]byte(raw)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", raw, err, want)
		}
	}
	s, err := ParseSTConfig([]byte(e5STConfig))
	if err != nil || s.Prompts["query"] != "query: " || s.DefaultPromptName != "" {
		t.Errorf("e5: %+v %v", s, err)
	}
	for raw, want := range map[string]string{
		`{"prompts": {"q": "x"}, "default_prompt_name": "query"}`: `default_prompt_name "query"`,
		`{"similarity_fn_name": "jaccard"}`:                       "jaccard",
		`{"truncate_dim": -3}`:                                    "truncate_dim",
		`{"prompts": ["x"]}`:                                      "cannot unmarshal",
	} {
		if _, err := ParseSTConfig([]byte(raw)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", raw, err, want)
		}
	}
}

// writeFiles writes name -> content under dir (names may hold folders).
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func stRepo() map[string][]byte {
	return map[string][]byte{
		"modules.json": []byte(`[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
 {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
 {"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"},
 {"idx":3,"name":"3","path":"3_Normalize","type":"sentence_transformers.models.Normalize"}]`),
		"1_Pooling/config.json":             []byte(`{"word_embedding_dimension": 4, "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": true}`),
		"2_Dense/config.json":               []byte(`{"in_features": 8, "out_features": 3, "bias": true, "activation_function": "torch.nn.modules.linear.Identity"}`),
		"2_Dense/model.safetensors":         safetensorsBytes([]testTensor{{"linear.weight", F32, []int{3, 8}, seq(24, 0.5)}, {"linear.bias", F32, []int{3}, seq(3, 1)}}, nil),
		"2_Dense/pytorch_model.bin":         []byte("pickle that must not be fetched"),
		"sentence_bert_config.json":         []byte(`{"max_seq_length": 256, "do_lower_case": false}`),
		"config_sentence_transformers.json": []byte(e5STConfig),
		"onnx/model.onnx":                   []byte("not fetched"),
	}
}

func TestLoadSentenceTransformer(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, stRepo())
	s, err := LoadSentenceTransformer(dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	if s.MaxSeqLength != 256 || !slices.Equal(s.Pooling.Modes, []PoolingMode{PoolMax, PoolMean}) || s.Dim() != 3 || !s.Normalized() || s.Prompts["passage"] != "passage: " || len(s.Post) != 2 {
		t.Fatalf("got %+v", s)
	}
	d := s.Post[0].(*Dense)
	if d.In != 8 || d.Out != 3 || d.Activation != DenseIdentity || len(d.Weight) != 24 || d.Bias[2] != 1 {
		t.Errorf("dense %+v", d)
	}
	if _, err := LoadSentenceTransformer(dir, 5); err == nil || !strings.Contains(err.Error(), "hidden_size is 5") {
		t.Errorf("hidden mismatch: %v", err)
	}

	// No modules.json: mean pooling, with a note.
	plain := t.TempDir()
	s, err = LoadSentenceTransformer(plain, 7)
	if err != nil || s.Pooling.Dimension != 7 || !slices.Equal(s.Pooling.Modes, []PoolingMode{PoolMean}) || len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "mean pooling") {
		t.Errorf("plain folder: %+v, %v", s, err)
	}

	bad := func(name string, files map[string][]byte, want string) {
		t.Helper()
		d := t.TempDir()
		all := stRepo()
		for k, v := range files {
			if v == nil {
				delete(all, k)
			} else {
				all[k] = v
			}
		}
		writeFiles(t, d, all)
		if _, err := LoadSentenceTransformer(d, 4); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, want)
		}
	}
	bad("dense weights missing", map[string][]byte{"2_Dense/model.safetensors": nil}, "pickle")
	bad("dense shape", map[string][]byte{"2_Dense/model.safetensors": safetensorsBytes([]testTensor{{"linear.weight", F32, []int{8, 3}, seq(24, 1)}, {"linear.bias", F32, []int{3}, seq(3, 1)}}, nil)}, "shape [8 3], want [3 8]")
	bad("dense in_features", map[string][]byte{"2_Dense/config.json": []byte(`{"in_features": 4, "out_features": 3}`)}, "in_features 4, but the module before gives 8")
	bad("pooling config missing", map[string][]byte{"1_Pooling/config.json": nil}, "Pooling module")
	bad("unknown module", map[string][]byte{"modules.json": []byte(`[{"idx":0,"path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"path":"x","type":"sentence_transformers.models.LSTM"}]`)}, "LSTM")
	bad("no pooling", map[string][]byte{"modules.json": []byte(`[{"idx":0,"path":"","type":"sentence_transformers.models.Transformer"}]`)}, "no Pooling module")
	bad("not a transformer", map[string][]byte{"modules.json": []byte(`[{"idx":0,"path":"","type":"sentence_transformers.models.StaticEmbedding"}]`)}, "want Transformer")
	bad("old layout", map[string][]byte{"modules.json": []byte(`[{"idx":0,"path":"0_Transformer","type":"sentence_transformers.models.Transformer"}]`)}, "0_Transformer")
	bad("max_seq_length", map[string][]byte{"sentence_bert_config.json": []byte(`{"max_seq_length": 0}`)}, "max_seq_length is 0")
	bad("truncate_dim", map[string][]byte{"config_sentence_transformers.json": []byte(`{"truncate_dim": 9}`)}, "truncate_dim 9")
	bad("garbage modules", map[string][]byte{"modules.json": []byte(`{`)}, "modules.json")
}

func TestDownloadSentenceTransformer(t *testing.T) {
	h := newFakeHub(t)
	files := stRepo()
	for k, v := range tinyRepo(t) {
		files[k] = v
	}
	h.addRepo("org/embedder", files)
	cache := t.TempDir()
	dir, err := Resolve(context.Background(), "org/embedder", hubOpts(h, cache))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); err != nil {
			t.Errorf("%s not fetched: %v", f, err)
		}
	}
	for _, f := range []string{"2_Dense/pytorch_model.bin", "onnx/model.onnx"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); err == nil {
			t.Errorf("%s fetched", f)
		}
	}
	if _, err := LoadSentenceTransformer(dir, 4); err != nil {
		t.Errorf("the snapshot does not load: %v", err)
	}
	// Offline, the cache is complete; with a module file gone it is not.
	opts := hubOpts(h, cache)
	opts.Offline = true
	if _, err := Resolve(context.Background(), "org/embedder", opts); err != nil {
		t.Errorf("offline: %v", err)
	}
	os.Remove(filepath.Join(dir, "1_Pooling", "config.json"))
	if _, err := Resolve(context.Background(), "org/embedder", opts); err == nil || !strings.Contains(err.Error(), "1_Pooling/config.json") {
		t.Errorf("offline with a module file gone: %v", err)
	}
}

func FuzzParsePooling(f *testing.F) {
	for _, s := range []string{miniLMPooling, bgePooling, st6Pooling, `{"embedding_dimension": 8, "pooling_mode": "lasttoken"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePooling(b)
		if err != nil {
			return
		}
		if p.Dimension <= 0 || len(p.Modes) == 0 || p.OutputDim() <= 0 {
			t.Fatalf("accepted %+v", p)
		}
		for _, m := range p.Modes {
			if !knownMode(m) {
				t.Fatalf("unknown mode %q accepted", m)
			}
		}
	})
}

func FuzzParseModules(f *testing.F) {
	f.Add([]byte(miniLMModules))
	f.Add([]byte(`[{"idx":1,"path":"a/b","type":"x.Dense"},{"idx":0,"path":"","type":"x.Transformer"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		mods, err := ParseModules(b)
		if err != nil {
			return
		}
		for _, m := range mods {
			p := filepath.Join("/model", filepath.FromSlash(m.Path))
			if rel, err := filepath.Rel("/model", p); err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("path %q leaves the folder", m.Path)
			}
		}
	})
}

func FuzzParseSentenceConfigs(f *testing.F) {
	f.Add([]byte(denseConfig))
	f.Add([]byte(e5STConfig))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, act, err := ParseDenseConfig(b); err == nil {
			if c.InFeatures <= 0 || c.OutFeatures <= 0 || act == "" {
				t.Fatalf("dense accepted %+v %q", c, act)
			}
		}
		if c, err := ParseSTConfig(b); err == nil && c.DefaultPromptName != "" {
			if _, ok := c.Prompts[c.DefaultPromptName]; !ok {
				t.Fatalf("default prompt %q missing", c.DefaultPromptName)
			}
		}
	})
}
