//go:build cuda

package cuda

// The CUDA driver API and cuBLAS, opened at run time with dlopen.
//
// Why not gorgonia.org/cu: its package init calls cuInit and os.Exit(1)s when
// that fails, so a binary that imports it dies before main on any machine
// without a usable GPU (seen: "Error in initialization ... NoDevice", exit 1,
// on a machine with libcuda.so.1 and no device), and it links -lcuda, so the
// binary does not even start where the driver is not installed. Both rule out
// the CPU fallback this package promises. cu/blas links -lcublas, which would
// tie the binary to the cuBLAS major version of the build machine (11 from
// Debian) while the GPU machines ship 12 or 13, and it lacks GemmEx,
// SetStream and the batched GEMMs. So the few entry points used here are
// resolved with dlsym from libcuda.so.1 and from whichever libcublas is found;
// they are the ABI-stable ones (the _v2 names, unchanged from CUDA 11 to 13).
// The build needs no CUDA headers, no CUDA libraries and no GPU: only a C
// compiler (cgo).

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef void *CUcontext, *CUmodule, *CUfunction, *CUstream, *CUevent;
typedef void *cublasHandle_t;
typedef int cublasStatus_t;

static void *libcuda, *libcublas;
static CUcontext cr_ctx;

static CUresult (*p_cuInit)(unsigned);
static CUresult (*p_cuDriverGetVersion)(int *);
static CUresult (*p_cuDeviceGetCount)(int *);
static CUresult (*p_cuDeviceGet)(CUdevice *, int);
static CUresult (*p_cuDeviceGetName)(char *, int, CUdevice);
static CUresult (*p_cuDeviceGetAttribute)(int *, int, CUdevice);
static CUresult (*p_cuDeviceTotalMem)(size_t *, CUdevice);
static CUresult (*p_cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
static CUresult (*p_cuCtxSetCurrent)(CUcontext);
static CUresult (*p_cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *, void **);
static CUresult (*p_cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
static CUresult (*p_cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                                    unsigned, unsigned, CUstream, void **, void **);
static CUresult (*p_cuMemAlloc)(CUdeviceptr *, size_t);
static CUresult (*p_cuMemFree)(CUdeviceptr);
static CUresult (*p_cuMemAllocHost)(void **, size_t);
static CUresult (*p_cuMemFreeHost)(void *);
static CUresult (*p_cuMemGetInfo)(size_t *, size_t *);
static CUresult (*p_cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
static CUresult (*p_cuMemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
static CUresult (*p_cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
static CUresult (*p_cuStreamCreate)(CUstream *, unsigned);
static CUresult (*p_cuStreamDestroy)(CUstream);
static CUresult (*p_cuStreamSynchronize)(CUstream);
static CUresult (*p_cuGetErrorName)(CUresult, const char **);
static CUresult (*p_cuGetErrorString)(CUresult, const char **);

static cublasStatus_t (*p_cublasCreate)(cublasHandle_t *);
static cublasStatus_t (*p_cublasDestroy)(cublasHandle_t);
static cublasStatus_t (*p_cublasSetStream)(cublasHandle_t, CUstream);
static cublasStatus_t (*p_cublasSetMathMode)(cublasHandle_t, int);
static cublasStatus_t (*p_cublasGetVersion)(cublasHandle_t, int *);
static cublasStatus_t (*p_cublasSgemm)(cublasHandle_t, int, int, int, int, int, const float *,
                                       const float *, int, const float *, int, const float *,
                                       float *, int);
static cublasStatus_t (*p_cublasGemmEx)(cublasHandle_t, int, int, int, int, int, const void *,
                                        const void *, int, int, const void *, int, int,
                                        const void *, void *, int, int, int, int);
static cublasStatus_t (*p_cublasGemmStridedBatchedEx)(cublasHandle_t, int, int, int, int, int,
                                                      const void *, const void *, int, int,
                                                      long long, const void *, int, int, long long,
                                                      const void *, void *, int, int, long long,
                                                      int, int, int);

#define SYM(lib, var, name)                                                       \
    do {                                                                          \
        *(void **)(&var) = dlsym(lib, name);                                      \
        if (!var) {                                                               \
            snprintf(err, n, "%s: symbol %s not found", #lib, name);              \
            return 1;                                                             \
        }                                                                         \
    } while (0)

// cr_load_driver opens libcuda.so.1 and resolves the driver API. 0 on success,
// else err holds why.
static int cr_load_driver(char *err, int n) {
    if (libcuda) return 0;
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(err, n, "%s", dlerror());
        return 1;
    }
    SYM(lib, p_cuInit, "cuInit");
    SYM(lib, p_cuDriverGetVersion, "cuDriverGetVersion");
    SYM(lib, p_cuDeviceGetCount, "cuDeviceGetCount");
    SYM(lib, p_cuDeviceGet, "cuDeviceGet");
    SYM(lib, p_cuDeviceGetName, "cuDeviceGetName");
    SYM(lib, p_cuDeviceGetAttribute, "cuDeviceGetAttribute");
    SYM(lib, p_cuDeviceTotalMem, "cuDeviceTotalMem_v2");
    SYM(lib, p_cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
    SYM(lib, p_cuCtxSetCurrent, "cuCtxSetCurrent");
    SYM(lib, p_cuModuleLoadDataEx, "cuModuleLoadDataEx");
    SYM(lib, p_cuModuleGetFunction, "cuModuleGetFunction");
    SYM(lib, p_cuLaunchKernel, "cuLaunchKernel");
    SYM(lib, p_cuMemAlloc, "cuMemAlloc_v2");
    SYM(lib, p_cuMemFree, "cuMemFree_v2");
    SYM(lib, p_cuMemAllocHost, "cuMemAllocHost_v2");
    SYM(lib, p_cuMemFreeHost, "cuMemFreeHost");
    SYM(lib, p_cuMemGetInfo, "cuMemGetInfo_v2");
    SYM(lib, p_cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
    SYM(lib, p_cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
    SYM(lib, p_cuMemsetD8Async, "cuMemsetD8Async");
    SYM(lib, p_cuStreamCreate, "cuStreamCreate");
    SYM(lib, p_cuStreamDestroy, "cuStreamDestroy_v2");
    SYM(lib, p_cuStreamSynchronize, "cuStreamSynchronize");
    SYM(lib, p_cuGetErrorName, "cuGetErrorName");
    SYM(lib, p_cuGetErrorString, "cuGetErrorString");
    libcuda = lib;
    return 0;
}

// cr_open_cublas tries one library path; its cublasLt sibling is opened first
// from the same folder, in case the library has no RUNPATH to find it.
static void *cr_open_cublas(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (strncmp(base, "libcublas.so", 12) == 0) {
        char lt[4096];
        snprintf(lt, sizeof lt, "%.*slibcublasLt%s", (int)(base - path), path, base + 9);
        dlopen(lt, RTLD_NOW | RTLD_GLOBAL);
    }
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

static int cr_load_cublas(const char *path, char *err, int n) {
    if (libcublas) return 0;
    void *lib = cr_open_cublas(path);
    if (!lib) {
        snprintf(err, n, "%s", dlerror());
        return 1;
    }
    SYM(lib, p_cublasCreate, "cublasCreate_v2");
    SYM(lib, p_cublasDestroy, "cublasDestroy_v2");
    SYM(lib, p_cublasSetStream, "cublasSetStream_v2");
    SYM(lib, p_cublasSetMathMode, "cublasSetMathMode");
    SYM(lib, p_cublasGetVersion, "cublasGetVersion_v2");
    SYM(lib, p_cublasSgemm, "cublasSgemm_v2");
    SYM(lib, p_cublasGemmEx, "cublasGemmEx");
    SYM(lib, p_cublasGemmStridedBatchedEx, "cublasGemmStridedBatchedEx");
    libcublas = lib;
    return 0;
}

static CUresult cr_init(void) { return p_cuInit(0); }
static CUresult cr_driver_version(int *v) { return p_cuDriverGetVersion(v); }
static CUresult cr_device_count(int *c) { return p_cuDeviceGetCount(c); }

// cr_open_device makes device ordinal's primary context the one every later
// call uses (the primary context is also the one cuBLAS's runtime picks up).
static CUresult cr_open_device(int ordinal, char *name, int n, size_t *mem, int *major, int *minor,
                               int *sms) {
    CUdevice dev;
    CUresult r = p_cuDeviceGet(&dev, ordinal);
    if (r) return r;
    if ((r = p_cuDeviceGetName(name, n, dev))) return r;
    if ((r = p_cuDeviceTotalMem(mem, dev))) return r;
    if ((r = p_cuDeviceGetAttribute(major, 75, dev))) return r;  // COMPUTE_CAPABILITY_MAJOR
    if ((r = p_cuDeviceGetAttribute(minor, 76, dev))) return r;  // COMPUTE_CAPABILITY_MINOR
    if ((r = p_cuDeviceGetAttribute(sms, 16, dev))) return r;    // MULTIPROCESSOR_COUNT
    if ((r = p_cuDevicePrimaryCtxRetain(&cr_ctx, dev))) return r;
    return p_cuCtxSetCurrent(cr_ctx);
}

// Every call below first makes the context current on this OS thread: a
// goroutine can move between threads between two cgo calls, never during one.
#define CUR() do { CUresult r_ = p_cuCtxSetCurrent(cr_ctx); if (r_) return r_; } while (0)

static CUresult cr_module_load(const void *image, CUmodule *mod, char *log, int n) {
    CUR();
    // CU_JIT_ERROR_LOG_BUFFER (5) and its size (6), so a JIT failure says why.
    int opts[2] = {5, 6};
    void *vals[2] = {log, (void *)(size_t)n};
    return p_cuModuleLoadDataEx(mod, image, 2, opts, vals);
}
static CUresult cr_function(CUmodule mod, const char *name, CUfunction *fn) {
    CUR();
    return p_cuModuleGetFunction(fn, mod, name);
}
// cr_launch: args holds nargs 8-byte slots, one per kernel parameter (4-byte
// parameters in the low half: little-endian).
static CUresult cr_launch(CUfunction fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                          unsigned shmem, CUstream s, unsigned long long *args, int nargs) {
    CUR();
    void *ptrs[24];
    for (int i = 0; i < nargs && i < 24; i++) ptrs[i] = &args[i];
    return p_cuLaunchKernel(fn, gx, gy, gz, bx, 1, 1, shmem, s, ptrs, NULL);
}
static CUresult cr_malloc(CUdeviceptr *p, size_t n) { CUR(); return p_cuMemAlloc(p, n); }
static CUresult cr_free(CUdeviceptr p) { CUR(); return p_cuMemFree(p); }
static CUresult cr_malloc_host(void **p, size_t n) { CUR(); return p_cuMemAllocHost(p, n); }
static CUresult cr_free_host(void *p) { CUR(); return p_cuMemFreeHost(p); }
static CUresult cr_mem_info(size_t *free, size_t *total) { CUR(); return p_cuMemGetInfo(free, total); }
static CUresult cr_htod(CUdeviceptr dst, const void *src, size_t n, CUstream s) {
    CUR();
    return p_cuMemcpyHtoDAsync(dst, src, n, s);
}
static CUresult cr_dtoh(void *dst, CUdeviceptr src, size_t n, CUstream s) {
    CUR();
    return p_cuMemcpyDtoHAsync(dst, src, n, s);
}
static CUresult cr_memset(CUdeviceptr dst, unsigned char v, size_t n, CUstream s) {
    CUR();
    return p_cuMemsetD8Async(dst, v, n, s);
}
static CUresult cr_stream_create(CUstream *s) { CUR(); return p_cuStreamCreate(s, 1); }  // NON_BLOCKING
static CUresult cr_stream_destroy(CUstream s) { CUR(); return p_cuStreamDestroy(s); }
static CUresult cr_stream_sync(CUstream s) { CUR(); return p_cuStreamSynchronize(s); }
static const char *cr_error_name(CUresult r) {
    const char *s = NULL;
    if (!p_cuGetErrorName || p_cuGetErrorName(r, &s) || !s) return "unknown CUDA error";
    return s;
}
static const char *cr_error_string(CUresult r) {
    const char *s = NULL;
    if (!p_cuGetErrorString || p_cuGetErrorString(r, &s) || !s) return "";
    return s;
}

#define CUB() do { CUresult r_ = p_cuCtxSetCurrent(cr_ctx); if (r_) return 1000 + r_; } while (0)

static cublasStatus_t cr_cublas_create(cublasHandle_t *h, CUstream s, int *version) {
    CUB();
    cublasStatus_t st = p_cublasCreate(h);
    if (st) return st;
    if ((st = p_cublasSetStream(*h, s))) return st;
    return p_cublasGetVersion(*h, version);
}
static cublasStatus_t cr_cublas_destroy(cublasHandle_t h) { CUB(); return p_cublasDestroy(h); }
static cublasStatus_t cr_cublas_math_mode(cublasHandle_t h, int mode) {
    CUB();
    return p_cublasSetMathMode(h, mode);
}
static cublasStatus_t cr_sgemm(cublasHandle_t h, int ta, int tb, int m, int n, int k, float alpha,
                               CUdeviceptr a, int lda, CUdeviceptr b, int ldb, float beta,
                               CUdeviceptr c, int ldc) {
    CUB();
    return p_cublasSgemm(h, ta, tb, m, n, k, &alpha, (const float *)a, lda, (const float *)b, ldb,
                         &beta, (float *)c, ldc);
}
static cublasStatus_t cr_gemm_ex(cublasHandle_t h, int ta, int tb, int m, int n, int k,
                                 float alpha, CUdeviceptr a, int atype, int lda, CUdeviceptr b,
                                 int btype, int ldb, float beta, CUdeviceptr c, int ctype, int ldc,
                                 int compute, int algo) {
    CUB();
    return p_cublasGemmEx(h, ta, tb, m, n, k, &alpha, (const void *)a, atype, lda, (const void *)b,
                          btype, ldb, &beta, (void *)c, ctype, ldc, compute, algo);
}
static cublasStatus_t cr_gemm_strided_batched_ex(cublasHandle_t h, int ta, int tb, int m, int n,
                                                 int k, float alpha, CUdeviceptr a, int atype,
                                                 int lda, long long sa, CUdeviceptr b, int btype,
                                                 int ldb, long long sb, float beta, CUdeviceptr c,
                                                 int ctype, int ldc, long long sc, int count,
                                                 int compute, int algo) {
    CUB();
    return p_cublasGemmStridedBatchedEx(h, ta, tb, m, n, k, &alpha, (const void *)a, atype, lda,
                                        sa, (const void *)b, btype, ldb, sb, &beta, (void *)c,
                                        ctype, ldc, sc, count, compute, algo);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"unsafe"
)

// cuResult is a CUresult other than CUDA_SUCCESS.
type cuResult int

// cudaErrorOutOfMemory is CUDA_ERROR_OUT_OF_MEMORY.
const cudaErrorOutOfMemory = 2

func (r cuResult) Error() string {
	name := C.GoString(C.cr_error_name(C.CUresult(r)))
	if s := C.GoString(C.cr_error_string(C.CUresult(r))); s != "" {
		return fmt.Sprintf("%s (%d): %s", name, int(r), s)
	}
	return fmt.Sprintf("%s (%d)", name, int(r))
}

// Is lets errors.Is(err, ErrOutOfMemory) see the driver's out-of-memory code.
func (r cuResult) Is(target error) bool { return target == ErrOutOfMemory && r == cudaErrorOutOfMemory }

func check(what string, r C.CUresult) error {
	if r == 0 {
		return nil
	}
	return fmt.Errorf("cuda: %s: %w", what, cuResult(r))
}

// cublasStatus is a cublasStatus_t other than CUBLAS_STATUS_SUCCESS (values
// over 1000 are a driver error making the context current).
type cublasStatus int

const cublasStatusAllocFailed = 3

var cublasNames = map[cublasStatus]string{
	1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
	7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH",
	11: "CUBLAS_STATUS_MAPPING_ERROR", 13: "CUBLAS_STATUS_EXECUTION_FAILED",
	14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
	16: "CUBLAS_STATUS_LICENSE_ERROR",
}

func (s cublasStatus) Error() string {
	if s > 1000 {
		return cuResult(s - 1000).Error()
	}
	if n, ok := cublasNames[s]; ok {
		return fmt.Sprintf("%s (%d)", n, int(s))
	}
	return fmt.Sprintf("cuBLAS status %d", int(s))
}

func (s cublasStatus) Is(target error) bool {
	return target == ErrOutOfMemory && (s == cublasStatusAllocFailed || s == 1000+cudaErrorOutOfMemory)
}

func checkBLAS(what string, s C.cublasStatus_t) error {
	if s == 0 {
		return nil
	}
	return fmt.Errorf("cuda: cuBLAS %s: %w", what, cublasStatus(s))
}

// device is the process's one open GPU: drivers are loaded and the device's
// primary context retained once, at the first New or Available.
type device struct {
	name          string
	ordinal       int
	memory        int64
	major, minor  int
	sms           int
	driverVersion int
	cublasPath    string
}

var (
	openOnce sync.Once
	opened   *device
	openErr  error
	openOrd  int
)

// openDevice loads the driver and cuBLAS and opens device ordinal. Only one
// device per process: a second ordinal is an error.
func openDevice(ordinal int) (*device, error) {
	openOnce.Do(func() {
		openOrd = ordinal
		opened, openErr = doOpen(ordinal)
	})
	if openErr == nil && ordinal != openOrd {
		return nil, fmt.Errorf("cuda: device %d: this process already uses device %d", ordinal, openOrd)
	}
	return opened, openErr
}

func doOpen(ordinal int) (*device, error) {
	var buf [512]C.char
	if C.cr_load_driver(&buf[0], C.int(len(buf))) != 0 {
		return nil, fmt.Errorf("%w: loading the NVIDIA driver library libcuda.so.1: %s", ErrNoDevice, C.GoString(&buf[0]))
	}
	if r := C.cr_init(); r != 0 {
		return nil, fmt.Errorf("%w: cuInit: %v", ErrNoDevice, cuResult(r))
	}
	var count C.int
	if r := C.cr_device_count(&count); r != 0 {
		return nil, fmt.Errorf("%w: cuDeviceGetCount: %v", ErrNoDevice, cuResult(r))
	}
	if ordinal < 0 || ordinal >= int(count) {
		return nil, fmt.Errorf("%w: device %d asked for, the driver reports %d", ErrNoDevice, ordinal, int(count))
	}
	d := &device{ordinal: ordinal}
	var ver C.int
	if r := C.cr_driver_version(&ver); r == 0 {
		d.driverVersion = int(ver)
	}
	var (
		mem               C.size_t
		major, minor, sms C.int
	)
	if r := C.cr_open_device(C.int(ordinal), &buf[0], C.int(len(buf)), &mem, &major, &minor, &sms); r != 0 {
		return nil, fmt.Errorf("%w: opening device %d: %v", ErrNoDevice, ordinal, cuResult(r))
	}
	d.name, d.memory, d.major, d.minor, d.sms = C.GoString(&buf[0]), int64(mem), int(major), int(minor), int(sms)
	if d.major < 8 {
		return nil, fmt.Errorf("%w: %s has compute capability %d.%d; the kernels need 8.0 (Ampere) or newer", ErrNoDevice, d.name, d.major, d.minor)
	}
	var errs []string
	for _, p := range cublasCandidates() {
		cp := C.CString(p)
		r := C.cr_load_cublas(cp, &buf[0], C.int(len(buf)))
		C.free(unsafe.Pointer(cp))
		if r == 0 {
			d.cublasPath = p
			break
		}
		errs = append(errs, C.GoString(&buf[0]))
	}
	if d.cublasPath == "" {
		return nil, fmt.Errorf("%w: no cuBLAS library found (set CROSSRANK_CUBLAS to libcublas.so's path): %v", ErrNoDevice, errs)
	}
	return d, nil
}

// cublasCandidates lists where to look for cuBLAS, most specific first:
// $CROSSRANK_CUBLAS, the sonames the dynamic loader may know (LD_LIBRARY_PATH,
// ldconfig), the CUDA toolkit's folders, then the nvidia-cublas Python wheels
// that PyTorch installs (a common way to have cuBLAS without a toolkit).
func cublasCandidates() []string {
	var c []string
	if p := os.Getenv("CROSSRANK_CUBLAS"); p != "" {
		c = append(c, p)
	}
	sonames := []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"}
	c = append(c, sonames...)
	dirs := []string{"/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"}
	if m, _ := filepath.Glob("/usr/local/cuda-*/lib64"); len(m) > 0 {
		sort.Sort(sort.Reverse(sort.StringSlice(m)))
		dirs = append(dirs, m...)
	}
	for _, pat := range []string{
		"/opt/*/.venv/lib/python3*/site-packages/nvidia/cu*/lib",
		"/opt/*/.venv/lib/python3*/site-packages/nvidia/cublas/lib",
		"/usr/local/lib/python3*/dist-packages/nvidia/cu*/lib",
		"/usr/local/lib/python3*/dist-packages/nvidia/cublas/lib",
		"/usr/lib/python3/dist-packages/nvidia/cublas/lib",
	} {
		m, _ := filepath.Glob(pat)
		dirs = append(dirs, m...)
	}
	for _, d := range dirs {
		for _, s := range sonames[:3] {
			if _, err := os.Stat(filepath.Join(d, s)); err == nil {
				c = append(c, filepath.Join(d, s))
			}
		}
	}
	return c
}

// errBadArgs is for impossible calls into this file, never user input.
var errBadArgs = errors.New("cuda: internal: bad arguments")

// The Go side of the calls above; the rest of the package uses only these.

type (
	devPtr  = C.CUdeviceptr
	stream  = C.CUstream
	module  = C.CUmodule
	cuFunc  = C.CUfunction
	blasH   = C.cublasHandle_t
	hostPtr = unsafe.Pointer
)

func devMalloc(n int64) (devPtr, error) {
	var p C.CUdeviceptr
	err := check(fmt.Sprintf("cuMemAlloc(%d bytes)", n), C.cr_malloc(&p, C.size_t(n)))
	return p, err
}

func devFree(p devPtr) error { return check("cuMemFree", C.cr_free(p)) }

func hostMalloc(n int64) (hostPtr, error) {
	var p unsafe.Pointer
	err := check(fmt.Sprintf("cuMemAllocHost(%d bytes)", n), C.cr_malloc_host(&p, C.size_t(n)))
	return p, err
}

func hostFree(p hostPtr) error { return check("cuMemFreeHost", C.cr_free_host(p)) }

func memInfo() (free, total int64, err error) {
	var f, t C.size_t
	err = check("cuMemGetInfo", C.cr_mem_info(&f, &t))
	return int64(f), int64(t), err
}

// htod copies n bytes at src (pinned host memory, or C memory when s is nil
// and the caller synchronises) to dst on stream s.
func htod(dst devPtr, src hostPtr, n int64, s stream) error {
	return check("cuMemcpyHtoDAsync", C.cr_htod(dst, src, C.size_t(n), s))
}

func dtoh(dst hostPtr, src devPtr, n int64, s stream) error {
	return check("cuMemcpyDtoHAsync", C.cr_dtoh(dst, src, C.size_t(n), s))
}

func memset8(dst devPtr, v byte, n int64, s stream) error {
	return check("cuMemsetD8Async", C.cr_memset(dst, C.uchar(v), C.size_t(n), s))
}

func streamCreate() (stream, error) {
	var s C.CUstream
	err := check("cuStreamCreate", C.cr_stream_create(&s))
	return s, err
}

func streamDestroy(s stream) error { return check("cuStreamDestroy", C.cr_stream_destroy(s)) }
func streamSync(s stream) error    { return check("cuStreamSynchronize", C.cr_stream_sync(s)) }

// loadModule loads PTX (NUL-terminated) and JIT-compiles it for the device.
func loadModule(ptx []byte) (module, error) {
	img := C.CBytes(append(append([]byte(nil), ptx...), 0))
	defer C.free(img)
	var log [8192]C.char
	var m C.CUmodule
	if r := C.cr_module_load(img, &m, &log[0], C.int(len(log))); r != 0 {
		return nil, fmt.Errorf("cuda: loading the kernels' PTX: %w: %s", cuResult(r), C.GoString(&log[0]))
	}
	return m, nil
}

func moduleFunction(m module, name string) (cuFunc, error) {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var f C.CUfunction
	err := check("cuModuleGetFunction "+name, C.cr_function(m, cn, &f))
	return f, err
}

// maxKernelArgs bounds a launch's parameters (cr_launch's array).
const maxKernelArgs = 24

// launch runs fn on grid x block threads (1-D blocks) on stream s; args holds
// one 8-byte slot per kernel parameter.
func launch(name string, fn cuFunc, gx, gy, gz, bx, shmem int, s stream, args []uint64) error {
	if len(args) > maxKernelArgs || gx <= 0 || gy <= 0 || gz <= 0 || bx <= 0 {
		return fmt.Errorf("%w: launch %s grid %dx%dx%d block %d, %d args", errBadArgs, name, gx, gy, gz, bx, len(args))
	}
	var a [maxKernelArgs]C.ulonglong
	for i, v := range args {
		a[i] = C.ulonglong(v)
	}
	return check("launching "+name, C.cr_launch(fn, C.uint(gx), C.uint(gy), C.uint(gz), C.uint(bx), C.uint(shmem), s, &a[0], C.int(len(args))))
}

// blasCreate makes a cuBLAS handle bound to stream s; math mode 0 is
// CUBLAS_DEFAULT_MATH, which keeps fp32 GEMMs in full fp32 (no TF32).
func blasCreate(s stream) (blasH, int, error) {
	var h C.cublasHandle_t
	var ver C.int
	if err := checkBLAS("cublasCreate", C.cr_cublas_create(&h, s, &ver)); err != nil {
		return nil, 0, err
	}
	if err := checkBLAS("cublasSetMathMode", C.cr_cublas_math_mode(h, 0)); err != nil {
		C.cr_cublas_destroy(h)
		return nil, 0, err
	}
	return h, int(ver), nil
}

func blasDestroy(h blasH) error { return checkBLAS("cublasDestroy", C.cr_cublas_destroy(h)) }

// cuBLAS enums (cublas_api.h, library_types.h): stable across 11, 12 and 13.
const (
	blasOpN          = 0
	blasOpT          = 1
	cudaR32F         = 0
	cudaR16F         = 2
	cudaR16BF        = 14
	blasCompute32F   = 68
	blasGemmDefault  = -1
	blasGemmTensorOp = 99
)

// sgemm is column-major C = alpha op(A) op(B) + beta C in float32.
func sgemm(h blasH, ta, tb, m, n, k int, alpha float32, a devPtr, lda int, b devPtr, ldb int, beta float32, c devPtr, ldc int) error {
	return checkBLAS(fmt.Sprintf("Sgemm m=%d n=%d k=%d", m, n, k), C.cr_sgemm(h, C.int(ta), C.int(tb), C.int(m), C.int(n), C.int(k), C.float(alpha), a, C.int(lda), b, C.int(ldb), C.float(beta), c, C.int(ldc)))
}

// gemmEx is column-major C = alpha op(A) op(B) + beta C with A, B and C of
// one data type dt and float32 accumulation.
func gemmEx(h blasH, ta, tb, m, n, k int, alpha float32, a devPtr, lda int, b devPtr, ldb int, beta float32, c devPtr, ldc int, dt int) error {
	return checkBLAS(fmt.Sprintf("GemmEx m=%d n=%d k=%d", m, n, k), C.cr_gemm_ex(h, C.int(ta), C.int(tb), C.int(m), C.int(n), C.int(k), C.float(alpha), a, C.int(dt), C.int(lda), b, C.int(dt), C.int(ldb), C.float(beta), c, C.int(dt), C.int(ldc), blasCompute32F, blasGemmDefault))
}

// gemmStridedBatchedEx is gemmEx over count matrices at fixed strides.
func gemmStridedBatchedEx(h blasH, ta, tb, m, n, k int, alpha float32, a devPtr, lda int, sa int64, b devPtr, ldb int, sb int64, beta float32, c devPtr, ldc int, sc int64, count, dt int) error {
	return checkBLAS(fmt.Sprintf("GemmStridedBatchedEx m=%d n=%d k=%d count=%d", m, n, k, count), C.cr_gemm_strided_batched_ex(h, C.int(ta), C.int(tb), C.int(m), C.int(n), C.int(k), C.float(alpha), a, C.int(dt), C.int(lda), C.longlong(sa), b, C.int(dt), C.int(ldb), C.longlong(sb), C.float(beta), c, C.int(dt), C.int(ldc), C.longlong(sc), C.int(count), blasCompute32F, blasGemmDefault))
}
