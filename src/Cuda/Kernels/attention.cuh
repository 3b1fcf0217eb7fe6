// Shared definitions of the causal attention kernels: the call's arguments, the per-row state and the row stages
// that the reference kernels (attention.cu) and the tiled ones (attention_tiled.cu) both use. The layout, the maths
// and the per-row statistics are described at the top of attention.cu.
#pragma once

#include "common.cuh"

#define ATTN_STATS 8

// The call's sizes and the family member, by value; matches Engine.Cuda.CudaBackend.AttentionArgs field by field.
// Real-valued constants travel as double and are rounded to T on the device, as the CPU kernel rounds them.
struct AttnArgs {
    int bh;            // batch * heads
    int tq;            // query rows
    int tk;            // keys (= offset + tq)
    int d;             // head dimension
    int offset;        // absolute position of the first query
    int positive;      // f: exp (0), softplus (1), sigmoid (2)
    int normalize;     // unit-normalise q and k
    int scale_mode;    // lambda_i: 1/sqrt(d) (0), log(d_s) log(n_i) (1), log(n_i)/sqrt(d) (2)
    int reweight;      // apply r = ReLU(n a - o)^p, w = r / sum r
    int pint;          // p when p is an integer (square-and-multiply), else 0 (exp(log(y) (p - 1)))
    int heads;         // heads per batch entry (the head of row block bh is bh % heads)
    int window;        // the sliding window, or 0 for none
    int alibi;         // add -m_h (t - j) to the scores
    int warm_rows;     // rows with n <= warm_rows use the re-weighting offset o = 0 (also keeps the doubles 8-byte aligned)
    double log_scale_dim; // log(d_s)
    double inv_sqrt_d;    // 1/sqrt(d)
    double p;             // the re-weighting power
    double cut;           // the smallest y whose p-th power is a normal number (smaller y count as 0)
    double lo;            // log of the smallest normal number: exp arguments are clamped there
    double eps2;          // the squared norm guard
    double tie;           // a row is degenerate when max x <= tie * n (AttentionFamily.DegenerateTolerance)
};

// What a row needs to turn a score into its weights (see the statistics above).
template <typename T> struct AttnRow {
    T smax, sum, scale, shift, rinv, kappa, c1, c2;
    int form;  // 0: exp; 1: softplus, row max >= 0; 2: softplus, every score negative (or NaN); 3, 4: the same for sigmoid
    int rew;   // re-weighted (not degenerate)
    int lo, end, n;  // the visible keys lo <= j < end, n = end - lo
    T slope;         // ALiBi's m_h (0 without)
};

// The form of f for a row with maximum score smax.
__device__ __forceinline__ int attn_form(int positive, bool nonneg) {
    return positive == 0 ? 0 : positive == 1 ? (nonneg ? 1 : 2) : (nonneg ? 3 : 4);
}

// ALiBi's slope of head h of H (Press et al. 2022): 2^(-8 (h+1)/p) for the largest power of two p <= H, and for the
// remaining heads every other slope of the sequence for 2p.
__device__ __forceinline__ double attn_alibi_slope(int h, int heads) {
    int p = 1;
    while (p * 2 <= heads) p *= 2;
    return h < p ? exp2(-8.0 * (h + 1) / p) : exp2(-8.0 * (2 * (h - p) + 1) / (2.0 * p));
}

template <typename T> __device__ __forceinline__ T attn_dot(const T* a, const T* b, int d) {
    T s = (T)0;
    for (int t = 0; t < d; t++) s += a[t] * b[t];
    return s;
}

// y^e for e >= 0 by square-and-multiply (the CPU kernel's order of products).
template <typename T> __device__ __forceinline__ T attn_powi(T y, int e) {
    T r = (e & 1) ? y : (T)1;
    for (e >>= 1; e > 0; e >>= 1) {
        y *= y;
        if (e & 1) r *= y;
    }
    return r;
}

