package gemm

import (
	"fmt"
	"strings"
)

// Precision is the arithmetic of a packed weight's products.
type Precision int

const (
	FP32 Precision = iota // float32 weights and sums (PackWeight, MatMul)
	BF16                  // bf16 weights, A rounded to bf16, float32 sums (PackWeightBF16, MatMulBF16)
	Int8                  // int8 weights per channel, u8 A per row, int32 sums (PackWeightInt8, MatMulInt8)
)

func (p Precision) String() string {
	switch p {
	case FP32:
		return "fp32"
	case BF16:
		return "bf16"
	case Int8:
		return "int8"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// ParsePrecision reads "fp32", "bf16" or "int8" (also "float32",
// "bfloat16", "" for fp32), in any case.
func ParsePrecision(s string) (Precision, error) {
	switch strings.ToLower(s) {
	case "fp32", "float32", "f32", "":
		return FP32, nil
	case "bf16", "bfloat16":
		return BF16, nil
	case "int8", "i8", "qint8":
		return Int8, nil
	}
	return 0, fmt.Errorf("gemm: precision %q: want fp32, bf16 or int8", s)
}

// Weight is a weight packed in one of the precisions, for Pool.Linear: a
// caller that lets its user choose the precision holds this instead of one
// of the concrete types. *PackedB, *PackedBF16 and *PackedInt8 are Weights.
type Weight interface {
	Shape() (out, in int)
	Precision() Precision
	Kernel() string // the implementation it runs on, as each type's Kernel says
	linear(p *Pool, c, a []float32, m int, bias []float32, epi Epilogue)
}

// Pack packs w, a torch.nn.Linear weight stored [out, in] row-major, in
// precision prec: PackWeight, PackWeightBF16 or PackWeightInt8. It returns
// an error for an unknown precision or a wrong length.
func Pack(prec Precision, w []float32, out, in int) (Weight, error) {
	if out <= 0 || in <= 0 || len(w) != out*in {
		return nil, fmt.Errorf("gemm: Pack: %d floats for a weight of [%d %d]", len(w), out, in)
	}
	switch prec {
	case FP32:
		return PackWeight(w, out, in), nil
	case BF16:
		return PackWeightBF16(w, out, in), nil
	case Int8:
		if in > maxInt8In {
			return nil, fmt.Errorf("gemm: Pack: int8 weight of [%d %d]: in > %d would overflow the int32 sums", out, in, maxInt8In)
		}
		return PackWeightInt8(w, out, in), nil
	}
	return nil, fmt.Errorf("gemm: Pack: unknown precision %v", prec)
}

// Linear computes C = A·Wᵀ + bias on p in w's precision: Pool.MatMul,
// MatMulBF16 or MatMulInt8, with the same arguments and the same panics.
func (p *Pool) Linear(c, a []float32, m int, w Weight, bias []float32, epi Epilogue) {
	w.linear(p, c, a, m, bias, epi)
}

func (b *PackedB) Shape() (out, in int) { return b.Out, b.In }
func (b *PackedB) Precision() Precision { return FP32 }
func (b *PackedB) linear(p *Pool, c, a []float32, m int, bias []float32, epi Epilogue) {
	p.MatMul(c, a, m, b, bias, epi)
}

func (b *PackedBF16) Shape() (out, in int) { return b.Out, b.In }
func (b *PackedBF16) Precision() Precision { return BF16 }
func (b *PackedBF16) linear(p *Pool, c, a []float32, m int, bias []float32, epi Epilogue) {
	p.MatMulBF16(c, a, m, b, bias, epi)
}

func (b *PackedInt8) Shape() (out, in int) { return b.Out, b.In }
func (b *PackedInt8) Precision() Precision { return Int8 }
func (b *PackedInt8) linear(p *Pool, c, a []float32, m int, bias []float32, epi Epilogue) {
	p.MatMulInt8(c, a, m, b, bias, epi)
}
