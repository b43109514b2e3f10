// Kernels of crossrank's CUDA backend (package cuda).
//
// Each kernel is written once as a template over the storage type T (float,
// __half, __nv_bfloat16) and instantiated under a plain C name with a suffix:
// _f32, _f16, _bf16. Arithmetic is always float32: half-precision values are
// widened on load and rounded once on store, as PyTorch's fp16 kernels do.
//
// Every kernel has a plain Go reference (the bert package's CPU backend);
// cuda's tests compare the two on fresh random inputs.
//
// Regenerate kernels.ptx with ./build.sh after editing; the Go build embeds
// the committed PTX and never runs nvcc.

#include <cuda_fp16.h>
#include <cuda_bf16.h>

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) { return x; }
template <> __device__ __forceinline__ __half from_f<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

// Activation codes: the same numbers as bert.Activation.
enum { ACT_NONE = 0, ACT_GELU = 1, ACT_GELU_NEW = 2, ACT_RELU = 3, ACT_TANH = 4 };

__device__ __forceinline__ float activate(float x, int act) {
    switch (act) {
    case ACT_GELU:  // exact GELU, as torch.nn.functional.gelu
        return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case ACT_GELU_NEW: {  // the tanh approximation (gelu_new, gelu_pytorch_tanh)
        float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
        return 0.5f * x * (1.0f + tanhf(u));
    }
    case ACT_RELU:
        return x > 0.0f ? x : 0.0f;
    case ACT_TANH:
        return tanhf(x);
    default:
        return x;
    }
}

// gather: out[i, :] = table[ids[i], :] (add == 0) or out[i, :] += table[ids[i], :].
// One block per row; ids were checked against the table's rows on the host.
template <typename T>
__device__ void gather(T* out, const T* table, const int* ids, int cols, int add) {
    int row = blockIdx.x;
    const T* src = table + (long long)ids[row] * cols;
    T* dst = out + (long long)row * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = to_f(src[c]);
        if (add) v += to_f(dst[c]);
        dst[c] = from_f<T>(v);
    }
}

// Two adjacent elements, loaded and stored as one 4-byte (fp16/bf16) or
// 8-byte (fp32) access; rows of an even number of columns are aligned to it.
template <typename T>
struct __align__(2 * sizeof(T)) pair_t {
    T a, b;
};

// bias_act: x[r, c] = act(x[r, c] + bias[c]) in place; bias may be null.
// Blocks stride over rows, threads over column pairs (even cols) or columns.
template <typename T>
__device__ void bias_act(T* x, const T* bias, int rows, int cols, int act) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        T* row = x + (long long)r * cols;
        if ((cols & 1) == 0) {
            pair_t<T>* rp = reinterpret_cast<pair_t<T>*>(row);
            const pair_t<T>* bp = reinterpret_cast<const pair_t<T>*>(bias);
            for (int c = threadIdx.x; c < (cols >> 1); c += blockDim.x) {
                pair_t<T> v = rp[c];
                float a = to_f(v.a), b = to_f(v.b);
                if (bias) {
                    pair_t<T> w = bp[c];
                    a += to_f(w.a);
                    b += to_f(w.b);
                }
                v.a = from_f<T>(activate(a, act));
                v.b = from_f<T>(activate(b, act));
                rp[c] = v;
            }
        } else {
            for (int c = threadIdx.x; c < cols; c += blockDim.x) {
                float v = to_f(row[c]);
                if (bias) v += to_f(bias[c]);
                row[c] = from_f<T>(activate(v, act));
            }
        }
    }
}

