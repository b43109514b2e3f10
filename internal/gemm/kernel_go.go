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
	goKernel(4, k, a, lda, b, c, ldc, bias, init)
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
