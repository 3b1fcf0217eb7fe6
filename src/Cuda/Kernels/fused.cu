// Fused kernels: layer norm / RMS norm forward and backward, cross-entropy forward and backward, rotary position
// embedding, and the AdamW and SGD steps. Row kernels run one block per row; sums across rows (weight and bias
// gradients, the mean loss) run in a fixed row order, so results do not vary from run to run.
#include "common.cuh"

// y = (x - mu) * rstd * w + b per row, mu = mean (0 for RMS norm), rstd = 1/sqrt(mean((x - mu)^2) + eps).
// w and b may be null.
template <typename T> __device__ void norm_fwd_impl(int rows, int cols, const T* x, const T* w, const T* b, T eps, int rms, T* y, T* mean, T* rstd) {
    __shared__ T buf[ENGINE_MAX_BLOCK];
    const T n = (T)cols;
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + (long long)r * cols;
        T* yr = y + (long long)r * cols;
        T mu = (T)0;
        if (!rms) {
            T s = (T)0;
            for (int c = threadIdx.x; c < cols; c += blockDim.x) s += xr[c];
            mu = block_reduce(R_SUM, s, buf) / n;
        }
        T ss = (T)0;
        for (int c = threadIdx.x; c < cols; c += blockDim.x) { T d = xr[c] - mu; ss += d * d; }
        T rs = (T)1 / m_sqrt(block_reduce(R_SUM, ss, buf) / n + eps);
        for (int c = threadIdx.x; c < cols; c += blockDim.x) {
            T v = (xr[c] - mu) * rs;
            if (w) v = v * w[c];
            if (b) v = v + b[c];
            yr[c] = v;
        }
        if (threadIdx.x == 0) { mean[r] = mu; rstd[r] = rs; }
    }
}
extern "C" __global__ void norm_fwd_f32(int rows, int cols, const float* x, const float* w, const float* b, float eps, int rms, float* y, float* mean, float* rstd) { norm_fwd_impl(rows, cols, x, w, b, eps, rms, y, mean, rstd); }
extern "C" __global__ void norm_fwd_f64(int rows, int cols, const double* x, const double* w, const double* b, double eps, int rms, double* y, double* mean, double* rstd) { norm_fwd_impl(rows, cols, x, w, b, eps, rms, y, mean, rstd); }

// dx per row: with xh = (x - mu) * rstd and g = dy * w, dx = rstd * (g - mean(g) - xh * mean(g * xh)); RMS norm drops mean(g).
template <typename T> __device__ void norm_bwd_rows_impl(int rows, int cols, const T* x, const T* w, const T* mean, const T* rstd, const T* dy, T* dx, int rms) {
    __shared__ T buf[ENGINE_MAX_BLOCK];
    const T n = (T)cols;
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        long long o = (long long)r * cols;
        T mu = mean[r], rs = rstd[r];
        T sg = (T)0, sgx = (T)0;
        for (int c = threadIdx.x; c < cols; c += blockDim.x) {
            T g = w ? dy[o + c] * w[c] : dy[o + c];
            sg += g;
            sgx += g * (x[o + c] - mu) * rs;
        }
        T meanG = rms ? (T)0 : block_reduce(R_SUM, sg, buf) / n;
        T meanGX = block_reduce(R_SUM, sgx, buf) / n;
        for (int c = threadIdx.x; c < cols; c += blockDim.x) {
            T g = w ? dy[o + c] * w[c] : dy[o + c];
            T xh = (x[o + c] - mu) * rs;
            dx[o + c] = (g - xh * meanGX - meanG) * rs;
        }
    }
}
extern "C" __global__ void norm_bwd_rows_f32(int rows, int cols, const float* x, const float* w, const float* mean, const float* rstd, const float* dy, float* dx, int rms) { norm_bwd_rows_impl(rows, cols, x, w, mean, rstd, dy, dx, rms); }
extern "C" __global__ void norm_bwd_rows_f64(int rows, int cols, const double* x, const double* w, const double* mean, const double* rstd, const double* dy, double* dx, int rms) { norm_bwd_rows_impl(rows, cols, x, w, mean, rstd, dy, dx, rms); }

