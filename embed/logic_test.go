package embed

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/crossrank/crossrank/weights"
)

// The embedder's logic (prompts, truncation, batching, options) on a fake
// tokenizer and encoder; the numbers are checked against
// sentence-transformers in golden_test.go.

// fakeTok encodes each byte as one id, framed by [1] ... [2].
type fakeTok struct{ max int }

func (f fakeTok) encode(text string) ([]int32, []int32, error) {
	if strings.Contains(text, "\x00") {
		return nil, nil, errors.New("fake: NUL")
	}
	ids := []int32{1}
	for _, b := range []byte(text) {
		ids = append(ids, int32(b))
	}
	ids = append(ids, 2)
	return ids, make([]int32, len(ids)), nil
}
func (fakeTok) frame() (int, int) { return 1, 1 }
func (f fakeTok) maxLength() int  { return f.max }

// fakeEnc gives token i of a sequence the row (id, position, 1, ...).
type fakeEnc struct {
	d, positions int
	calls        atomic.Int32
	seqs         atomic.Int32
}

func (f *fakeEnc) hidden(ctx context.Context, b []seq) ([][]float32, error) {
	f.calls.Add(1)
	f.seqs.Add(int32(len(b)))
	out := make([][]float32, len(b))
	for k, s := range b {
		h := make([]float32, len(s.ids)*f.d)
		for i, id := range s.ids {
			for j := range f.d {
				h[i*f.d+j] = float32(id) + float32(i)*0.5 + float32(j)
			}
		}
		out[k] = h
	}
	return out, ctx.Err()
}
func (f *fakeEnc) hiddenRows(ctx context.Context, b []seq, rows []int) ([][]float32, error) {
	hs, err := f.hidden(ctx, b)
	if err != nil {
		return nil, err
	}
	return pickRows(hs, rows, f.d)
}
func (f *fakeEnc) hiddenSize() int { return f.d }
func (f *fakeEnc) maxTokens() int  { return f.positions }
func (f *fakeEnc) close() error    { return nil }

