// Reductions. The host permutes the reduced axes last, so output row r reduces the cols elements at flat indices
// r*cols .. r*cols+cols-1 of the (strided) input view. One block per row, a shared-memory tree inside the block.
#include "common.cuh"

template <typename T> __device__ void reduce_impl(int rows, int cols, const T* x, Lay lx, T* y, int op) {
    __shared__ T buf[ENGINE_MAX_BLOCK];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        T acc = reduce_identity<T>(op);
        for (int c = threadIdx.x; c < cols; c += blockDim.x) acc = reduce_combine(op, acc, x[lay_at(lx, r * cols + c)]);
        acc = block_reduce(op, acc, buf);
        if (threadIdx.x == 0) y[r] = acc;
    }
}
extern "C" __global__ void reduce_f32(int rows, int cols, const float* x, Lay lx, float* y, int op) { reduce_impl(rows, cols, x, lx, y, op); }
extern "C" __global__ void reduce_f64(int rows, int cols, const double* x, Lay lx, double* y, int op) { reduce_impl(rows, cols, x, lx, y, op); }

// Is (a, ia) preferred over (b, ib) for argmax (sign 1) or argmin (sign -1)? NaN wins (first NaN), then the
// extreme value (+0 above -0), then the lower index: the first extreme, like TensorPrimitives.IndexOfMax/IndexOfMin.
template <typename T> __device__ __forceinline__ bool arg_better(int op, T a, int ia, T b, int ib) {
    if (ib < 0) return ia >= 0;
    if (ia < 0) return false;
    bool na = is_nan(a), nb = is_nan(b);
    if (na || nb) return na && (!nb || ia < ib);
    if (a == b) {
        // Signed zeros: +0 is the larger (as in TensorPrimitives.IndexOfMax/IndexOfMin); else the first index wins.
        if (a == (T)0) {
            bool na0 = (T)1 / a < (T)0, nb0 = (T)1 / b < (T)0;
            if (na0 != nb0) return op == R_MAX ? nb0 : na0;
        }
        return ia < ib;
    }
    return op == R_MAX ? a > b : a < b;
}

template <typename T> __device__ void argreduce_impl(int rows, int cols, const T* x, Lay lx, int* y, int op) {
    __shared__ T vals[ENGINE_MAX_BLOCK];
    __shared__ int idxs[ENGINE_MAX_BLOCK];
    unsigned t = threadIdx.x;
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        T best = (T)0; int bi = -1;
        for (int c = t; c < cols; c += blockDim.x) {
            T v = x[lay_at(lx, r * cols + c)];
            if (arg_better(op, v, c, best, bi)) { best = v; bi = c; }
        }
        vals[t] = best; idxs[t] = bi;
        __syncthreads();
        for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
            if (t < s && arg_better(op, vals[t + s], idxs[t + s], vals[t], idxs[t])) { vals[t] = vals[t + s]; idxs[t] = idxs[t + s]; }
            __syncthreads();
        }
        if (t == 0) y[r] = idxs[0] < 0 ? 0 : idxs[0];
        __syncthreads();
    }
}
extern "C" __global__ void argreduce_f32(int rows, int cols, const float* x, Lay lx, int* y, int op) { argreduce_impl(rows, cols, x, lx, y, op); }
extern "C" __global__ void argreduce_f64(int rows, int cols, const double* x, Lay lx, int* y, int op) { argreduce_impl(rows, cols, x, lx, y, op); }
