//go:build amd64 && !purego

#include "textflag.h"

// AMX has no mnemonics in Go's assembler: the instructions are spelled in
// bytes (Intel operand order in the comments). Only AX, CX, DX, BX, SI and
// DI appear in tile operands, so no VEX register extension bit is needed.
// Rules: TILELOADD/TILESTORED ModRM = mod | tmm<<3 | 4, SIB = index<<3 | base
// (the index register holds the row stride in bytes); TDP* byte 2 =
// (15-src2)<<3 | pp, ModRM = C0 | dst<<3 | src1.

#define LDTILECFG_DI	BYTE $0xC4; BYTE $0xE2; BYTE $0x78; BYTE $0x49; BYTE $0x07
#define TILERELEASE	BYTE $0xC4; BYTE $0xE2; BYTE $0x78; BYTE $0x49; BYTE $0xC0
#define TILEZERO0	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x49; BYTE $0xC0
#define TILEZERO1	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x49; BYTE $0xC8
#define TILEZERO2	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x49; BYTE $0xD0
#define TILEZERO3	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x49; BYTE $0xD8
// tmm0..3 <- [AX + CX (+64)]: the bias rows (CX = 0: every row the same)
#define LOAD0_AX	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x04; BYTE $0x08
#define LOAD1_AX64	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x4C; BYTE $0x08; BYTE $0x40
#define LOAD2_AX	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x14; BYTE $0x08
#define LOAD3_AX64	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x5C; BYTE $0x08; BYTE $0x40
// tmm4 <- [SI + DX], tmm5 <- [DI + DX]: rows 0-15 and 16-31 of A
#define LOAD4_SI	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x24; BYTE $0x16
#define LOAD5_DI	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x2C; BYTE $0x17
// tmm6 <- [AX + CX], tmm7 <- [AX + CX + 64]: columns 0-15 and 16-31 of a panel
#define LOAD6_AX	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x34; BYTE $0x08
#define LOAD7_AX64	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x7C; BYTE $0x08; BYTE $0x40
// TDPBF16PS tmm0,tmm4,tmm6; tmm1,tmm4,tmm7; tmm2,tmm5,tmm6; tmm3,tmm5,tmm7
#define BF16_046	BYTE $0xC4; BYTE $0xE2; BYTE $0x4A; BYTE $0x5C; BYTE $0xC4
#define BF16_147	BYTE $0xC4; BYTE $0xE2; BYTE $0x42; BYTE $0x5C; BYTE $0xCC
#define BF16_256	BYTE $0xC4; BYTE $0xE2; BYTE $0x4A; BYTE $0x5C; BYTE $0xD5
#define BF16_357	BYTE $0xC4; BYTE $0xE2; BYTE $0x42; BYTE $0x5C; BYTE $0xDD
// TDPBUSD, the same operands
#define U8S8_046	BYTE $0xC4; BYTE $0xE2; BYTE $0x49; BYTE $0x5E; BYTE $0xC4
#define U8S8_147	BYTE $0xC4; BYTE $0xE2; BYTE $0x41; BYTE $0x5E; BYTE $0xCC
#define U8S8_256	BYTE $0xC4; BYTE $0xE2; BYTE $0x49; BYTE $0x5E; BYTE $0xD5
#define U8S8_357	BYTE $0xC4; BYTE $0xE2; BYTE $0x41; BYTE $0x5E; BYTE $0xDD
// [SI + DX] <- tmm0, [SI + DX + 64] <- tmm1, [DI + DX] <- tmm2, [DI + DX + 64] <- tmm3
#define STORE0_SI	BYTE $0xC4; BYTE $0xE2; BYTE $0x7A; BYTE $0x4B; BYTE $0x04; BYTE $0x16
#define STORE1_SI64	BYTE $0xC4; BYTE $0xE2; BYTE $0x7A; BYTE $0x4B; BYTE $0x4C; BYTE $0x16; BYTE $0x40
#define STORE2_DI	BYTE $0xC4; BYTE $0xE2; BYTE $0x7A; BYTE $0x4B; BYTE $0x14; BYTE $0x17
// tmm0 <- [SI + DX], tmm1 <- [SI + DX + 64], tmm2 <- [DI + DX], tmm3 <- [DI + DX + 64]: C's partial sums
#define LOADC0_SI	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x04; BYTE $0x16
#define LOADC1_SI64	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x4C; BYTE $0x16; BYTE $0x40
#define LOADC2_DI	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x14; BYTE $0x17
#define LOADC3_DI64	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x5C; BYTE $0x17; BYTE $0x40
#define STORE3_DI64	BYTE $0xC4; BYTE $0xE2; BYTE $0x7A; BYTE $0x4B; BYTE $0x5C; BYTE $0x17; BYTE $0x40

