package ml

import "fmt"

// Argument checks of the Run operations, shared by the host backends (cpu
// and reference) so that both refuse the same calls in the same words. Each
// takes the operation's arguments once the backend has unwrapped them and
// returns nil or an error that names the operation; the backend records it
// under its own prefix ("cpu: ", "reference: "). The checks run in the order
// the operation documents its arguments, and the first failing one is the
// error.

// CheckActivation refuses an activation that is not one of the Act
// constants.
func CheckActivation(act Activation) error {
	if act < ActNone || act > ActTanh {
		return fmt.Errorf("unknown activation %d", act)
	}
	return nil
}

// CheckIDs checks that every id is a row of table name (rows rows), as
// Gather and AddGather need.
func CheckIDs(name string, rows int, ids []int32) error {
	for i, id := range ids {
		if id < 0 || int(id) >= rows {
			return fmt.Errorf("row %d of %q: id %d outside [0, %d)", i, name, id, rows)
		}
	}
	return nil
}

// CheckAddGather checks AddGather's x against the table name (rows x cols)
// and the ids.
func CheckAddGather(x Tensor, name string, rows, cols int, ids []int32) error {
	if x.Rows() != len(ids) || x.Cols() != cols {
		return fmt.Errorf("add gather of %d rows of %q (%d cols) into [%d %d]", len(ids), name, cols, x.Rows(), x.Cols())
	}
	return CheckIDs(name, rows, ids)
}

// CheckLinear checks Linear's input against a weight of in columns.
func CheckLinear(name string, x Tensor, in int) error {
	if x.Cols() != in {
		return fmt.Errorf("linear %q: input [%d %d], weight wants %d columns", name, x.Rows(), x.Cols(), in)
	}
	return nil
}

// CheckLayerNorm checks AddLayerNorm's residual against its input; call it
// only when there is a residual.
func CheckLayerNorm(x, residual Tensor) error {
	if residual.Rows() != x.Rows() || residual.Cols() != x.Cols() {
		return fmt.Errorf("layer norm: residual [%d %d], input [%d %d]", residual.Rows(), residual.Cols(), x.Rows(), x.Cols())
	}
	return nil
}

