/* Checks the constants and types that ../driver.go declares by hand (it
 * builds without CUDA headers) against the real cuda.h and cublas_v2.h.
 * Not part of the Go build; run it where CUDA headers are installed:
 *
 *   cc -fsyntax-only -I/usr/include cuda/kernels/abi_check.c
 *
 * (.ci/cuda-build.sh does when it finds the headers.) */
#include <cuda.h>
#include <cublas_v2.h>
#include <library_types.h>

#define SAME(a, b) _Static_assert((a) == (b), #a " != " #b)

/* driver.go's typedefs */
_Static_assert(sizeof(CUresult) == sizeof(int), "CUresult");
_Static_assert(sizeof(CUdevice) == sizeof(int), "CUdevice");
_Static_assert(sizeof(CUdeviceptr) == sizeof(unsigned long long), "CUdeviceptr");
_Static_assert(sizeof(cublasStatus_t) == sizeof(int), "cublasStatus_t");
_Static_assert(sizeof(cublasComputeType_t) == sizeof(int), "cublasComputeType_t");
_Static_assert(sizeof(cudaDataType) == sizeof(int), "cudaDataType");

/* the numbers driver.go and kernels.go pass */
SAME(CUDA_ERROR_OUT_OF_MEMORY, 2);
SAME(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 75);
SAME(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 76);
SAME(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 16);
SAME(CU_JIT_ERROR_LOG_BUFFER, 5);
SAME(CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, 6);
SAME(CU_STREAM_NON_BLOCKING, 1);
SAME(CUBLAS_STATUS_ALLOC_FAILED, 3);
SAME(CUBLAS_OP_N, 0);
SAME(CUBLAS_OP_T, 1);
SAME(CUBLAS_DEFAULT_MATH, 0);
SAME(CUDA_R_32F, 0);
SAME(CUDA_R_16F, 2);
SAME(CUDA_R_16BF, 14);
SAME(CUBLAS_COMPUTE_32F, 68);
SAME(CUBLAS_GEMM_DEFAULT, -1);

/* the entry points driver.go resolves with dlsym, with the signatures it
 * calls them through */
static CUresult (*p1)(CUdeviceptr *, size_t) = cuMemAlloc_v2;
static CUresult (*p2)(CUdeviceptr) = cuMemFree_v2;
static CUresult (*p3)(void **, size_t) = cuMemAllocHost_v2;
static CUresult (*p4)(size_t *, size_t *) = cuMemGetInfo_v2;
static CUresult (*p5)(CUdeviceptr, const void *, size_t, CUstream) = cuMemcpyHtoDAsync_v2;
static CUresult (*p6)(void *, CUdeviceptr, size_t, CUstream) = cuMemcpyDtoHAsync_v2;
static CUresult (*p7)(CUstream) = cuStreamDestroy_v2;
static CUresult (*p8)(size_t *, CUdevice) = cuDeviceTotalMem_v2;
static CUresult (*p9)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                      unsigned, CUstream, void **, void **) = cuLaunchKernel;
static CUresult (*p10)(CUmodule *, const void *, unsigned, CUjit_option *, void **) = cuModuleLoadDataEx;
static CUresult (*p11)(CUdeviceptr, unsigned char, size_t, CUstream) = cuMemsetD8Async;
static cublasStatus_t (*b1)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                            const void *, const void *, cudaDataType, int, const void *,
                            cudaDataType, int, const void *, void *, cudaDataType, int,
                            cublasComputeType_t, cublasGemmAlgo_t) = cublasGemmEx;
static cublasStatus_t (*b2)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                            const float *, const float *, int, const float *, int,
                            const float *, float *, int) = cublasSgemm_v2;
static cublasStatus_t (*b3)(cublasHandle_t, cublasMath_t) = cublasSetMathMode;
static cublasStatus_t (*b4)(cublasHandle_t, cudaStream_t) = cublasSetStream_v2;