// Block-wide sum of one float per thread; every thread gets the result.
// red must hold 32 floats.
__device__ __forceinline__ float block_sum(float v, float* red) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    __syncthreads();  // red may still be read by a previous call
    if (lane == 0) red[warp] = v;
    __syncthreads();
    int nw = (blockDim.x + 31) >> 5;
    v = lane < nw ? red[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// add_layernorm: out[r] = LayerNorm(x[r] + xbias + res[r]) * gamma + beta, with
// xbias (a Linear's bias not yet added) and res optional. One block per row;
// the row's sum is kept in dynamic shared memory (cols floats) so that the
// variance is the exact two-pass one, as PyTorch computes it.
template <typename T>
__device__ void add_layernorm(T* out, const T* x, const T* xbias, const T* res, const T* gamma,
                              const T* beta, int cols, float eps) {
    extern __shared__ float row[];
    __shared__ float red[32];
    long long base = (long long)blockIdx.x * cols;
    float s = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = to_f(x[base + c]);
        if (xbias) v += to_f(xbias[c]);
        if (res) v += to_f(res[base + c]);
        row[c] = v;
        s += v;
    }
    float mean = block_sum(s, red) / cols;
    float q = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float d = row[c] - mean;
        q += d * d;
    }
    float rstd = rsqrtf(block_sum(q, red) / cols + eps);
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
        out[base + c] = from_f<T>((row[c] - mean) * rstd * to_f(gamma[c]) + to_f(beta[c]));
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// add_layernorm_warp is add_layernorm for rows of an even number of columns,
// at most 64 * LN_MAXPAIRS: one warp per row, the row in registers (column
// pairs lane, lane+32, ...), warp shuffles instead of block barriers.
#define LN_MAXPAIRS 16
template <typename T>
__device__ void add_layernorm_warp(T* out, const T* x, const T* xbias, const T* res, const T* gamma,
                                   const T* beta, int rows, int cols, float eps) {
    int lane = threadIdx.x & 31;
    int r = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (r >= rows) return;
    long long base = (long long)r * cols;
    int np = cols >> 1;
    const pair_t<T>* xp = reinterpret_cast<const pair_t<T>*>(x + base);
    const pair_t<T>* bp = reinterpret_cast<const pair_t<T>*>(xbias);
    const pair_t<T>* rp = reinterpret_cast<const pair_t<T>*>(res + (res ? base : 0));
    float v[2 * LN_MAXPAIRS];
    float s = 0.0f;
#pragma unroll
    for (int i = 0; i < LN_MAXPAIRS; i++) {
        int c = lane + 32 * i;
        float a = 0.0f, b = 0.0f;
        if (c < np) {
            pair_t<T> p = xp[c];
            a = to_f(p.a);
            b = to_f(p.b);
            if (xbias) {
                pair_t<T> q = bp[c];
                a += to_f(q.a);
                b += to_f(q.b);
            }
            if (res) {
                pair_t<T> q = rp[c];
                a += to_f(q.a);
                b += to_f(q.b);
            }
        }
        v[2 * i] = a;
        v[2 * i + 1] = b;
        s += a + b;
    }
    float mean = warp_sum(s) / cols;
    float q = 0.0f;
#pragma unroll
    for (int i = 0; i < LN_MAXPAIRS; i++) {
        if (lane + 32 * i < np) {
            float d0 = v[2 * i] - mean, d1 = v[2 * i + 1] - mean;
            q += d0 * d0 + d1 * d1;
        }
    }
    float rstd = rsqrtf(warp_sum(q) / cols + eps);
    const pair_t<T>* gp = reinterpret_cast<const pair_t<T>*>(gamma);
    const pair_t<T>* btp = reinterpret_cast<const pair_t<T>*>(beta);
    pair_t<T>* op = reinterpret_cast<pair_t<T>*>(out + base);
#pragma unroll
    for (int i = 0; i < LN_MAXPAIRS; i++) {
        int c = lane + 32 * i;
        if (c < np) {
            pair_t<T> g = gp[c], bb = btp[c], o;
            o.a = from_f<T>((v[2 * i] - mean) * rstd * to_f(g.a) + to_f(bb.a));
            o.b = from_f<T>((v[2 * i + 1] - mean) * rstd * to_f(g.b) + to_f(bb.b));
            op[c] = o;
        }
    }
}

// rows: out[i, :] = x[idx[i], :].
template <typename T>
__device__ void rows(T* out, const T* x, const int* idx, int cols) {
    const T* src = x + (long long)idx[blockIdx.x] * cols;
    T* dst = out + (long long)blockIdx.x * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) dst[c] = src[c];
}

// Attention over packed variable-length sequences.
//
// q, k and v are [tokens, ld] matrices (ld = heads*headDim, or more when they
// are column slices of one fused projection); head h of token t is the
// headDim values at t*ld + h*headDim. qb, kb and vb are optional biases of a
// Linear not yet added. offsets (cu_seqlens) has nseq+1 entries.
//
// One block per (query tile of ATT_BQ rows, head, sequence); one thread per
// query row. The keys and values of the sequence stream through shared memory
// in tiles of ATT_BK rows, and each thread keeps its softmax running (the
// online softmax of flash attention: a running max m, a running sum l and an
// unnormalised accumulator, rescaled when the max grows), so any sequence
// length works with the same shared memory. Scores use exp2 with log2(e)
// folded into the query scale. D is the head dimension rounded up to a
// compiled size; d is the real one.
#define ATT_BQ 64
#define ATT_BK 32