// CheckAttention checks Attention's q, k and v (one shape), heads and
// offsets.
func CheckAttention(q, k, v Tensor, heads int, offsets []int32) error {
	const op = "attention"
	if err := checkQKV(op, q, k, v, heads); err != nil {
		return err
	}
	if err := CheckOffsets(offsets, q.Rows()); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// CheckWindowAttention checks WindowAttention's arguments: Attention's, and
// a window that is not negative.
func CheckWindowAttention(q, k, v Tensor, heads int, offsets []int32, window int) error {
	const op = "window attention"
	if err := checkQKV(op, q, k, v, heads); err != nil {
		return err
	}
	if window < 0 {
		return fmt.Errorf("%s: window %d", op, window)
	}
	if err := CheckOffsets(offsets, q.Rows()); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// checkQKV checks that q, k and v have one shape whose columns split into
// heads.
func checkQKV(op string, q, k, v Tensor, heads int) error {
	if k.Rows() != q.Rows() || k.Cols() != q.Cols() || v.Rows() != q.Rows() || v.Cols() != q.Cols() {
		return fmt.Errorf("%s: q [%d %d], k [%d %d], v [%d %d]", op, q.Rows(), q.Cols(), k.Rows(), k.Cols(), v.Rows(), v.Cols())
	}
	if heads <= 0 || q.Cols()%heads != 0 {
		return fmt.Errorf("%s: %d columns do not split into %d heads", op, q.Cols(), heads)
	}
	return nil
}

// CheckCausalAttention checks CausalAttention's arguments: q's columns
// split into heads, heads into groups of kvHeads, k and v of kvHeads heads
// of q's head size, and the offsets.
func CheckCausalAttention(q, k, v Tensor, heads, kvHeads int, offsets []int32) error {
	const op = "causal attention"
	if heads <= 0 || kvHeads <= 0 || heads%kvHeads != 0 || q.Cols()%heads != 0 {
		return fmt.Errorf("%s: %d columns, %d heads over %d key-value heads", op, q.Cols(), heads, kvHeads)
	}
	kv := kvHeads * (q.Cols() / heads)
	if k.Rows() != q.Rows() || v.Rows() != q.Rows() || k.Cols() != kv || v.Cols() != kv {
		return fmt.Errorf("%s: q [%d %d], k [%d %d], v [%d %d] for %d key-value heads",
			op, q.Rows(), q.Cols(), k.Rows(), k.Cols(), v.Rows(), v.Cols(), kvHeads)
	}
	if err := CheckOffsets(offsets, q.Rows()); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// CheckRoPE checks RoPE's x (heads of an even size), theta and offsets.
func CheckRoPE(x Tensor, heads int, theta float64, offsets []int32) error {
	if heads <= 0 || x.Cols()%heads != 0 || (x.Cols()/heads)%2 != 0 {
		return fmt.Errorf("rope: %d columns do not split into %d heads of an even size", x.Cols(), heads)
	}
	if !(theta > 0) {
		return fmt.Errorf("rope: theta %v", theta)
	}
	if err := CheckOffsets(offsets, x.Rows()); err != nil {
		return fmt.Errorf("rope: %w", err)
	}
	return nil
}

// CheckRMSNorm checks RMSNorm's x against a weight of n values: x's columns
// are whole groups of n (one group per head for Qwen3's q_norm and k_norm).
func CheckRMSNorm(x Tensor, n int) error {
	if n == 0 || x.Cols()%n != 0 {
		return fmt.Errorf("rms norm: %d columns are not groups of the weight's %d", x.Cols(), n)
	}
	return nil
}

// CheckSwiGLU checks that SwiGLU's gate and up have one shape.
func CheckSwiGLU(gate, up Tensor) error {
	if gate.Rows() != up.Rows() || gate.Cols() != up.Cols() {
		return fmt.Errorf("swiglu: gate [%d %d], up [%d %d]", gate.Rows(), gate.Cols(), up.Rows(), up.Cols())
	}
	return nil
}

// CheckAdd checks that Add's x and y have one shape.
func CheckAdd(x, y Tensor) error {
	if x.Rows() != y.Rows() || x.Cols() != y.Cols() {
		return fmt.Errorf("add: [%d %d] + [%d %d]", x.Rows(), x.Cols(), y.Rows(), y.Cols())
	}
	return nil
}

// CheckGLU checks GLU's x (columns in two halves) and activation.
func CheckGLU(x Tensor, act Activation) error {
	if x.Cols()%2 != 0 {
		return fmt.Errorf("glu: %d columns do not split in halves", x.Cols())
	}
	if err := CheckActivation(act); err != nil {
		return fmt.Errorf("glu: %w", err)
	}
	return nil
}

// CheckMeanRows checks MeanRows's offsets: they span x's rows and no
// sequence is empty.
func CheckMeanRows(x Tensor, offsets []int32) error {
	if err := CheckOffsets(offsets, x.Rows()); err != nil {
		return fmt.Errorf("mean rows: %w", err)
	}
	for s := 0; s+1 < len(offsets); s++ {
		if offsets[s+1] == offsets[s] {
			return fmt.Errorf("mean rows: sequence %d is empty", s)
		}
	}
	return nil
}

// CheckRows checks that every index of Rows is a row of x.
func CheckRows(x Tensor, idx []int32) error {
	for _, row := range idx {
		if row < 0 || int(row) >= x.Rows() {
			return fmt.Errorf("rows: index %d outside [0, %d)", row, x.Rows())
		}
	}
	return nil
}

// CheckAttentionRows checks AttentionRows's arguments: q's columns split
// into heads, heads into groups of kvHeads, k and v of kvHeads heads of q's
// head size and one length, offsets spanning them with no sequence empty,
// and one query row per sequence.
func CheckAttentionRows(q, k, v Tensor, heads, kvHeads int, offsets []int32) error {
	const op = "attention rows"
	if heads <= 0 || kvHeads <= 0 || heads%kvHeads != 0 || q.Cols()%heads != 0 {
		return fmt.Errorf("%s: %d columns, %d heads over %d key-value heads", op, q.Cols(), heads, kvHeads)
	}
	kv := kvHeads * (q.Cols() / heads)
	if v.Rows() != k.Rows() || k.Cols() != kv || v.Cols() != kv {
		return fmt.Errorf("%s: q [%d %d], k [%d %d], v [%d %d] for %d key-value heads",
			op, q.Rows(), q.Cols(), k.Rows(), k.Cols(), v.Rows(), v.Cols(), kvHeads)
	}
	if err := CheckOffsets(offsets, k.Rows()); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	for s := 0; s+1 < len(offsets); s++ {
		if offsets[s+1] == offsets[s] {
			return fmt.Errorf("%s: sequence %d is empty", op, s)
		}
	}
	if q.Rows() != len(offsets)-1 {
		return fmt.Errorf("%s: %d query rows for %d sequences", op, q.Rows(), len(offsets)-1)
	}
	return nil
}

// CheckRoPEAt checks RoPEAt's x (heads of an even size), theta and one
// position, not negative, per row.
func CheckRoPEAt(x Tensor, heads int, theta float64, positions []int32) error {
	if heads <= 0 || x.Cols()%heads != 0 || (x.Cols()/heads)%2 != 0 {
		return fmt.Errorf("rope at: %d columns do not split into %d heads of an even size", x.Cols(), heads)
	}
	if !(theta > 0) {
		return fmt.Errorf("rope at: theta %v", theta)
	}
	if len(positions) != x.Rows() {
		return fmt.Errorf("rope at: %d positions for %d rows", len(positions), x.Rows())
	}
	for i, p := range positions {
		if p < 0 {
			return fmt.Errorf("rope at: row %d at position %d", i, p)
		}
	}
	return nil
}