// dw[c] = sum_r dy[r,c] * xh[r,c], db[c] = sum_r dy[r,c]: one thread per column, rows in order. dw or db may be null.
template <typename T> __device__ void norm_bwd_cols_impl(int rows, int cols, const T* x, const T* mean, const T* rstd, const T* dy, T* dw, T* db) {
    GRID_STRIDE(i, cols) {
        int c = (int)i;
        T sw = (T)0, sb = (T)0;
        for (int r = 0; r < rows; r++) {
            T g = dy[(long long)r * cols + c];
            if (dw) sw += g * ((x[(long long)r * cols + c] - mean[r]) * rstd[r]);
            sb += g;
        }
        if (dw) dw[c] = sw;
        if (db) db[c] = sb;
    }
}
extern "C" __global__ void norm_bwd_cols_f32(int rows, int cols, const float* x, const float* mean, const float* rstd, const float* dy, float* dw, float* db) { norm_bwd_cols_impl(rows, cols, x, mean, rstd, dy, dw, db); }
extern "C" __global__ void norm_bwd_cols_f64(int rows, int cols, const double* x, const double* mean, const double* rstd, const double* dy, double* dw, double* db) { norm_bwd_cols_impl(rows, cols, x, mean, rstd, dy, dw, db); }

// Per row: lse = max + log(sum exp(x - max)); row_loss = lse - x[target] (0 on ignored rows). Targets were checked on the host.
template <typename T> __device__ void xent_fwd_impl(int rows, int cols, const T* x, const int* t, int ignore, T* lse, double* row_loss) {
    __shared__ T buf[ENGINE_MAX_BLOCK];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + (long long)r * cols;
        T m = -m_inf((T)0);
        for (int c = threadIdx.x; c < cols; c += blockDim.x) m = nan_max(m, xr[c]);
        m = block_reduce(R_MAX, m, buf);
        T s = (T)0;
        for (int c = threadIdx.x; c < cols; c += blockDim.x) s += m_exp(xr[c] - m);
        s = block_reduce(R_SUM, s, buf);
        if (threadIdx.x == 0) {
            T l = m + m_log(s);
            lse[r] = l;
            row_loss[r] = t[r] == ignore ? 0.0 : (double)(l - xr[t[r]]);
        }
    }
}
extern "C" __global__ void xent_fwd_f32(int rows, int cols, const float* x, const int* t, int ignore, float* lse, double* row_loss) { xent_fwd_impl(rows, cols, x, t, ignore, lse, row_loss); }
extern "C" __global__ void xent_fwd_f64(int rows, int cols, const double* x, const int* t, int ignore, double* lse, double* row_loss) { xent_fwd_impl(rows, cols, x, t, ignore, lse, row_loss); }

// loss[0] = sum(row_loss) / count in double, one block, each thread summing a fixed strided subset, then the tree:
// the same order on every run.
template <typename T> __device__ void xent_mean_impl(int rows, const double* row_loss, int count, T* loss) {
    __shared__ double buf[ENGINE_MAX_BLOCK];
    double s = 0.0;
    for (int r = threadIdx.x; r < rows; r += blockDim.x) s += row_loss[r];
    s = block_reduce(R_SUM, s, buf);
    if (threadIdx.x == 0) loss[0] = (T)(count == 0 ? s / 0.0 * 0.0 : s / count);
}
extern "C" __global__ void xent_mean_f32(int rows, const double* row_loss, int count, float* loss) { xent_mean_impl(rows, row_loss, count, loss); }
extern "C" __global__ void xent_mean_f64(int rows, const double* row_loss, int count, double* loss) { xent_mean_impl(rows, row_loss, count, loss); }

// dx = (exp(x - lse) - onehot(t)) * scale on counted rows, 0 on ignored rows.
template <typename T> __device__ void xent_bwd_impl(int rows, int cols, const T* x, const int* t, int ignore, const T* lse, T scale, T* dx) {
    GRID_STRIDE(i, (long long)rows * cols) {
        int r = (int)(i / cols), c = (int)(i % cols);
        int tr = t[r];
        if (tr == ignore) { dx[i] = (T)0; continue; }
        T v = m_exp(x[i] - lse[r]) * scale;
        dx[i] = c == tr ? v - scale : v;
    }
}
extern "C" __global__ void xent_bwd_f32(int rows, int cols, const float* x, const int* t, int ignore, const float* lse, float scale, float* dx) { xent_bwd_impl(rows, cols, x, t, ignore, lse, scale, dx); }
extern "C" __global__ void xent_bwd_f64(int rows, int cols, const double* x, const int* t, int ignore, const double* lse, double scale, double* dx) { xent_bwd_impl(rows, cols, x, t, ignore, lse, scale, dx); }