template <typename T, int D>
__device__ void attention(T* out, const T* q, const T* k, const T* v, const T* qb, const T* kb,
                          const T* vb, const int* offsets, int ldq, int ldk, int ldv, int ldo, int d,
                          float scale_log2) {
    __shared__ float ks[ATT_BK][D];
    __shared__ float vs[ATT_BK][D];
    __shared__ float ss[ATT_BK][ATT_BQ];
    int seq = blockIdx.z, head = blockIdx.y;
    int start = offsets[seq], len = offsets[seq + 1] - start;
    int qi = blockIdx.x * ATT_BQ + threadIdx.x;  // query row within the sequence
    if (blockIdx.x * ATT_BQ >= len) return;      // whole block past the end: no barrier reached
    bool active = qi < len;
    int hoff = head * d;

    float qr[D], acc[D];
#pragma unroll
    for (int j = 0; j < D; j++) {
        float x = 0.0f;
        if (active && j < d) {
            x = to_f(q[(long long)(start + qi) * ldq + hoff + j]);
            if (qb) x += to_f(qb[hoff + j]);
        }
        qr[j] = x * scale_log2;
        acc[j] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;

    for (int k0 = 0; k0 < len; k0 += ATT_BK) {
        int nk = min(ATT_BK, len - k0);
        __syncthreads();  // the previous tile is no longer read
        for (int e = threadIdx.x; e < ATT_BK * D; e += blockDim.x) {
            int r = e / D, j = e % D;
            float kv = 0.0f, vv = 0.0f;
            if (r < nk && j < d) {
                long long t = start + k0 + r;
                kv = to_f(k[t * ldk + hoff + j]);
                vv = to_f(v[t * ldv + hoff + j]);
                if (kb) kv += to_f(kb[hoff + j]);
                if (vb) vv += to_f(vb[hoff + j]);
            }
            ks[r][j] = kv;
            vs[r][j] = vv;
        }
        __syncthreads();
        if (!active) continue;
        // Scores go to this thread's column of shared memory rather than a
        // register array: that keeps the key loop rolled (small code, no
        // spills) without dynamic register indexing.
        float tmax = -INFINITY;
        for (int r = 0; r < nk; r++) {
            float dot = 0.0f;
#pragma unroll
            for (int j = 0; j < D; j++) dot += qr[j] * ks[r][j];
            ss[r][threadIdx.x] = dot;
            tmax = fmaxf(tmax, dot);
        }
        float mnew = fmaxf(m, tmax);
        float corr = exp2f(m - mnew);  // 0 on the first tile (m = -inf)
        l *= corr;
#pragma unroll
        for (int j = 0; j < D; j++) acc[j] *= corr;
        for (int r = 0; r < nk; r++) {
            float p = exp2f(ss[r][threadIdx.x] - mnew);
            l += p;
#pragma unroll
            for (int j = 0; j < D; j++) acc[j] += p * vs[r][j];
        }
        m = mnew;
    }
    if (!active) return;
    float inv = 1.0f / l;
    T* o = out + (long long)(start + qi) * ldo + hoff;
#pragma unroll
    for (int j = 0; j < D; j++)
        if (j < d) o[j] = from_f<T>(acc[j] * inv);
}

#define INSTANTIATE(T, SUF)                                                                        \
    extern "C" __global__ void gather_##SUF(T* out, const T* table, const int* ids, int cols,      \
                                            int add) {                                             \
        gather<T>(out, table, ids, cols, add);                                                     \
    }                                                                                              \
    extern "C" __global__ void bias_act_##SUF(T* x, const T* bias, int rows, int cols, int act) {  \
        bias_act<T>(x, bias, rows, cols, act);                                                     \
    }                                                                                              \
    extern "C" __global__ void add_layernorm_warp_##SUF(T* out, const T* x, const T* xbias,        \
                                                        const T* res, const T* gamma,              \
                                                        const T* beta, int rows, int cols,         \
                                                        float eps) {                               \
        add_layernorm_warp<T>(out, x, xbias, res, gamma, beta, rows, cols, eps);                   \
    }                                                                                              \
    extern "C" __global__ void add_layernorm_##SUF(T* out, const T* x, const T* xbias,             \
                                                   const T* res, const T* gamma, const T* beta,    \
                                                   int cols, float eps) {                          \
        add_layernorm<T>(out, x, xbias, res, gamma, beta, cols, eps);                              \
    }                                                                                              \
    extern "C" __global__ void rows_##SUF(T* out, const T* x, const int* idx, int cols) {          \
        rows<T>(out, x, idx, cols);                                                                \
    }                                                                                              \
    ATTENTION(T, SUF, 32)                                                                          \
    ATTENTION(T, SUF, 64)                                                                          \
    ATTENTION(T, SUF, 128)

