package gemm

import "unsafe"

// The portable kernel: a 4 x 16 tile in plain Go, for machines without the
// assembly kernels. Its packed layout is the same as the others' (nr columns
// per k step), so the blocking code does not know which kernel it drives.
const (
	mrGo = 4
	nrGo = 16
)

var goKernels = &kernelSet{
	name: "go", mr: mrGo, nr: nrGo,
	byRows: []microKernel{goKernel1, goKernel2, goKernel3, goKernel4},
}

func goKernel1(k int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32, init int, mask int) {
	goKernel(1, k, a, lda, b, c, ldc, bias, init)
}
func goKernel2(k int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32, init int, mask int) {
	goKernel(2, k, a, lda, b, c, ldc, bias, init)
}
func goKernel3(k int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32, init int, mask int) {
	goKernel(3, k, a, lda, b, c, ldc, bias, init)
}
func goKernel4(k int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32, init int, mask int) {
	goKernelFull(k, a, lda, b, c, ldc, bias, init)
}

// goKernelFull is the 4-row case, most of the work: a 4 x 4 block of
// accumulators in local variables (registers on arm64, which has 32) per
// quarter of the tile, which the compiler cannot do for the array of
// goKernel.
func goKernelFull(k int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32, init int) {
	bs := unsafe.Slice(b, k*nrGo)
	row := func(i int) []float32 {
		return unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(a), 4*i*lda)), k)
	}
	a0, a1, a2, a3 := row(0), row(1), row(2), row(3)
	a1, a2, a3 = a1[:len(a0)], a2[:len(a0)], a3[:len(a0)] // one bounds check for all
	cs := unsafe.Slice(c, 3*ldc+nrGo)
	for q := 0; q < nrGo; q += 4 {
		// The sums start from the bias or from C, as in goKernel: a row's
		// result must not depend on whether it falls in a full tile or in
		// the ragged bottom edge (which follows from the batch it is in).
		var acc [4][4]float32
		switch init {
		case initBias:
			bq := (*[4]float32)(unsafe.Slice(bias, nrGo)[q:])
			acc = [4][4]float32{*bq, *bq, *bq, *bq}
		case initC:
			for i := range 4 {
				acc[i] = *(*[4]float32)(cs[i*ldc+q:])
			}
		}
		c00, c01, c02, c03 := acc[0][0], acc[0][1], acc[0][2], acc[0][3]
		c10, c11, c12, c13 := acc[1][0], acc[1][1], acc[1][2], acc[1][3]
		c20, c21, c22, c23 := acc[2][0], acc[2][1], acc[2][2], acc[2][3]
		c30, c31, c32, c33 := acc[3][0], acc[3][1], acc[3][2], acc[3][3]
		for p, x := range a0 {
			bq := (*[4]float32)(bs[p*nrGo+q:])
			b0, b1, b2, b3 := bq[0], bq[1], bq[2], bq[3]
			c00 += x * b0
			c01 += x * b1
			c02 += x * b2
			c03 += x * b3
			x := a1[p]
			c10 += x * b0
			c11 += x * b1
			c12 += x * b2
			c13 += x * b3
			x = a2[p]
			c20 += x * b0
			c21 += x * b1
			c22 += x * b2
			c23 += x * b3
			x = a3[p]
			c30 += x * b0
			c31 += x * b1
			c32 += x * b2
			c33 += x * b3
		}
		acc = [4][4]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
		for i := range 4 {
			*(*[4]float32)(cs[i*ldc+q:]) = acc[i]
		}
	}
}

func goKernel(rows, k int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32, init int) {
	bs := unsafe.Slice(b, k*nrGo)
	var acc [mrGo][nrGo]float32
	for i := 0; i < rows; i++ {
		switch init {
		case initBias:
			copy(acc[i][:], unsafe.Slice(bias, nrGo))
		case initC:
			copy(acc[i][:], unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(c), 4*i*ldc)), nrGo))
		}
	}
	for i := 0; i < rows; i++ {
		ar := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(a), 4*i*lda)), k)
		row := &acc[i]
		for p, av := range ar {
			bp := bs[p*nrGo : p*nrGo+nrGo : p*nrGo+nrGo]
			for j := range row {
				row[j] += av * bp[j]
			}
		}
	}
	for i := 0; i < rows; i++ {
		copy(unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(c), 4*i*ldc)), nrGo), acc[i][:])
	}
}
