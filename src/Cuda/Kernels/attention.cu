// Causal attention for the whole family (Softmax, LSSA, SSMax, the Softplus + l1 and sigmoid + l1 ablations, each
// with or without the power re-weighting of LSSAR, a sliding window and ALiBi's distance bias; Gao & Spratling,
// arXiv 2501.13428). The maths and the row stages are those of the CPU
// kernel (Engine.Cpu.AttentionKernel) and of docs/attention.md; these kernels compute the same values element for
// element, only the summation order differs.
//
// Layout: q, qs, dq [bh, tq, d]; k, kn, v, dk, dv [bh, tk, d]; query row i (absolute position t = offset + i) sees
// keys lo <= j < end = t + 1, lo = max(0, end - window) with a window and 0 without; n_i = end - lo.
// Nothing of size tq x tk is stored: every pass over a row recomputes the scores
// s_ij = qs_i . kn_j - m_h (t - j) (m_h = 0 without ALiBi) from
//   qs_i = lambda_i * q_i (/ |q_i|)   and   kn_j = k_j (/ |k_j|)            (attn_prep)
// and the per-row statistics below. Two sets of kernels: the tiled ones in attention_tiled.cu (the default), and
// the per-row reference kernels (attn_*_reference: one block per (head, query row), the key-gradient kernel one
// block per (head, key)) they are tested against. Every sum is over a fixed order, so results do not vary from run
// to run.
//
// Per-row statistics (stats[row * 8 + ...]), enough to rebuild any a_ij, w_ij and ds_ij from s_ij alone:
//   0 smax   max_j s_ij (the stable shift of exp; for Softplus it selects the form of f used, see stage_one)
//   1 sum    U = sum_j f(s_ij) e^-mu
//   2 scale  n / max x,  3 shift  o / max x   (re-weighting: y = a * scale - shift = x / max x)
//   4 rinv   1 / sum_j y^p
//   5 kappa  n p / (max x * sum_j y^p), or 0 when the row is not re-weighted (no re-weighting, or degenerate row)
//   6 c1     <w, dw> (backward),  7 c2  <a, da> (backward)
#include "attention.cuh"

// qs = lambda_i q_i (/ |q_i|) for the bh*tq query rows, then (when normalising) kn = k_j / |k_j| for the bh*tk key
// rows. One block per row.
template <typename T> __device__ void attn_prep_impl(AttnArgs A, const T* q, const T* k, T* qs, T* kn) {
    __shared__ T buf[ENGINE_MAX_BLOCK];
    const int d = A.d;
    long long qrows = (long long)A.bh * A.tq;
    long long rows = qrows + (A.normalize ? (long long)A.bh * A.tk : 0);
    T eps2 = (T)A.eps2;
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        bool isq = row < qrows;
        const T* x = isq ? q + row * d : k + (row - qrows) * d;
        T* y = isq ? qs + row * d : kn + (row - qrows) * d;
        T scale = isq ? attn_lambda<T>(A, attn_count(A, (int)(row % A.tq))) : (T)1;
        if (A.normalize) {
            T ss = (T)0;
            for (int t = threadIdx.x; t < d; t += blockDim.x) ss += x[t] * x[t];
            ss = block_reduce(R_SUM, ss, buf);
            scale *= (T)1 / m_sqrt(nan_max(ss, eps2));
        }
        for (int t = threadIdx.x; t < d; t += blockDim.x) y[t] = x[t] * scale;
    }
}
extern "C" __global__ void attn_prep_f32(AttnArgs A, const float* q, const float* k, float* qs, float* kn) { attn_prep_impl(A, q, k, qs, kn); }
extern "C" __global__ void attn_prep_f64(AttnArgs A, const double* q, const double* k, double* qs, double* kn) { attn_prep_impl(A, q, k, qs, kn); }

