// Index ops along one axis. The host splits shapes around the axis into (outer, size, inner); an index of the
// output (or source) is p = (o*count + j)*inner + i. Out-of-range indices are reported through err[0..1] and the
// host throws; selects write 0 there. Adds use atomicAdd, so the order of float additions is not fixed.
#include "common.cuh"

// out[o, j, i] = x[o, idx[j], i]; moves bits (b32: float32/int32, b64: float64).
template <typename T> __device__ void index_select_impl(int total, int count, int size, int inner, const T* x, Lay lx, const int* idx, T* y, int* err) {
    GRID_STRIDE(p, total) {
        int i = (int)(p % inner), t = (int)(p / inner), j = t % count, o = t / count;
        int k = idx[j];
        if (k < 0 || k >= size) { report_bad_index(err, k); y[p] = (T)0; continue; }
        y[p] = x[lay_at(lx, (o * size + k) * inner + i)];
    }
}
extern "C" __global__ void index_select_b32(int total, int count, int size, int inner, const unsigned int* x, Lay lx, const int* idx, unsigned int* y, int* err) { index_select_impl(total, count, size, inner, x, lx, idx, y, err); }
extern "C" __global__ void index_select_b64(int total, int count, int size, int inner, const unsigned long long* x, Lay lx, const int* idx, unsigned long long* y, int* err) { index_select_impl(total, count, size, inner, x, lx, idx, y, err); }

// y (zeroed, [outer, size, inner]) [o, idx[j], i] += src[o, j, i].
template <typename T> __device__ void index_add_impl(int total, int count, int size, int inner, const int* idx, const T* src, Lay ls, T* y, int* err) {
    GRID_STRIDE(p, total) {
        int i = (int)(p % inner), t = (int)(p / inner), j = t % count, o = t / count;
        int k = idx[j];
        if (k < 0 || k >= size) { report_bad_index(err, k); continue; }
        atomicAdd(&y[(o * size + k) * inner + i], src[lay_at(ls, (int)p)]);
    }
}
extern "C" __global__ void index_add_f32(int total, int count, int size, int inner, const int* idx, const float* src, Lay ls, float* y, int* err) { index_add_impl(total, count, size, inner, idx, src, ls, y, err); }
extern "C" __global__ void index_add_f64(int total, int count, int size, int inner, const int* idx, const double* src, Lay ls, double* y, int* err) { index_add_impl(total, count, size, inner, idx, src, ls, y, err); }

// out[o, j, i] = x[o, index[o, j, i], i]; index has the output's shape.
template <typename T> __device__ void gather_impl(int total, int count, int size, int inner, const T* x, Lay lx, const int* idx, Lay li, T* y, int* err) {
    GRID_STRIDE(p, total) {
        int i = (int)(p % inner), o = (int)(p / ((long long)count * inner));
        int k = idx[lay_at(li, (int)p)];
        if (k < 0 || k >= size) { report_bad_index(err, k); y[p] = (T)0; continue; }
        y[p] = x[lay_at(lx, (o * size + k) * inner + i)];
    }
}
extern "C" __global__ void gather_b32(int total, int count, int size, int inner, const unsigned int* x, Lay lx, const int* idx, Lay li, unsigned int* y, int* err) { gather_impl(total, count, size, inner, x, lx, idx, li, y, err); }
extern "C" __global__ void gather_b64(int total, int count, int size, int inner, const unsigned long long* x, Lay lx, const int* idx, Lay li, unsigned long long* y, int* err) { gather_impl(total, count, size, inner, x, lx, idx, li, y, err); }

// y (zeroed, [outer, size, inner]) [o, index[o, j, i], i] += src[o, j, i].
template <typename T> __device__ void scatter_add_impl(int total, int count, int size, int inner, const int* idx, Lay li, const T* src, Lay ls, T* y, int* err) {
    GRID_STRIDE(p, total) {
        int i = (int)(p % inner), o = (int)(p / ((long long)count * inner));
        int k = idx[lay_at(li, (int)p)];
        if (k < 0 || k >= size) { report_bad_index(err, k); continue; }
        atomicAdd(&y[(o * size + k) * inner + i], src[lay_at(ls, (int)p)]);
    }
}
extern "C" __global__ void scatter_add_f32(int total, int count, int size, int inner, const int* idx, Lay li, const float* src, Lay ls, float* y, int* err) { scatter_add_impl(total, count, size, inner, idx, li, src, ls, y, err); }
extern "C" __global__ void scatter_add_f64(int total, int count, int size, int inner, const int* idx, Lay li, const double* src, Lay ls, double* y, int* err) { scatter_add_impl(total, count, size, inner, idx, li, src, ls, y, err); }