#define ATTENTION(T, SUF, D)                                                                       \
    extern "C" __global__ void __launch_bounds__(ATT_BQ)                                          \
        attention_d##D##_##SUF(T* out, const T* q, const T* k, const T* v, const T* qb,            \
                               const T* kb, const T* vb, const int* offsets, int ldq, int ldk,     \
                               int ldv, int ldo, int d, float scale_log2) {                        \
        attention<T, D>(out, q, k, v, qb, kb, vb, offsets, ldq, ldk, ldv, ldo, d, scale_log2);     \
    }

INSTANTIATE(float, f32)
INSTANTIATE(__half, f16)
INSTANTIATE(__nv_bfloat16, bf16)

// Attention on the tensor cores (fp16 and bf16 storage, head sizes up to 64).
//
// The same blocks as attention() above, (query tile, head, sequence), with 4
// warps; each warp owns 16 query rows. Per key tile of ATT_BK keys a warp
// computes its 16 x ATT_BK scores with WMMA (fp16/bf16 operands, fp32
// accumulation), runs the online softmax on them in shared memory (two lanes
// per row), and accumulates P · V with WMMA into its output rows, which stay
// in shared memory in fp32 so the rescaling by the softmax correction can
// address rows (a WMMA fragment's element layout is opaque). Head sizes that
// are not a multiple of 16 are zero-padded to D.
#include <mma.h>

#define TC_WARPS 4
#define TC_BQ (16 * TC_WARPS)

template <typename T, int D>
__device__ void attention_tc(T* out, const T* q, const T* k, const T* v, const T* qb, const T* kb,
                             const T* vb, const int* offsets, int ldq, int ldk, int ldv, int ldo,
                             int d, float scale_log2) {
    using namespace nvcuda;
    constexpr int LH = D + 8;        // half row stride: 16-byte pad against bank conflicts
    constexpr int LF = D + 4;        // float row stride of the output rows
    constexpr int LS = ATT_BK + 4;   // float row stride of the scores
    constexpr int LP = ATT_BK + 8;   // half row stride of the probabilities
    // Q is needed only until its fragments are in registers: the scores reuse it.
    constexpr int QS_BYTES = TC_BQ * LH * 2 > TC_BQ * LS * 4 ? TC_BQ * LH * 2 : TC_BQ * LS * 4;
    __shared__ __align__(32) unsigned char qs_raw[QS_BYTES];
    __shared__ __align__(32) T ks[ATT_BK * LH];
    __shared__ __align__(32) T vs[ATT_BK * LH];
    __shared__ __align__(32) T ps[TC_BQ * LP];
    __shared__ __align__(32) float os[TC_BQ * LF];
    T* qs = reinterpret_cast<T*>(qs_raw);
    float* ss = reinterpret_cast<float*>(qs_raw);

    int seq = blockIdx.z, head = blockIdx.y;
    int start = offsets[seq], len = offsets[seq + 1] - start;
    int q0 = blockIdx.x * TC_BQ;
    if (q0 >= len) return;
    int hoff = head * d;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

    for (int e = threadIdx.x; e < TC_BQ * D; e += blockDim.x) {
        int r = e / D, j = e % D;
        float x = 0.0f;
        if (q0 + r < len && j < d) {
            x = to_f(q[(long long)(start + q0 + r) * ldq + hoff + j]);
            if (qb) x += to_f(qb[hoff + j]);
        }
        qs[r * LH + j] = from_f<T>(x);
    }
    for (int e = threadIdx.x; e < TC_BQ * LF; e += blockDim.x) os[e] = 0.0f;
    __syncthreads();

    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> qf[D / 16];
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) wmma::load_matrix_sync(qf[kk], qs + (warp * 16) * LH + kk * 16, LH);
    __syncthreads();  // qs becomes ss

    float* sw = ss + warp * 16 * LS;  // this warp's scores
    T* pw = ps + warp * 16 * LP;
    float* ow = os + warp * 16 * LF;
    int row = lane >> 1, half = lane & 1;  // two lanes per query row
    float m = -INFINITY, l = 0.0f;

    for (int k0 = 0; k0 < len; k0 += ATT_BK) {
        int nk = min(ATT_BK, len - k0);
        for (int e = threadIdx.x; e < ATT_BK * D; e += blockDim.x) {
            int r = e / D, j = e % D;
            float kv = 0.0f, vv = 0.0f;
            if (r < nk && j < d) {
                long long t = start + k0 + r;
                kv = to_f(k[t * ldk + hoff + j]);
                vv = to_f(v[t * ldv + hoff + j]);
                if (kb) kv += to_f(kb[hoff + j]);
                if (vb) vv += to_f(vb[hoff + j]);
            }
            ks[r * LH + j] = from_f<T>(kv);
            vs[r * LH + j] = from_f<T>(vv);
        }
        __syncthreads();

        // S = Q Kᵀ: Kᵀ as a column-major matrix is K's rows as they lie.
#pragma unroll
        for (int c = 0; c < ATT_BK / 16; c++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> sf;
            wmma::fill_fragment(sf, 0.0f);
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> kf;
                wmma::load_matrix_sync(kf, ks + (c * 16) * LH + kk * 16, LH);
                wmma::mma_sync(sf, qf[kk], kf, sf);
            }
            wmma::store_matrix_sync(sw + c * 16, sf, LS, wmma::mem_row_major);
        }
        __syncwarp();

        // Online softmax of row `row`, columns half*16 .. half*16+15.
        constexpr int HC = ATT_BK / 2;
        float sv[HC];
        float tmax = -INFINITY;