// Forward, one block per (head, query row): the row's statistics, then out_i = sum_j w_ij v_j (when out is not null)
// and the weight row w_i. (zero outside the visible keys; when weights is not null). Keys are taken in tiles of
// blockDim: the tile's weights go to shared memory and each thread sums its output components over them.
template <typename T> __device__ void attn_fwd_impl(AttnArgs A, const T* qs, const T* kn, const T* v, T* out, T* weights) {
    __shared__ T buf[ENGINE_MAX_BLOCK];
    __shared__ T cw[ENGINE_MAX_BLOCK];
    const int d = A.d, tk = A.tk;
    AttnRow<T> r;
    for (long long row = blockIdx.x; row < (long long)A.bh * A.tq; row += gridDim.x) {
        long long head = row / A.tq;
        const T* qrow = qs + row * d;
        const T* kb = kn + head * tk * d;
        const T* vb = v + head * tk * d;
        attn_row_geometry(r, A, head, (int)(row % A.tq));
        attn_row_stats(r, A, qrow, kb, buf);
        T a, sg, w, dp;
        if (weights) {
            T* wr = weights + row * tk;
            for (int j = threadIdx.x; j < tk; j += blockDim.x) {
                if (j >= r.lo && j < r.end) { attn_entry(attn_score(r, A, qrow, kb, j), r, A, &a, &sg, &w, &dp); wr[j] = w; }
                else wr[j] = (T)0;
            }
        }
        if (out) {
            T* orow = out + row * d;
            for (int t = threadIdx.x; t < d; t += blockDim.x) orow[t] = (T)0;
            for (int j0 = r.lo; j0 < r.end; j0 += blockDim.x) {
                int j = j0 + threadIdx.x;
                w = (T)0;
                if (j < r.end) attn_entry(attn_score(r, A, qrow, kb, j), r, A, &a, &sg, &w, &dp);
                cw[threadIdx.x] = w;
                __syncthreads();
                int m = r.end - j0 < (int)blockDim.x ? r.end - j0 : (int)blockDim.x;
                attn_tile_accumulate(orow, cw, vb + (long long)j0 * d, m, d);
                __syncthreads();
            }
        }
    }
}
extern "C" __global__ void attn_fwd_reference_f32(AttnArgs A, const float* qs, const float* kn, const float* v, float* out, float* weights) { attn_fwd_impl(A, qs, kn, v, out, weights); }
extern "C" __global__ void attn_fwd_reference_f64(AttnArgs A, const double* qs, const double* kn, const double* v, double* out, double* weights) { attn_fwd_impl(A, qs, kn, v, out, weights); }

// Backward, one block per (head, query row): the statistics, c1 = <w, dw>, c2 = <a, da> (stored for the key kernel),
// then dq_i = lambda_i * sum_j ds_ij kn_j, taken back through the query normalisation. The ALiBi bias has no
// parameters, so ds_ij reaches q and k through the product term alone.
template <typename T> __device__ void attn_bwd_rows_impl(AttnArgs A, const T* q, const T* qs, const T* kn, const T* v, const T* dout, T* stats, T* dq) {
    __shared__ T buf[ENGINE_MAX_BLOCK];
    __shared__ T cs[ENGINE_MAX_BLOCK];
    const int d = A.d, tk = A.tk;
    AttnRow<T> r;
    for (long long row = blockIdx.x; row < (long long)A.bh * A.tq; row += gridDim.x) {
        long long head = row / A.tq;
        const T* qrow = qs + row * d;
        const T* grow = dout + row * d;
        const T* kb = kn + head * tk * d;
        const T* vb = v + head * tk * d;
        attn_row_geometry(r, A, head, (int)(row % A.tq));
        attn_row_stats(r, A, qrow, kb, buf);
        T a, sg, w, dp;
        if (r.rew) {
            T c = (T)0;
            for (int j = r.lo + threadIdx.x; j < r.end; j += blockDim.x) {
                attn_entry(attn_score(r, A, qrow, kb, j), r, A, &a, &sg, &w, &dp);
                c += w * attn_dot(grow, vb + (long long)j * d, d);
            }
            r.c1 = block_reduce(R_SUM, c, buf);
        }
        T c = (T)0;
        for (int j = r.lo + threadIdx.x; j < r.end; j += blockDim.x) {
            attn_entry(attn_score(r, A, qrow, kb, j), r, A, &a, &sg, &w, &dp);
            c += a * attn_da(attn_dot(grow, vb + (long long)j * d, d), dp, r);
        }
        r.c2 = block_reduce(R_SUM, c, buf);
        if (threadIdx.x == 0) {
            T* st = stats + row * ATTN_STATS;
            st[0] = r.smax; st[1] = r.sum; st[2] = r.scale; st[3] = r.shift; st[4] = r.rinv; st[5] = r.kappa; st[6] = r.c1; st[7] = r.c2;
        }
        T* g = dq + row * d;
        for (int t = threadIdx.x; t < d; t += blockDim.x) g[t] = (T)0;
        for (int j0 = r.lo; j0 < r.end; j0 += blockDim.x) {
            int j = j0 + threadIdx.x;
            T ds = (T)0;
            if (j < r.end) {
                attn_entry(attn_score(r, A, qrow, kb, j), r, A, &a, &sg, &w, &dp);
                T da = attn_da(attn_dot(grow, vb + (long long)j * d, d), dp, r);
                ds = (da - r.c2) * (r.form == 0 ? a : sg);
            }
            cs[threadIdx.x] = ds;
            __syncthreads();
            int m = r.end - j0 < (int)blockDim.x ? r.end - j0 : (int)blockDim.x;
            attn_tile_accumulate(g, cs, kb + (long long)j0 * d, m, d);
            __syncthreads();
        }
        T lam = attn_lambda<T>(A, r.n);
        for (int t = threadIdx.x; t < d; t += blockDim.x) g[t] = g[t] * lam;
        if (A.normalize) attn_normalize_backward(q + row * d, g, d, (T)A.eps2, buf);
        __syncthreads();
    }
}
extern "C" __global__ void attn_bwd_rows_reference_f32(AttnArgs A, const float* q, const float* qs, const float* kn, const float* v, const float* dout, float* stats, float* dq) { attn_bwd_rows_impl(A, q, qs, kn, v, dout, stats, dq); }
extern "C" __global__ void attn_bwd_rows_reference_f64(AttnArgs A, const double* q, const double* qs, const double* kn, const double* v, const double* dout, double* stats, double* dq) { attn_bwd_rows_impl(A, q, qs, kn, v, dout, stats, dq); }