// Rotary embedding of [groups, time, dim]: (a, b) = (x[j], x[j + dim/2]) at position p becomes
// (a cos - b sin, a sin + b cos); the inverse rotates by the negative angle.
template <typename T> __device__ void rope_impl(int groups, int time, int dim, const T* x, const T* cosv, const T* sinv, int inverse, T* y) {
    int half = dim / 2;
    GRID_STRIDE(i, (long long)groups * time * half) {
        int j = (int)(i % half);
        long long gp = i / half;
        int p = (int)(gp % time);
        long long o = gp * dim;
        T a = x[o + j], b = x[o + half + j];
        T c = cosv[p * half + j], s = sinv[p * half + j];
        if (inverse) { y[o + j] = a * c + b * s; y[o + half + j] = b * c - a * s; }
        else { y[o + j] = a * c - b * s; y[o + half + j] = a * s + b * c; }
    }
}
extern "C" __global__ void rope_f32(int groups, int time, int dim, const float* x, const float* cosv, const float* sinv, int inverse, float* y) { rope_impl(groups, time, dim, x, cosv, sinv, inverse, y); }
extern "C" __global__ void rope_f64(int groups, int time, int dim, const double* x, const double* cosv, const double* sinv, int inverse, double* y) { rope_impl(groups, time, dim, x, cosv, sinv, inverse, y); }

// AdamW, in place: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p = p*decay - step_size * m / (sqrt(v)*inv_sqrt_bc2 + eps),
// with step_size = lr / (1 - b1^t), inv_sqrt_bc2 = 1/sqrt(1 - b2^t), decay = 1 - lr*wd computed on the host.
template <typename T> __device__ void adamw_impl(int n, T* p, const T* g, T* m, T* v, T b1, T b2, T step_size, T inv_sqrt_bc2, T decay, T eps) {
    GRID_STRIDE(i, n) {
        T gi = g[i];
        T mi = b1 * m[i] + ((T)1 - b1) * gi;
        T vi = b2 * v[i] + ((T)1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step_size * mi / (m_sqrt(vi) * inv_sqrt_bc2 + eps);
    }
}
extern "C" __global__ void adamw_f32(int n, float* p, const float* g, float* m, float* v, float b1, float b2, float step_size, float inv_sqrt_bc2, float decay, float eps) { adamw_impl(n, p, g, m, v, b1, b2, step_size, inv_sqrt_bc2, decay, eps); }
extern "C" __global__ void adamw_f64(int n, double* p, const double* g, double* m, double* v, double b1, double b2, double step_size, double inv_sqrt_bc2, double decay, double eps) { adamw_impl(n, p, g, m, v, b1, b2, step_size, inv_sqrt_bc2, decay, eps); }

// SGD with momentum and weight decay, in place: d = g + wd p; buf = first ? d : mu buf + d; p -= lr (nesterov ? d + mu buf : buf).
// buf is null without momentum (then p -= lr d).
template <typename T> __device__ void sgd_impl(int n, T* p, const T* g, T* buf, T lr, T mu, T wd, int nesterov, int first) {
    GRID_STRIDE(i, n) {
        T d = g[i] + wd * p[i];
        if (buf) {
            T bi = first ? d : mu * buf[i] + d;
            buf[i] = bi;
            d = nesterov ? d + mu * bi : bi;
        }
        p[i] = p[i] - lr * d;
    }
}
extern "C" __global__ void sgd_f32(int n, float* p, const float* g, float* buf, float lr, float mu, float wd, int nesterov, int first) { sgd_impl(n, p, g, buf, lr, mu, wd, nesterov, first); }
extern "C" __global__ void sgd_f64(int n, double* p, const double* g, double* buf, double lr, double mu, double wd, int nesterov, int first) { sgd_impl(n, p, g, buf, lr, mu, wd, nesterov, first); }