#pragma unroll
        for (int c = 0; c < HC; c++) {
            int col = half * HC + c;
            sv[c] = col < nk ? sw[row * LS + col] * scale_log2 : -INFINITY;
            tmax = fmaxf(tmax, sv[c]);
        }
        tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, 1));
        float mnew = fmaxf(m, tmax);
        float corr = exp2f(m - mnew);
        float sum = 0.0f;
#pragma unroll
        for (int c = 0; c < HC; c++) {
            float p = exp2f(sv[c] - mnew);
            sum += p;
            pw[row * LP + half * HC + c] = from_f<T>(p);
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        l = l * corr + sum;
        m = mnew;
#pragma unroll
        for (int c = 0; c < D / 2; c++) ow[row * LF + half * (D / 2) + c] *= corr;
        __syncwarp();

        // O += P V.
#pragma unroll
        for (int c = 0; c < D / 16; c++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> of;
            wmma::load_matrix_sync(of, ow + c * 16, LF, wmma::mem_row_major);
#pragma unroll
            for (int kk = 0; kk < ATT_BK / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> pf;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> vf;
                wmma::load_matrix_sync(pf, pw + kk * 16, LP);
                wmma::load_matrix_sync(vf, vs + (kk * 16) * LH + c * 16, LH);
                wmma::mma_sync(of, pf, vf, of);
            }
            wmma::store_matrix_sync(ow + c * 16, of, LF, wmma::mem_row_major);
        }
        __syncthreads();  // ks, vs and this tile's scores are free again
    }

    int qi = q0 + warp * 16 + row;
    if (qi < len) {
        float inv = 1.0f / l;
        T* o = out + (long long)(start + qi) * ldo + hoff;
        for (int c = half * (D / 2); c < (half + 1) * (D / 2); c++)
            if (c < d) o[c] = from_f<T>(ow[row * LF + c] * inv);
    }
}

#define ATTENTION_TC(T, SUF, D)                                                                    \
    extern "C" __global__ void __launch_bounds__(TC_WARPS * 32)                                     \
        attention_tc_d##D##_##SUF(T* out, const T* q, const T* k, const T* v, const T* qb,         \
                                  const T* kb, const T* vb, const int* offsets, int ldq, int ldk,  \
                                  int ldv, int ldo, int d, float scale_log2) {                     \
        attention_tc<T, D>(out, q, k, v, qb, kb, vb, offsets, ldq, ldk, ldv, ldo, d, scale_log2);  \
    }

ATTENTION_TC(__half, f16, 32)
ATTENTION_TC(__half, f16, 64)
ATTENTION_TC(__nv_bfloat16, bf16, 32)
ATTENTION_TC(__nv_bfloat16, bf16, 64)

// Attention on the tensor cores through mma.sync (fp16 and bf16 storage, head
// sizes up to 128): the flash-attention-2 arrangement.
//
// Blocks as above, (query tile of MMA_BQ rows, head, sequence), 4 warps of 16
// query rows each. A warp keeps everything of its rows in registers: the Q
// fragments (loaded once), the scores of one key tile, the softmax state and
// the output accumulators. Only K and V pass through shared memory, one tile
// of BK keys at a time, read into fragments with ldmatrix (V transposed on
// the way, .trans). The m16n8k16 fragment layouts are the PTX ISA's: thread
// lane holds rows g = lane/4 and g+8, columns 2t and 2t+1 (t = lane%4) of
// each 16 x 8 accumulator tile; two adjacent score tiles in that layout are
// exactly the A fragment of P for the next product, so P never leaves
// registers, and the softmax correction rescales the accumulators in place
// (the WMMA kernel above keeps the output in shared memory because WMMA's
// fragment layout is opaque). Each row's softmax is shared by the 4 lanes of
// a quad (shuffles over lane bits 0 and 1); the row sum stays split over the
// quad until the end.
//
// K and V rows past the sequence's end are zeroed in shared memory (a zero V
// row times a zero probability, never NaN) and their scores masked to -inf;
// head columns past d are zero in Q, K and V, so a head of d < D gets exact
// dot products and the extra output columns are not stored.
#define MMA_WARPS 4
#define MMA_BQ (16 * MMA_WARPS)