// f(s) e^-mu for the row's form, and *sig = f'(s) e^-mu (both still to be divided by U).
//   exp:                mu = max s, exponent clamped at log(min normal);
//   softplus, max >= 0: mu = 0, f = max(s, 0) + log(1 + t), f' = (s >= 0 ? 1 : t) / (1 + t), t = e^-|s|;
//   softplus, max < 0:  mu = max s, f e^-mu = e^(s - mu) log(1 + e^s) / e^s, so a row of very negative scores does
//                       not underflow to 0/0;
//   sigmoid, max >= 0:  mu = 0, f = (s >= 0 ? 1 : t) / (1 + t), f' = t / (1 + t)^2;
//   sigmoid, max < 0:   mu = max s, f e^-mu = e^(s - mu) / (1 + e^s), f' e^-mu = e^(s - mu) / (1 + e^s)^2.
template <typename T> __device__ __forceinline__ T attn_stage_one(T s, const AttnRow<T>& r, T lo, T* sig) {
    if (r.form == 0) {
        T e = m_exp(nan_max(s - r.smax, lo));
        *sig = e;
        return e;
    }
    if (r.form == 3) {
        T t = m_exp(-m_abs(s));
        T one_t = (T)1 + t;
        *sig = t / (one_t * one_t);
        return (s >= (T)0 ? (T)1 : t) / one_t;
    }
    if (r.form == 4) {
        T u = (T)1 + m_exp(s), shifted = m_exp(s - r.smax);
        *sig = shifted / (u * u);
        return shifted / u;
    }
    if (r.form == 1) {
        T t = m_exp(-m_abs(s));
        T one_t = (T)1 + t;
        *sig = (s >= (T)0 ? (T)1 : t) / one_t;
        return nan_max(s, (T)0) + m_log(one_t);
    }
    T e = m_exp(s), shifted = m_exp(s - r.smax), u = (T)1 + e;
    T ratio = u == (T)1 ? (T)1 : m_log(u) / (u - (T)1);
    *sig = shifted / u;
    return shifted * ratio;
}

// Re-weighting of one first-stage weight: y = x / max x (0 below the cut), *dpow = y^(p-1), returns y^p.
template <typename T> __device__ __forceinline__ T attn_stage_two(T a, const AttnRow<T>& r, const AttnArgs& A, T* dpow) {
    T y = a * r.scale - r.shift;
    T d = (T)0;
    if (y >= (T)A.cut) d = A.pint > 0 ? attn_powi(y, A.pint - 1) : m_exp(m_log(y) * ((T)A.p - (T)1));
    else y = (T)0;
    *dpow = d;
    return d * y;
}

// Every stage of entry (i, j) from its score: a, sig (f'/U; equals a for exp), w and y^(p-1).
template <typename T> __device__ __forceinline__ void attn_entry(T s, const AttnRow<T>& r, const AttnArgs& A, T* a, T* sig, T* w, T* dpow) {
    T sg;
    T f = attn_stage_one(s, r, (T)A.lo, &sg);
    *a = f / r.sum;
    *sig = sg / r.sum;
    if (r.rew) *w = attn_stage_two(*a, r, A, dpow) * r.rinv;
    else { *w = *a; *dpow = (T)0; }
}

// The score s_ij of row r: qs_i . kn_j plus ALiBi's -m_h (t - j), t = end - 1.
template <typename T> __device__ __forceinline__ T attn_score(const AttnRow<T>& r, const AttnArgs& A, const T* qrow, const T* kb, int j) {
    T s = attn_dot(qrow, kb + (long long)j * A.d, A.d);
    return A.alibi ? s + r.slope * (T)(j - (r.end - 1)) : s;
}

// The visible keys of query row i (0-based within the call) of block row bh, and the head's slope.
template <typename T> __device__ __forceinline__ void attn_row_geometry(AttnRow<T>& r, const AttnArgs& A, long long bh, int i) {
    r.end = A.offset + i + 1;
    r.lo = A.window > 0 && r.end > A.window ? r.end - A.window : 0;
    r.n = r.end - r.lo;
    r.slope = A.alibi ? (T)attn_alibi_slope((int)(bh % A.heads), A.heads) : (T)0;
}