func newFake(t *testing.T, st *weights.SentenceTransformer, opts Options) (*Embedder, *fakeEnc) {
	t.Helper()
	enc := &fakeEnc{d: 3, positions: 512}
	if st.Pooling.Dimension == 0 {
		st.Pooling = weights.Pooling{Dimension: 3, Modes: []weights.PoolingMode{weights.PoolCLS}, IncludePrompt: true}
	}
	e, err := newEmbedder(engine{st: st, enc: fakeTok{max: 512}, mdl: enc}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, enc
}

func TestPromptsAndTruncation(t *testing.T) {
	st := &weights.SentenceTransformer{MaxSeqLength: 8, Prompts: map[string]string{"query": "q: ", "passage": "p: "}, DefaultPromptName: "query"}
	e, _ := newFake(t, st, Options{})
	ctx := context.Background()
	// cls pooling: the first row is [CLS]=1 at position 0, whatever the prompt.
	res, err := e.Embed(ctx, []string{"ab", "abcdefghij"}, EmbedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Tokens != 2+3+2 || res[0].Truncated || res[1].Tokens != 8 || !res[1].Truncated {
		t.Errorf("tokens/truncated: %+v", res)
	}
	if e.Info().MaxLength != 8 || e.Info().Dim != 3 {
		t.Errorf("info %+v", e.Info())
	}
	if _, err := e.Embed(ctx, []string{"x"}, EmbedOptions{PromptName: "nope"}); !errors.Is(err, ErrUnknownPrompt) {
		t.Errorf("unknown prompt: %v", err)
	}
	if _, err := e.Embed(ctx, []string{"abcdefghij"}, EmbedOptions{Truncation: NoTruncation}); !errors.Is(err, ErrTooLong) {
		t.Errorf("no truncation: %v", err)
	} else if ie := (*InputError)(nil); !errors.As(err, &ie) || ie.Index != 0 {
		t.Errorf("no index in %v", err)
	}
	for name, c := range map[string]struct {
		texts []string
		o     EmbedOptions
		want  error
	}{
		"none":    {nil, EmbedOptions{}, ErrNoInput},
		"utf8":    {[]string{"ok", "\xff"}, EmbedOptions{}, ErrInvalidUTF8},
		"dims":    {[]string{"a"}, EmbedOptions{Dimensions: 4}, ErrDimensions},
		"negdims": {[]string{"a"}, EmbedOptions{Dimensions: -1}, ErrDimensions},
	} {
		if _, err := e.Embed(ctx, c.texts, c.o); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func TestCut(t *testing.T) {
	s := seq{ids: []int32{1, 10, 11, 12, 13, 14, 2}, typeIDs: make([]int32, 7), skip: 3}
	end := cut(s, 5, 1, 1, false)
	if got := end.ids; len(got) != 5 || got[0] != 1 || got[3] != 12 || got[4] != 2 || end.skip != 3 {
		t.Errorf("end cut: %+v", end)
	}
	start := cut(s, 5, 1, 1, true)
	// Two tokens dropped from the front: both prompt tokens go, [CLS] stays skipped.
	if got := start.ids; got[1] != 12 || got[4] != 2 || start.skip != 1 {
		t.Errorf("start cut: %+v", start)
	}
	// A prompt cut at the end: only the closing token is pooled.
	deep := cut(seq{ids: []int32{1, 10, 11, 12, 13, 2}, typeIDs: make([]int32, 6), skip: 5}, 4, 1, 1, false)
	if deep.skip != 3 || len(deep.ids) != 4 {
		t.Errorf("deep cut: %+v", deep)
	}
}

func TestIncludePromptFalse(t *testing.T) {
	st := &weights.SentenceTransformer{Prompts: map[string]string{"query": "qq"}}
	st.Pooling = weights.Pooling{Dimension: 3, Modes: []weights.PoolingMode{weights.PoolCLS, weights.PoolMean}, IncludePrompt: false}
	e, _ := newFake(t, st, Options{})
	res, err := e.Embed(context.Background(), []string{"a"}, EmbedOptions{PromptName: "query"})
	if err != nil {
		t.Fatal(err)
	}
	// Tokens [CLS] q q a [SEP]; pooling starts at "a" (id 97, position 3).
	v := res[0].Vector
	if v[0] != 97+1.5 || math.Abs(float64(v[3])-float64((97+1.5+2+2)/2)) > 1e-6 {
		t.Errorf("cls/mean after the prompt: %v", v)
	}
	// An explicit empty prompt overrides the name; no prompt means nothing is skipped.
	empty := ""
	res, _ = e.Embed(context.Background(), []string{"a"}, EmbedOptions{Prompt: &empty})
	if res[0].Vector[0] != 1 {
		t.Errorf("no prompt: cls %v, want the [CLS] row", res[0].Vector)
	}
	// A prompt that fills the maximum length is refused.
	st2 := &weights.SentenceTransformer{MaxSeqLength: 4, Prompts: map[string]string{"query": "qqq"}}
	st2.Pooling = st.Pooling
	e2, _ := newFake(t, st2, Options{})
	if _, err := e2.Embed(context.Background(), []string{"a"}, EmbedOptions{PromptName: "query"}); !errors.Is(err, ErrTooLong) {
		t.Errorf("prompt filling max length: %v", err)
	}
}

func TestDimensionsAndNormalize(t *testing.T) {
	st := &weights.SentenceTransformer{Post: []any{weights.Normalize{}}}
	e, _ := newFake(t, st, Options{})
	ctx := context.Background()
	norm := func(v []float32) float64 {
		s := 0.0
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		return math.Sqrt(s)
	}
	res, _ := e.Embed(ctx, []string{"ab"}, EmbedOptions{})
	if math.Abs(norm(res[0].Vector)-1) > 1e-6 || !e.Info().Normalized {
		t.Errorf("Normalize module: %v", res[0].Vector)
	}
	res, _ = e.Embed(ctx, []string{"ab"}, EmbedOptions{Dimensions: 2})
	if len(res[0].Vector) != 2 || math.Abs(norm(res[0].Vector)-1) > 1e-6 {
		t.Errorf("dimensions of a unit vector: %v", res[0].Vector)
	}
	plain, _ := newFake(t, &weights.SentenceTransformer{}, Options{})
	res, _ = plain.Embed(ctx, []string{"ab"}, EmbedOptions{Dimensions: 2})
	if res[0].Vector[0] != 1 || res[0].Vector[1] != 2 {
		t.Errorf("dimensions without normalisation: %v", res[0].Vector)
	}
	res, _ = plain.Embed(ctx, []string{"ab"}, EmbedOptions{Normalize: true})
	if math.Abs(norm(res[0].Vector)-1) > 1e-6 {
		t.Errorf("Normalize option: %v", res[0].Vector)
	}
}

func TestConcurrentCallsShareBatches(t *testing.T) {
	e, enc := newFake(t, &weights.SentenceTransformer{}, Options{BatchSize: 64, BatchWait: 50e6, MaxInputs: 100})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			texts := []string{strings.Repeat("x", g+1), "y"}
			res, err := e.Embed(context.Background(), texts, EmbedOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			if res[0].Tokens != g+3 || res[1].Tokens != 3 {
				t.Errorf("call %d got another call's rows: %+v", g, res)
			}
		})
	}
	wg.Wait()
	if enc.seqs.Load() != 16 || enc.calls.Load() >= 8 {
		t.Errorf("%d sequences in %d passes: calls did not share batches", enc.seqs.Load(), enc.calls.Load())
	}
	if _, err := e.Embed(context.Background(), make([]string, 101), EmbedOptions{}); !errors.Is(err, ErrTooManyInputs) {
		t.Errorf("MaxInputs: %v", err)
	}
	e.Close()
	if _, err := e.Embed(context.Background(), []string{"a"}, EmbedOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Embed(ctx, []string{"a"}, EmbedOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	for name, c := range map[string]struct {
		st   *weights.SentenceTransformer
		opts Options
	}{
		"negative max length": {&weights.SentenceTransformer{}, Options{MaxLength: -1}},
		"past positions":      {&weights.SentenceTransformer{}, Options{MaxLength: 513}},
		"no room":             {&weights.SentenceTransformer{}, Options{MaxLength: 2}},
		"negative batch":      {&weights.SentenceTransformer{}, Options{BatchSize: -1}},
		"pooling dim":         {&weights.SentenceTransformer{Pooling: weights.Pooling{Dimension: 4, Modes: []weights.PoolingMode{weights.PoolMean}}}, Options{}},
	} {
		if c.st.Pooling.Dimension == 0 {
			c.st.Pooling = weights.Pooling{Dimension: 3, Modes: []weights.PoolingMode{weights.PoolMean}}
		}
		if _, err := newEmbedder(engine{st: c.st, enc: fakeTok{}, mdl: &fakeEnc{d: 3, positions: 512}}, c.opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