__device__ __forceinline__ unsigned smem_addr(const void* p) {
    return (unsigned)__cvta_generic_to_shared(p);
}

__device__ __forceinline__ void ldsm_x4(unsigned* r, const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p))
                 : "memory");
}

__device__ __forceinline__ void ldsm_x4_trans(unsigned* r, const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p))
                 : "memory");
}

// c += a · b for one m16n8k16 tile, fp32 accumulation.
template <typename T> __device__ __forceinline__ void mma16816(float* c, const unsigned* a, const unsigned* b);
template <>
__device__ __forceinline__ void mma16816<__half>(float* c, const unsigned* a, const unsigned* b) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float* c, const unsigned* a, const unsigned* b) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// pack2: two floats rounded to T, the first in the low half (the lower column
// of a fragment register).
template <typename T> __device__ __forceinline__ unsigned pack2(float a, float b);
template <> __device__ __forceinline__ unsigned pack2<__half>(float a, float b) {
    __half2 h = __floats2half2_rn(a, b);
    return *reinterpret_cast<unsigned*>(&h);
}
template <> __device__ __forceinline__ unsigned pack2<__nv_bfloat16>(float a, float b) {
    __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
    return *reinterpret_cast<unsigned*>(&h);
}

// Tiles go from global memory to shared memory in two steps, so that the
// loads of the next key tile are in flight while the tensor cores work on the
// present one: fetch_tile issues a thread's loads into registers, put_tile
// adds the pending bias and stores them. Thread i always handles the same 8
// head columns lc = (i % (D/8)) * 8 (so its bias chunk is loaded once) of
// rows i / (D/8) + j * (MMA_THREADS / (D/8)); the loop bounds are compile-time
// constants, so the loads of a tile go out back to back. Where rows are
// 16-byte aligned (ld, d and the head offset multiples of 8) one 16-byte load
// per chunk, else element by element; rows past nvalid and columns past d
// are zero, in the tile and in the bias chunk.
#define MMA_THREADS (MMA_WARPS * 32)

// tile_vec says whether src's head rows and bias allow 16-byte loads.
template <typename T>
__device__ __forceinline__ bool tile_vec(const T* src, const T* bias, int ld, int hoff, int d) {
    return ((ld | hoff | d) & 7) == 0 && ((unsigned long long)src & 15) == 0 &&
           ((unsigned long long)bias & 15) == 0;
}

template <typename T, int D, int N>
__device__ __forceinline__ void fetch_tile(uint4 (&u)[N], const T* src, long long tok0, int nvalid, int ld,
                                           int hoff, int d, bool vec) {
    constexpr int C8 = D / 8, RPS = MMA_THREADS / C8;
    int lc = (threadIdx.x % C8) * 8, lr = threadIdx.x / C8;
#pragma unroll
    for (int j = 0; j < N; j++) {
        int r = lr + j * RPS;
        u[j] = make_uint4(0, 0, 0, 0);
        if (r < nvalid && lc < d) {
            const T* s = src + (tok0 + r) * ld + hoff + lc;
            if (vec) {
                u[j] = *reinterpret_cast<const uint4*>(s);
            } else {
                T* h = reinterpret_cast<T*>(&u[j]);
#pragma unroll
                for (int i = 0; i < 8; i++)
                    if (lc + i < d) h[i] = s[i];
            }
        }
    }
}

// bias_chunk is this thread's 8 bias values (zero past d; all zero when
// bias is null).
template <typename T, int D>
__device__ __forceinline__ uint4 bias_chunk(const T* bias, int hoff, int d, bool vec) {
    constexpr int C8 = D / 8;
    int lc = (threadIdx.x % C8) * 8;
    uint4 u = make_uint4(0, 0, 0, 0);
    if (bias && lc < d) {
        if (vec) {
            u = *reinterpret_cast<const uint4*>(bias + hoff + lc);
        } else {
            T* h = reinterpret_cast<T*>(&u);
#pragma unroll
            for (int i = 0; i < 8; i++)
                if (lc + i < d) h[i] = bias[hoff + lc + i];
        }
    }
    return u;
}

