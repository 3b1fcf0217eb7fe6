// Row-wise softmax and log-softmax over the last axis, forward and backward. One block per row.
//   forward:  m = max x (0 when the row is all -inf), s = sum e^(x-m); y = e^(x-m)/s, or log: y = x - m - ln s
//   backward: softmax dx = y * (dy - sum dy*y);  log-softmax (y = log p): dx = dy - e^y * sum dy
#include "common.cuh"

template <typename T> __device__ void softmax_fwd_impl(int rows, int cols, const T* x, Lay lx, T* y, int log_softmax) {
    __shared__ T buf[ENGINE_MAX_BLOCK];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        int base = r * cols;
        T m = -m_inf((T)0);
        for (int c = threadIdx.x; c < cols; c += blockDim.x) m = nan_max(m, x[lay_at(lx, base + c)]);
        m = block_reduce(R_MAX, m, buf);
        if (m == -m_inf((T)0)) m = (T)0; // a fully masked row stays finite where it can
        T s = (T)0;
        for (int c = threadIdx.x; c < cols; c += blockDim.x) s += m_exp(x[lay_at(lx, base + c)] - m);
        s = block_reduce(R_SUM, s, buf);
        if (log_softmax) {
            T lse = m_log(s);
            for (int c = threadIdx.x; c < cols; c += blockDim.x) y[base + c] = x[lay_at(lx, base + c)] - m - lse;
        } else {
            for (int c = threadIdx.x; c < cols; c += blockDim.x) y[base + c] = m_exp(x[lay_at(lx, base + c)] - m) / s;
        }
    }
}
extern "C" __global__ void softmax_fwd_f32(int rows, int cols, const float* x, Lay lx, float* y, int log_softmax) { softmax_fwd_impl(rows, cols, x, lx, y, log_softmax); }
extern "C" __global__ void softmax_fwd_f64(int rows, int cols, const double* x, Lay lx, double* y, int log_softmax) { softmax_fwd_impl(rows, cols, x, lx, y, log_softmax); }

template <typename T> __device__ void softmax_bwd_impl(int rows, int cols, const T* y, const T* dy, T* dx, int log_softmax) {
    __shared__ T buf[ENGINE_MAX_BLOCK];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        int base = r * cols;
        T acc = (T)0;
        if (log_softmax) { for (int c = threadIdx.x; c < cols; c += blockDim.x) acc += dy[base + c]; }
        else { for (int c = threadIdx.x; c < cols; c += blockDim.x) acc += dy[base + c] * y[base + c]; }
        acc = block_reduce(R_SUM, acc, buf);
        if (log_softmax) { for (int c = threadIdx.x; c < cols; c += blockDim.x) dx[base + c] = dy[base + c] - m_exp(y[base + c]) * acc; }
        else { for (int c = threadIdx.x; c < cols; c += blockDim.x) dx[base + c] = (dy[base + c] - acc) * y[base + c]; }
    }
}
extern "C" __global__ void softmax_bwd_f32(int rows, int cols, const float* y, const float* dy, float* dx, int log_softmax) { softmax_bwd_impl(rows, cols, y, dy, dx, log_softmax); }
extern "C" __global__ void softmax_bwd_f64(int rows, int cols, const double* y, const double* dy, double* dx, int log_softmax) { softmax_bwd_impl(rows, cols, y, dy, dx, log_softmax); }