// The row's statistics 0..5 over its visible keys (every thread of the block calls it and gets the result); the
// geometry must be set first.
template <typename T> __device__ void attn_row_stats(AttnRow<T>& r, const AttnArgs& A, const T* qrow, const T* kb, T* buf) {
    T lo = (T)A.lo, sg;  // lo here: the exp clamp
    T m = -m_inf((T)0);
    for (int j = r.lo + threadIdx.x; j < r.end; j += blockDim.x) m = nan_max(m, attn_score(r, A, qrow, kb, j));
    r.smax = block_reduce(R_MAX, m, buf);
    r.form = attn_form(A.positive, r.smax >= (T)0);
    T s = (T)0;
    for (int j = r.lo + threadIdx.x; j < r.end; j += blockDim.x) s += attn_stage_one(attn_score(r, A, qrow, kb, j), r, lo, &sg);
    r.sum = block_reduce(R_SUM, s, buf);
    r.scale = (T)0; r.shift = (T)0; r.rinv = (T)0; r.kappa = (T)0; r.c1 = (T)0; r.c2 = (T)0;
    r.rew = 0;
    if (!A.reweight) return;
    // max x = n max a - o: x is increasing in a.
    T am = -m_inf((T)0);
    for (int j = r.lo + threadIdx.x; j < r.end; j += blockDim.x)
        am = nan_max(am, attn_stage_one(attn_score(r, A, qrow, kb, j), r, lo, &sg) / r.sum);
    am = block_reduce(R_MAX, am, buf);
    T nT = (T)r.n, o = r.n <= A.warm_rows ? (T)0 : (T)1;
    T xmax = nT * am - o;
    if (!(xmax > (T)(A.tie * r.n))) return;  // degenerate row (uniform up to rounding): it keeps its first-stage weights
    r.scale = nT / xmax;
    r.shift = o / xmax;
    r.rew = 1;
    T ys = (T)0, dp;
    for (int j = r.lo + threadIdx.x; j < r.end; j += blockDim.x) {
        T a = attn_stage_one(attn_score(r, A, qrow, kb, j), r, lo, &sg) / r.sum;
        ys += attn_stage_two(a, r, A, &dp);
    }
    ys = block_reduce(R_SUM, ys, buf);  // >= 1: the maximum contributes 1^p
    r.rinv = (T)1 / ys;
    r.kappa = nT * (T)A.p / (xmax * ys);
}

template <typename T> __device__ __forceinline__ void attn_row_load(AttnRow<T>& r, const AttnArgs& A, const T* st) {
    r.smax = st[0]; r.sum = st[1]; r.scale = st[2]; r.shift = st[3]; r.rinv = st[4]; r.kappa = st[5]; r.c1 = st[6]; r.c2 = st[7];
    r.form = attn_form(A.positive, r.smax >= (T)0);
    r.rew = A.reweight && r.kappa > (T)0;
}

// ds_ij from the entry's stages and dw_ij = dO_i . v_j:
//   da = kappa y^(p-1) (dw - <w, dw>) on a re-weighted row, else dw;   ds = (f'/U) (da - <a, da>).
template <typename T> __device__ __forceinline__ T attn_da(T dw, T dpow, const AttnRow<T>& r) {
    return r.rew ? (dw - r.c1) * dpow * r.kappa : dw;
}

// Block-wide: g <- inv (g - xh (xh . g)) with xh = x inv, inv = 1/sqrt(max(|x|^2, eps2)), when |x|^2 >= eps2, else
// g <- inv g (the backward of x -> x / max(|x|, eps)). Each thread owns the components t = threadIdx.x + m blockDim.x.
template <typename T> __device__ void attn_normalize_backward(const T* x, T* g, int d, T eps2, T* buf) {
    T ss = (T)0;
    for (int t = threadIdx.x; t < d; t += blockDim.x) ss += x[t] * x[t];
    ss = block_reduce(R_SUM, ss, buf);
    T inv = (T)1 / m_sqrt(nan_max(ss, eps2));
    if (ss >= eps2) {
        T dot = (T)0;
        for (int t = threadIdx.x; t < d; t += blockDim.x) dot += x[t] * inv * g[t];
        dot = block_reduce(R_SUM, dot, buf);
        for (int t = threadIdx.x; t < d; t += blockDim.x) g[t] = x[t] * inv * -dot + g[t];
    }
    for (int t = threadIdx.x; t < d; t += blockDim.x) g[t] = g[t] * inv;
}

template <typename T> __device__ __forceinline__ T attn_lambda(const AttnArgs& A, int n) {
    return A.scale_mode == 1 ? (T)(A.log_scale_dim * log((double)n))
         : A.scale_mode == 2 ? (T)(log((double)n) * A.inv_sqrt_d)
         : (T)A.inv_sqrt_d;
}

// The number of keys query row i sees.
__device__ __forceinline__ int attn_count(const AttnArgs& A, int i) {
    int end = A.offset + i + 1;
    return A.window > 0 && end > A.window ? A.window : end;
}

// acc[t] += sum_e coef[e] rows[e d + t] for t < d: one tile of m keys (or query rows) whose coefficients are in
// shared memory, each thread owning the components t = threadIdx.x + k blockDim.x.
template <typename T> __device__ __forceinline__ void attn_tile_accumulate(T* acc, const T* coef, const T* rows, int m, int d) {
    for (int t = threadIdx.x; t < d; t += blockDim.x) {
        T s = acc[t];
        for (int e = 0; e < m; e++) s += coef[e] * rows[(long long)e * d + t];
        acc[t] = s;
    }
}