template <typename T, int D, int N>
__device__ __forceinline__ void put_tile(T* dst, const uint4 (&u)[N], int nvalid, bool has_bias, uint4 ub) {
    constexpr int LH = D + 8, C8 = D / 8, RPS = MMA_THREADS / C8;
    int lc = (threadIdx.x % C8) * 8, lr = threadIdx.x / C8;
#pragma unroll
    for (int j = 0; j < N; j++) {
        int r = lr + j * RPS;
        uint4 x = u[j];
        if (has_bias && r < nvalid) {  // rows past the end stay zero
            T* h = reinterpret_cast<T*>(&x);
            const T* hb = reinterpret_cast<const T*>(&ub);
#pragma unroll
            for (int i = 0; i < 8; i++) h[i] = from_f<T>(to_f(h[i]) + to_f(hb[i]));
        }
        *reinterpret_cast<uint4*>(dst + r * LH + lc) = x;
    }
}

template <typename T, int D, int BK>
__device__ void attention_mma(T* out, const T* q, const T* k, const T* v, const T* qb, const T* kb,
                              const T* vb, const int* offsets, int ldq, int ldk, int ldv, int ldo,
                              int d, float scale_log2) {
    constexpr int LH = D + 8;  // row stride: 16 bytes of pad keep ldmatrix's 8 rows in distinct banks
    __shared__ __align__(16) T qs[MMA_BQ * LH];
    __shared__ __align__(16) T ks[BK * LH];
    __shared__ __align__(16) T vs[BK * LH];

    int seq = blockIdx.z, head = blockIdx.y;
    int start = offsets[seq], len = offsets[seq + 1] - start;
    int q0 = blockIdx.x * MMA_BQ;
    if (q0 >= len) return;  // the whole block: no barrier reached
    int hoff = head * d;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int g = lane >> 2, t = lane & 3;

    constexpr int RPS = MMA_THREADS / (D / 8);  // rows per fetch step
    constexpr int QN = MMA_BQ / RPS, KN = BK / RPS;
    static_assert(MMA_THREADS % (D / 8) == 0 && MMA_BQ % RPS == 0 && BK % RPS == 0, "tile split");
    bool vq = tile_vec(q, qb, ldq, hoff, d), vk = tile_vec(k, kb, ldk, hoff, d), vv = tile_vec(v, vb, ldv, hoff, d);
    uint4 kr[KN], vr[KN];  // the next key tile, in flight
    fetch_tile<T, D, KN>(kr, k, start, min(BK, len), ldk, hoff, d, vk);
    fetch_tile<T, D, KN>(vr, v, start, min(BK, len), ldv, hoff, d, vv);
    uint4 kbc = bias_chunk<T, D>(kb, hoff, d, vk), vbc = bias_chunk<T, D>(vb, hoff, d, vv);
    {
        uint4 qr[QN];
        fetch_tile<T, D, QN>(qr, q, start + q0, min(MMA_BQ, len - q0), ldq, hoff, d, vq);
        put_tile<T, D, QN>(qs, qr, min(MMA_BQ, len - q0), qb != nullptr, bias_chunk<T, D>(qb, hoff, d, vq));
    }
    __syncthreads();
    unsigned qf[D / 16][4];
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++)
        ldsm_x4(qf[kk], qs + (warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * LH + kk * 16 + (lane >> 4) * 8);

    float o[D / 8][4];
#pragma unroll
    for (int c = 0; c < D / 8; c++) o[c][0] = o[c][1] = o[c][2] = o[c][3] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

    for (int k0 = 0; k0 < len; k0 += BK) {
        int nk = min(BK, len - k0);
        __syncthreads();  // the previous tile is no longer read
        put_tile<T, D, KN>(ks, kr, nk, kb != nullptr, kbc);
        put_tile<T, D, KN>(vs, vr, nk, vb != nullptr, vbc);
        __syncthreads();
        if (k0 + BK < len) {  // the next tile's loads overlap this tile's work
            fetch_tile<T, D, KN>(kr, k, start + k0 + BK, min(BK, len - k0 - BK), ldk, hoff, d, vk);
            fetch_tile<T, D, KN>(vr, v, start + k0 + BK, min(BK, len - k0 - BK), ldv, hoff, d, vv);
        }

        // S = Q Kᵀ: the B operand (k = head column, n = key) is K's rows as
        // they lie; one ldmatrix.x4 gives two key tiles' fragments.
        float s[BK / 8][4];
#pragma unroll
        for (int n = 0; n < BK / 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
#pragma unroll
            for (int n = 0; n < BK / 8; n += 2) {
                unsigned b[4];
                ldsm_x4(b, ks + (n * 8 + (lane & 7) + (lane >> 4) * 8) * LH + kk * 16 + ((lane >> 3) & 1) * 8);
                mma16816<T>(s[n], qf[kk], b);
                mma16816<T>(s[n + 1], qf[kk], b + 2);
            }
        }

        // Online softmax of rows g (elements 0, 1) and g+8 (elements 2, 3).
        float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int n = 0; n < BK / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int col = n * 8 + 2 * t + (e & 1);
                float x = col < nk ? s[n][e] * scale_log2 : -INFINITY;
                s[n][e] = x;
                mx[e >> 1] = fmaxf(mx[e >> 1], x);
            }
        float corr[2], rs[2] = {0.0f, 0.0f};
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            float mnew = fmaxf(m[r], mx[r]);  // finite: every tile has a key
            corr[r] = exp2f(m[r] - mnew);     // 0 on the first tile
            m[r] = mnew;
        }
