// Shared definitions for Engine's CUDA kernels. Compiled by NVRTC for the device, and by a host C++ compiler
// under a small emulation header in the tests, so everything here is plain C++ plus the CUDA built-ins.
#pragma once

#define ENGINE_MAX_RANK 8
// Kernels that use shared memory are written for blocks of at most this many threads (a power of two).
#define ENGINE_MAX_BLOCK 256

// A strided view: element i (row-major over shape) lives at offset + sum(index[d] * stride[d]).
// Matches Engine.Cuda.KernelLayout field by field.
struct Lay {
    int rank;
    int offset;
    int contiguous;
    int reserved;
    int shape[ENGINE_MAX_RANK];
    int stride[ENGINE_MAX_RANK];
};

__device__ __forceinline__ int lay_at(const Lay& l, int i) {
    if (l.contiguous) return l.offset + i;
    int off = l.offset;
    for (int d = l.rank - 1; d >= 0; d--) {
        int s = l.shape[d];
        int q = i / s;
        off += (i - q * s) * l.stride[d];
        i = q;
    }
    return off;
}

// Grid-stride loop over [0, n).
#define GRID_STRIDE(i, n) for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (long long)(n); i += (long long)blockDim.x * gridDim.x)

// ---- math, overloaded for float and double so the op templates stay generic ----
__device__ __forceinline__ float m_exp(float x) { return expf(x); }
__device__ __forceinline__ double m_exp(double x) { return exp(x); }
__device__ __forceinline__ float m_log(float x) { return logf(x); }
__device__ __forceinline__ double m_log(double x) { return log(x); }
__device__ __forceinline__ float m_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double m_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float m_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double m_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float m_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double m_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float m_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double m_pow(double x, double y) { return pow(x, y); }
__device__ __forceinline__ float m_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double m_abs(double x) { return fabs(x); }
__device__ __forceinline__ float m_inf(float) { return __int_as_float(0x7f800000); }
__device__ __forceinline__ double m_inf(double) { return __longlong_as_double(0x7ff0000000000000LL); }

template <typename T> __device__ __forceinline__ bool is_nan(T x) { return x != x; }
// max/min that propagate NaN, like System.Numerics.Tensors.TensorPrimitives.Max/Min.
template <typename T> __device__ __forceinline__ T nan_max(T a, T b) { return is_nan(a) ? a : is_nan(b) ? b : (a > b ? a : b); }
template <typename T> __device__ __forceinline__ T nan_min(T a, T b) { return is_nan(a) ? a : is_nan(b) ? b : (a < b ? a : b); }

// Reduction op codes, in the order of Engine.ReduceOp.
enum ReduceCode { R_SUM = 0, R_MAX = 1, R_MIN = 2 };

template <typename T> __device__ __forceinline__ T reduce_identity(int op) {
    return op == R_SUM ? (T)0 : op == R_MAX ? -m_inf((T)0) : m_inf((T)0);
}

template <typename T> __device__ __forceinline__ T reduce_combine(int op, T a, T b) {
    return op == R_SUM ? a + b : op == R_MAX ? nan_max(a, b) : nan_min(a, b);
}

// Reduces one value per thread across the block (blockDim.x a power of two, at most ENGINE_MAX_BLOCK) through
// shared memory; every thread gets the result. Every thread of the block must call it.
template <typename T> __device__ T block_reduce(int op, T v, T* buf) {
    unsigned t = threadIdx.x;
    buf[t] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s) buf[t] = reduce_combine(op, buf[t], buf[t + s]);
        __syncthreads();
    }
    T r = buf[0];
    __syncthreads();
    return r;
}

// Records an out-of-range index for the host to report (any one of them; the race is harmless).
__device__ __forceinline__ void report_bad_index(int* err, int index) {
    err[1] = index;
    err[0] = 1;
}
