package gemm

// defaultKernels is the fastest kernel set this machine runs; PackWeight
// packs for it. Tests reach the others through kernelSets.
var defaultKernels = kernelSets()[0]
