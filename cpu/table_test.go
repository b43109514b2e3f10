package cpu

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/gemm"
)

// TestTablePrecision checks the fast backend's embedding tables: exact in
// fp32 at any size; in bf16 and int8 a table of halfTableMin values or more
// is kept in bf16, so Gather and AddGather give each value rounded to bf16
// (low 16 bits zero, within half a bf16 ulp: at most 2^-8 relative), and a small
// table stays exact. Blocks may come in any order.
func TestTablePrecision(t *testing.T) {
	const cols = 64
	for _, tc := range []struct {
		prec gemm.Precision
		rows int
		half bool
	}{
		{gemm.FP32, halfTableMin / cols, false},
		{gemm.BF16, halfTableMin / cols, true},
		{gemm.Int8, halfTableMin / cols, true},
		{gemm.BF16, 16, false},
	} {
		b := &fastBackend{pool: gemm.Default(), prec: tc.prec, name: "cpu"}
		rng := rand.New(rand.NewPCG(1, uint64(tc.rows)))
		vals := make([]float32, tc.rows*cols)
		for i := range vals {
			vals[i] = float32(rng.NormFloat64())
		}
		// Two blocks, the second one first.
		half := len(vals) / 2
		w, err := b.BuildTable("word_embeddings.weight", tc.rows, cols, func(put func(int, []float32) error) error {
			if err := put(half, vals[half:]); err != nil {
				return err
			}
			return put(0, vals[:half])
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := w.(*fastTable).half != nil; got != tc.half {
			t.Fatalf("%v, %d rows: bf16 storage %v, want %v", tc.prec, tc.rows, got, tc.half)
		}
		ids := []int32{0, int32(tc.rows - 1), 7, 3}
		r, err := b.NewRun(context.Background(), len(ids))
		if err != nil {
			t.Fatal(err)
		}
		got := r.Read(r.Gather(w, ids))
		x := r.Gather(w, ids)
		r.AddGather(x, w, ids) // twice each value
		sum := r.Read(x)
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		r.Close()
		for i, id := range ids {
			for j := range cols {
				want := vals[int(id)*cols+j]
				g := got[i*cols+j]
				if tc.half {
					if math.Float32bits(g)&0xffff != 0 || math.Abs(float64(g-want)) > math.Abs(float64(want))/256 {
						t.Fatalf("%v: row %d col %d: %v for %v, not it rounded to bf16", tc.prec, id, j, g, want)
					}
				} else if g != want {
					t.Fatalf("%v: row %d col %d: %v, want %v exactly", tc.prec, id, j, g, want)
				}
				if sum[i*cols+j] != 2*g {
					t.Fatalf("%v: AddGather: row %d col %d: %v, want %v", tc.prec, id, j, sum[i*cols+j], 2*g)
				}
			}
		}
	}
	// Blocks that do not fill the table, or overrun it, are errors.
	b := &fastBackend{pool: gemm.Default(), prec: gemm.FP32, name: "cpu"}
	for _, read := range []func(put func(int, []float32) error) error{
		func(put func(int, []float32) error) error { return put(0, make([]float32, 3)) },
		func(put func(int, []float32) error) error { return put(2, make([]float32, 3)) },
		func(put func(int, []float32) error) error { return put(-1, make([]float32, 1)) },
	} {
		if _, err := b.BuildTable("t", 2, 2, read); err == nil || !strings.Contains(err.Error(), `table "t"`) {
			t.Errorf("got %v, want an error naming the table", err)
		}
	}
	if _, err := b.Table("t", make([]float32, 3), 2, 2); err == nil {
		t.Error("Table with 3 values for [2 2]: no error")
	}
}

// TestTableKeepsBF16Exactly checks that an fp32 backend keeps a large table
// of bf16 values (a bf16 checkpoint's, widened) in bf16, giving back the
// very floats it was given, and that a later block with a value bf16
// cannot hold turns the table to fp32 with every value still exact.
func TestTableKeepsBF16Exactly(t *testing.T) {
	const cols = 64
	rows := halfTableMin / cols
	for _, mixed := range []bool{false, true} {
		b := &fastBackend{pool: gemm.Default(), prec: gemm.FP32, name: "cpu"}
		rng := rand.New(rand.NewPCG(2, 3))
		vals := make([]float32, rows*cols)
		for i := range vals {
			x := float32(rng.NormFloat64())
			vals[i] = math.Float32frombits(math.Float32bits(x) &^ 0xffff) // a bf16 value
		}
		half := len(vals) / 2
		if mixed {
			vals[half+5] = 1 + 1.0/(1<<20) // 21 significant bits: not a bf16 value
		}
		w, err := b.BuildTable("embed_tokens.weight", rows, cols, func(put func(int, []float32) error) error {
			if err := put(0, vals[:half]); err != nil {
				return err
			}
			return put(half, vals[half:])
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := w.(*fastTable).half != nil; got == mixed {
			t.Fatalf("mixed %v: bf16 storage %v", mixed, got)
		}
		ids := []int32{0, 1, int32(half/cols + 0), int32(rows - 1)}
		r, err := b.NewRun(context.Background(), len(ids))
		if err != nil {
			t.Fatal(err)
		}
		got := r.Read(r.Gather(w, ids))
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		r.Close()
		for i, id := range ids {
			for j := range cols {
				if want := vals[int(id)*cols+j]; got[i*cols+j] != want {
					t.Fatalf("mixed %v: row %d col %d: %v, want %v exactly", mixed, id, j, got[i*cols+j], want)
				}
			}
		}
	}
}