// amxBF16 and amxU8S8 are the same loop with a different tile product.
// For each of npan panels (pstride bytes apart; C and bias advance 32
// values) the four accumulators start from zero (mode amxZero), the bias
// rows (amxBias; bias advances bstep bytes) or C's partial sums (amxAcc),
// take k16 steps of 16 groups, and are stored to C.

// func amxBF16(cfg *[64]byte, a *uint32, lda int, b *uint32, pstride int, c *float32, ldc int, bias *float32, bstep int, k16 int, npan int, mode int)
TEXT ·amxBF16(SB), NOSPLIT, $0-96
	MOVQ cfg+0(FP), DI
	LDTILECFG_DI
	MOVQ a+8(FP), R8
	MOVQ lda+16(FP), R13
	MOVQ b+24(FP), R9
	MOVQ c+40(FP), R10
	MOVQ bias+56(FP), R11
	MOVQ npan+80(FP), R12
panel:
	MOVQ mode+88(FP), AX
	CMPQ AX, $2
	JEQ loadc
	TESTQ R11, R11
	JZ zero
	MOVQ R11, AX
	XORQ CX, CX
	LOAD0_AX
	LOAD1_AX64
	LOAD2_AX
	LOAD3_AX64
	ADDQ bstep+64(FP), R11
	JMP body
loadc:
	MOVQ R10, SI
	MOVQ ldc+48(FP), DX
	MOVQ DX, DI
	SHLQ $4, DI
	ADDQ R10, DI
	LOADC0_SI
	LOADC1_SI64
	LOADC2_DI
	LOADC3_DI64
	JMP body
zero:
	TILEZERO0
	TILEZERO1
	TILEZERO2
	TILEZERO3
body:
	MOVQ R13, DX
	MOVQ R8, SI
	MOVQ R13, DI
	SHLQ $4, DI
	ADDQ R8, DI
	MOVQ R9, AX
	MOVQ $128, CX
	MOVQ k16+72(FP), BX
kloop:
	LOAD4_SI
	LOAD6_AX
	LOAD7_AX64
	BF16_046
	BF16_147
	LOAD5_DI
	BF16_256
	BF16_357
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $2048, AX
	DECQ BX
	JNZ kloop
	MOVQ R10, SI
	MOVQ ldc+48(FP), DX
	MOVQ DX, DI
	SHLQ $4, DI
	ADDQ R10, DI
	STORE0_SI
	STORE1_SI64
	STORE2_DI
	STORE3_DI64
	ADDQ $128, R10
	ADDQ pstride+32(FP), R9
	DECQ R12
	JNZ panel
	TILERELEASE
	RET

// func amxU8S8(cfg *[64]byte, a *uint32, lda int, b *uint32, pstride int, c *int32, ldc int, bias *int32, bstep int, k16 int, npan int, mode int)
TEXT ·amxU8S8(SB), NOSPLIT, $0-96
	MOVQ cfg+0(FP), DI
	LDTILECFG_DI
	MOVQ a+8(FP), R8
	MOVQ lda+16(FP), R13
	MOVQ b+24(FP), R9
	MOVQ c+40(FP), R10
	MOVQ bias+56(FP), R11
	MOVQ npan+80(FP), R12