// Backward, one block per (head, key j), over the query rows that see it (j - offset <= i, and i < j - offset + window
// with a window), in tiles of blockDim rows: dv_j = sum_i w_ij dO_i and dk_j = sum_i ds_ij qs_i (taken back through
// the key normalisation), every entry rebuilt from its score and the row statistics of attn_bwd_rows.
template <typename T> __device__ void attn_bwd_keys_impl(AttnArgs A, const T* k, const T* qs, const T* kn, const T* v, const T* dout, const T* stats, T* dk, T* dv) {
    __shared__ T buf[ENGINE_MAX_BLOCK];
    __shared__ T cw[ENGINE_MAX_BLOCK];
    __shared__ T cs[ENGINE_MAX_BLOCK];
    const int d = A.d, tq = A.tq, tk = A.tk;
    AttnRow<T> r;
    for (long long key = blockIdx.x; key < (long long)A.bh * tk; key += gridDim.x) {
        long long head = key / tk;
        int j = (int)(key % tk);
        int i0 = j - A.offset > 0 ? j - A.offset : 0;
        int i1 = A.window > 0 && j - A.offset + A.window < tq ? j - A.offset + A.window : tq;
        const T* vrow = v + key * d;
        const T* qb = qs + head * tq * d;
        const T* gb = dout + head * tq * d;
        const T* sb = stats + head * tq * ATTN_STATS;
        T* gk = dk + key * d;
        T* gv = dv + key * d;
        for (int t = threadIdx.x; t < d; t += blockDim.x) { gk[t] = (T)0; gv[t] = (T)0; }
        for (int r0 = i0; r0 < i1; r0 += blockDim.x) {
            int i = r0 + threadIdx.x;
            T w = (T)0, ds = (T)0;
            if (i < i1) {
                attn_row_geometry(r, A, head, i);
                attn_row_load(r, A, sb + (long long)i * ATTN_STATS);
                T a, sg, dp;
                attn_entry(attn_score(r, A, qb + (long long)i * d, kn + head * tk * d, j), r, A, &a, &sg, &w, &dp);
                T da = attn_da(attn_dot(gb + (long long)i * d, vrow, d), dp, r);
                ds = (da - r.c2) * (r.form == 0 ? a : sg);
            }
            cw[threadIdx.x] = w;
            cs[threadIdx.x] = ds;
            __syncthreads();
            int m = i1 - r0 < (int)blockDim.x ? i1 - r0 : (int)blockDim.x;
            attn_tile_accumulate(gv, cw, gb + (long long)r0 * d, m, d);
            attn_tile_accumulate(gk, cs, qb + (long long)r0 * d, m, d);
            __syncthreads();
        }
        if (A.normalize) attn_normalize_backward(k + key * d, gk, d, (T)A.eps2, buf);
        __syncthreads();
    }
}
extern "C" __global__ void attn_bwd_keys_reference_f32(AttnArgs A, const float* k, const float* qs, const float* kn, const float* v, const float* dout, const float* stats, float* dk, float* dv) { attn_bwd_keys_impl(A, k, qs, kn, v, dout, stats, dk, dv); }
extern "C" __global__ void attn_bwd_keys_reference_f64(AttnArgs A, const double* k, const double* qs, const double* kn, const double* v, const double* dout, const double* stats, double* dk, double* dv) { attn_bwd_keys_impl(A, k, qs, kn, v, dout, stats, dk, dv); }
