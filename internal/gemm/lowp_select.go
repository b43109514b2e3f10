package gemm

// defaultBF16 and defaultInt8 are the fastest reduced-precision
// implementations this machine runs; PackWeightBF16 and PackWeightInt8 pack
// for them. Tests reach the others through bf16Sets and int8Sets.
var (
	defaultBF16 = bf16Sets()[0]
	defaultInt8 = int8Sets()[0]
)