panel:
	MOVQ mode+88(FP), AX
	CMPQ AX, $2
	JEQ loadc
	TESTQ R11, R11
	JZ zero
	MOVQ R11, AX
	XORQ CX, CX
	LOAD0_AX
	LOAD1_AX64
	LOAD2_AX
	LOAD3_AX64
	ADDQ bstep+64(FP), R11
	JMP body
loadc:
	MOVQ R10, SI
	MOVQ ldc+48(FP), DX
	MOVQ DX, DI
	SHLQ $4, DI
	ADDQ R10, DI
	LOADC0_SI
	LOADC1_SI64
	LOADC2_DI
	LOADC3_DI64
	JMP body
zero:
	TILEZERO0
	TILEZERO1
	TILEZERO2
	TILEZERO3
body:
	MOVQ R13, DX
	MOVQ R8, SI
	MOVQ R13, DI
	SHLQ $4, DI
	ADDQ R8, DI
	MOVQ R9, AX
	MOVQ $128, CX
	MOVQ k16+72(FP), BX
kloop:
	LOAD4_SI
	LOAD6_AX
	LOAD7_AX64
	U8S8_046
	U8S8_147
	LOAD5_DI
	U8S8_256
	U8S8_357
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $2048, AX
	DECQ BX
	JNZ kloop
	MOVQ R10, SI
	MOVQ ldc+48(FP), DX
	MOVQ DX, DI
	SHLQ $4, DI
	ADDQ R10, DI
	STORE0_SI
	STORE1_SI64
	STORE2_DI
	STORE3_DI64
	ADDQ $128, R10
	ADDQ pstride+32(FP), R9
	DECQ R12
	JNZ panel
	TILERELEASE
	RET

// amxDequant turns a block of int32 sums (rows x 32, lacc bytes per row)
// into C (ldc bytes per row; it may be the same memory): for each row i
// and live column j (mask), C = float32(acc + rz[i]*colsum[j]) *
// (rs[i]*sw[j]) + bias[j], a product then a sum, each rounded to float32,
// as dequant computes it. colsum, sw and bias hold 32 values each.
// func amxDequant(acc *int32, lacc int, c *float32, ldc int, rows int, colsum *int32, sw *float32, bias *float32, rs *float32, rz *int32, mask int)
TEXT ·amxDequant(SB), NOSPLIT, $0-88
	MOVQ acc+0(FP), SI
	MOVQ lacc+8(FP), R8
	MOVQ c+16(FP), DI
	MOVQ ldc+24(FP), R9
	MOVQ rows+32(FP), CX
	MOVQ colsum+40(FP), AX
	VMOVDQU32 (AX), Z0
	VMOVDQU32 64(AX), Z1
	MOVQ sw+48(FP), AX
	VMOVUPS (AX), Z2
	VMOVUPS 64(AX), Z3
	MOVQ bias+56(FP), AX
	VMOVUPS (AX), Z4
	VMOVUPS 64(AX), Z5
	MOVQ rs+64(FP), R10
	MOVQ rz+72(FP), R11
	MOVQ mask+80(FP), AX
	KMOVW AX, K1
	SHRQ $16, AX
	KMOVW AX, K2
	TESTQ CX, CX
	JZ done
row:
	VPBROADCASTD (R11), Z6
	VBROADCASTSS (R10), Z7
	VPMULLD Z6, Z0, Z8
	VPMULLD Z6, Z1, Z9
	VPADDD (SI), Z8, Z8
	VPADDD 64(SI), Z9, Z9
	VCVTDQ2PS Z8, Z8
	VCVTDQ2PS Z9, Z9
	VMULPS Z7, Z2, Z10
	VMULPS Z7, Z3, Z11
	VMULPS Z10, Z8, Z8
	VMULPS Z11, Z9, Z9
	VADDPS Z4, Z8, Z8
	VADDPS Z5, Z9, Z9
	VMOVUPS Z8, K1, (DI)
	VMOVUPS Z9, K2, 64(DI)
	ADDQ R8, SI
	ADDQ R9, DI
	ADDQ $4, R10
	ADDQ $4, R11
	DECQ CX
	JNZ row
done:
	VZEROUPPER
	RET