#pragma unroll
        for (int n = 0; n < BK / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float p = exp2f(s[n][e] - m[e >> 1]);
                s[n][e] = p;
                rs[e >> 1] += p;
            }
#pragma unroll
        for (int r = 0; r < 2; r++) l[r] = l[r] * corr[r] + rs[r];
#pragma unroll
        for (int c = 0; c < D / 8; c++) {
            o[c][0] *= corr[0];
            o[c][1] *= corr[0];
            o[c][2] *= corr[1];
            o[c][3] *= corr[1];
        }

        // O += P V: score tiles 2kk and 2kk+1 are P's A fragment for keys
        // 16kk..16kk+15; V's B fragment (k = key, n = head column) comes
        // transposed out of its row-major tile.
#pragma unroll
        for (int kk = 0; kk < BK / 16; kk++) {
            if (kk * 16 >= nk) break;  // keys past the end: zero probabilities
            unsigned a[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]), pack2<T>(s[2 * kk][2], s[2 * kk][3]),
                             pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                             pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
            for (int c = 0; c < D / 8; c += 2) {
                unsigned b[4];
                ldsm_x4_trans(b, vs + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * LH + (c + (lane >> 4)) * 8);
                mma16816<T>(o[c], a, b);
                mma16816<T>(o[c + 1], a, b + 2);
            }
        }
    }

    bool pairs = ((ldo | hoff) & 1) == 0;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        int qi = q0 + warp * 16 + g + 8 * r;
        if (qi >= len) continue;
        float inv = 1.0f / l[r];
        T* orow = out + (long long)(start + qi) * ldo + hoff;
#pragma unroll
        for (int c = 0; c < D / 8; c++) {
            int col = c * 8 + 2 * t;
            float x0 = o[c][2 * r] * inv, x1 = o[c][2 * r + 1] * inv;
            if (pairs && col + 1 < d) {
                pair_t<T> p;
                p.a = from_f<T>(x0);
                p.b = from_f<T>(x1);
                *reinterpret_cast<pair_t<T>*>(orow + col) = p;
            } else {
                if (col < d) orow[col] = from_f<T>(x0);
                if (col + 1 < d) orow[col + 1] = from_f<T>(x1);
            }
        }
    }
}

#define ATTENTION_MMA(T, SUF, D, BK)                                                               \
    extern "C" __global__ void __launch_bounds__(MMA_THREADS)                                       \
        attention_mma_d##D##_##SUF(T* out, const T* q, const T* k, const T* v, const T* qb,        \
                                   const T* kb, const T* vb, const int* offsets, int ldq, int ldk, \
                                   int ldv, int ldo, int d, float scale_log2) {                    \
        attention_mma<T, D, BK>(out, q, k, v, qb, kb, vb, offsets, ldq, ldk, ldv, ldo, d,          \
                                scale_log2);                                                       \
    }

// Key tiles of 64 keys for heads up to 64 wide (27 KB of shared memory for
// D = 64), 32 for 128 (the scores and the accumulators share the registers).
ATTENTION_MMA(__half, f16, 32, 64)
ATTENTION_MMA(__half, f16, 64, 64)
ATTENTION_MMA(__half, f16, 128, 32)
ATTENTION_MMA(__nv_bfloat16, bf16, 32, 64)
ATTENTION_MMA(__nv_bfloat16, bf16, 64, 64)
ATTENTION_MMA(__nv_bfloat16, bf16, 128, 32)
