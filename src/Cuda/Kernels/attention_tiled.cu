// Tiled causal attention kernels (the default); shared definitions in attention.cuh, the per-row reference kernels
// they are tested against in attention.cu.
#include "attention.cuh"

// ================================================================================================================
// Tiled kernels, the default (the per-row kernels above are the reference they are tested against).
// FlashAttention-style (Dao et al. 2022, "FlashAttention: Fast and Memory-Efficient Exact Attention with
// IO-Awareness"): a block holds a tile of query rows in shared memory and streams the keys (and values) through
// shared memory in tiles, so a key is read once per query tile instead of once per query row; nothing of size
// tq x tk is stored, only the O(T) row statistics. Schemes:
//   online    (exp, no re-weighting: Softmax, SSMax, windows, ALiBi): running max and rescaled sum and output in
//             one pass over the keys (the forward), or max and sum in one pass (the backward's statistics);
//   two-pass  (Softplus/sigmoid l1 normalisations, and every re-weighted row): statistics passes first (the max,
//             which selects f's form; the l1 sum; with re-weighting sum y^p, max a being f(max s) / U since f is
//             increasing), then the output pass.
// The backward recomputes every weight per tile from those statistics: attn_bwd_rows_tiled (query tiles: c1, c2,
// dq) and attn_bwd_keys_tiled (key tiles streaming the query tiles that see them: dk, dv).
// Threads: ATTN_TILE_THREADS per block; the L = threads / rows consecutive threads of a row group own one tile row
// (its statistics in registers, its output components t = lane + m L in registers, its score columns c = lane + m L).
// Tiles skip what no row of the tile sees: keys after the last row (causal) and before the first row's window.
#define ATTN_TILE_THREADS 64
#define ATTN_TILE_DMAX 128
// Tile rows, sized so the static shared memory of each kernel stays under 48 KB at d = 128 (see docs/cuda.md):
// forward query/key tiles, the query-tile backward's key tile (its query tile is the forward's), and the key-tile
// backward's key and query tiles.
#define ATTN_FWD_Q_F32 32
#define ATTN_FWD_K_F32 16
#define ATTN_FWD_Q_F64 16
#define ATTN_FWD_K_F64 8
#define ATTN_BWD_K_F32 8
#define ATTN_BWD_K_F64 4
#define ATTN_KEYS_F32 16
#define ATTN_KEYS_F64 8

// dst[e] = src[e] for e < valid * d, 0 up to rows * d (a ragged tail reads nothing past the end). All threads.
template <typename T> __device__ __forceinline__ void attn_load_tile(T* dst, const T* src, int rows, int valid, int d) {
    for (int e = threadIdx.x; e < rows * d; e += blockDim.x) dst[e] = e < valid * d ? src[e] : (T)0;
}

// Reduces v over the L threads of the caller's row group; every lane gets the result (fixed order). All threads.
template <typename T, int L> __device__ T attn_group_reduce(int op, T v, T* red) {
    red[threadIdx.x] = v;
    __syncthreads();
    int base = (int)threadIdx.x / L * L;
    T r = red[base];
    for (int l = 1; l < L; l++) r = reduce_combine(op, r, red[base + l]);
    __syncthreads();
    return r;
}

// acc[m] += sum_{c < n} w[c] rows[c d + t] for the caller's components t = lane + m L < d.
template <typename T, int NC, int L> __device__ __forceinline__ void attn_row_accumulate(T* acc, const T* w, const T* rows, int n, int d, int lane) {
#pragma unroll
    for (int m = 0; m < NC; m++) {
        int t = lane + m * L;
        if (t < d) {
            T s = acc[m];
            for (int c = 0; c < n; c++) s += w[c] * rows[c * d + t];
            acc[m] = s;
        }
    }
}

// Row i's visible keys (as attn_row_geometry) with the head's slope given.
template <typename T> __device__ __forceinline__ void attn_tile_geometry(AttnRow<T>& r, const AttnArgs& A, int i, T slope) {
    r.end = A.offset + i + 1;
    r.lo = A.window > 0 && r.end > A.window ? r.end - A.window : 0;
    r.n = r.end - r.lo;
    r.slope = slope;
}

template <typename T> __device__ __forceinline__ T attn_tile_score(const AttnRow<T>& r, const AttnArgs& A, const T* qrow, const T* krow, int j) {
    T s = attn_dot(qrow, krow, A.d);
    return A.alibi ? s + r.slope * (T)(j - (r.end - 1)) : s;
}

// The keys [klo, khi) some row of the query tile i0 <= i < i0 + rows sees (lo and end grow with i).
__device__ __forceinline__ void attn_query_tile(const AttnArgs& A, int i0, int rows, int* klo, int* khi) {
    int end0 = A.offset + i0 + 1;
    *klo = A.window > 0 && end0 > A.window ? end0 - A.window : 0;
    *khi = A.offset + i0 + rows;
}

// Backward of x -> x / max(|x|, eps) for one row held by its row group (components t = lane + m L), as
// attn_normalize_backward. x may be null for a dead row (the reductions still need every thread).
template <typename T, int NC, int L> __device__ void attn_group_normalize_backward(const T* x, T* g, int d, T eps2, int lane, T* red) {
    T ss = (T)0, dot = (T)0;
    for (int m = 0; m < NC; m++) { int t = lane + m * L; if (x && t < d) ss += x[t] * x[t]; }
    ss = attn_group_reduce<T, L>(R_SUM, ss, red);
    T inv = (T)1 / m_sqrt(nan_max(ss, eps2));
    for (int m = 0; m < NC; m++) { int t = lane + m * L; if (x && t < d) dot += x[t] * inv * g[m]; }
    dot = attn_group_reduce<T, L>(R_SUM, dot, red);
    for (int m = 0; m < NC; m++) {
        int t = lane + m * L;
        if (x && t < d) g[m] = (ss >= eps2 ? x[t] * inv * -dot + g[m] : g[m]) * inv;
    }
}

// Statistics 0..5 of the caller's row (row group), streaming the key tiles of [klo, khi) through sk. Exp rows take
// max and sum in one online pass (each thread keeps its own running max; merged at the end); the other forms need
// the max first (it selects f's form), so their sum is a second pass; the re-weighting adds one for sum y^p.
template <typename T, int BK, int L> __device__ void attn_tile_stats(AttnRow<T>& r, bool live, const AttnArgs& A, const T* qrow, const T* kb, int klo, int khi, T* sk, T* red) {
    const int d = A.d, lane = (int)threadIdx.x % L;
    const T lo = (T)A.lo, ninf = -m_inf((T)0);
    const bool ex = A.positive == 0;
    T m = ninf, l = (T)0, sg;
    for (int j0 = klo; j0 < khi; j0 += BK) {
        int kr = khi - j0 < BK ? khi - j0 : BK;
        __syncthreads();
        attn_load_tile(sk, kb + (long long)j0 * d, BK, kr, d);
        __syncthreads();
        if (!live) continue;
        for (int c = lane; c < kr; c += L) {
            int j = j0 + c;
            if (j < r.lo || j >= r.end) continue;
            T s = attn_tile_score(r, A, qrow, sk + c * d, j);
            if (!ex) { m = nan_max(m, s); continue; }
            if (s > m) { l = m == ninf ? (T)0 : l * m_exp(m - s); m = s; }
            l += m_exp(nan_max(s - m, lo));
        }
    }
    r.smax = attn_group_reduce<T, L>(R_MAX, m, red);
    r.form = attn_form(A.positive, r.smax >= (T)0);
    if (ex) r.sum = attn_group_reduce<T, L>(R_SUM, m == ninf ? (T)0 : l * m_exp(m - r.smax), red);
    else {
        T u = (T)0;
        for (int j0 = klo; j0 < khi; j0 += BK) {
            int kr = khi - j0 < BK ? khi - j0 : BK;
            __syncthreads();
            attn_load_tile(sk, kb + (long long)j0 * d, BK, kr, d);
            __syncthreads();
            if (!live) continue;
            for (int c = lane; c < kr; c += L) {
                int j = j0 + c;
                if (j >= r.lo && j < r.end) u += attn_stage_one(attn_tile_score(r, A, qrow, sk + c * d, j), r, lo, &sg);
            }
        }
        r.sum = attn_group_reduce<T, L>(R_SUM, u, red);
    }
    r.scale = (T)0; r.shift = (T)0; r.rinv = (T)0; r.kappa = (T)0; r.c1 = (T)0; r.c2 = (T)0;
    r.rew = 0;
    if (!A.reweight) return;
    // max a = f(max s) / U (f is increasing); then as attn_row_stats
    T am = attn_stage_one(r.smax, r, lo, &sg) / r.sum;
    T nT = (T)r.n, o = r.n <= A.warm_rows ? (T)0 : (T)1;
    T xmax = nT * am - o;
    r.rew = live && xmax > (T)(A.tie * r.n);  // else degenerate: the row keeps its first-stage weights
    if (r.rew) { r.scale = nT / xmax; r.shift = o / xmax; }
    T ys = (T)0, dp;
    for (int j0 = klo; j0 < khi; j0 += BK) {
        int kr = khi - j0 < BK ? khi - j0 : BK;
        __syncthreads();
        attn_load_tile(sk, kb + (long long)j0 * d, BK, kr, d);
        __syncthreads();
        if (!r.rew) continue;
        for (int c = lane; c < kr; c += L) {
            int j = j0 + c;
            if (j >= r.lo && j < r.end) ys += attn_stage_two(attn_stage_one(attn_tile_score(r, A, qrow, sk + c * d, j), r, lo, &sg) / r.sum, r, A, &dp);
        }
    }
    ys = attn_group_reduce<T, L>(R_SUM, ys, red);
    if (r.rew) { r.rinv = (T)1 / ys; r.kappa = nT * (T)A.p / (xmax * ys); }
}

// Forward, one block per (head, tile of BQ query rows), the latest (longest) tiles first: out (when not null) or
// the weight rows (when weights is not null; the caller zeroes them first, the kernel writes the keys the tile sees).
template <typename T, int BQ, int BK> __device__ void attn_fwd_tiled_impl(AttnArgs A, const T* qs, const T* kn, const T* v, T* out, T* weights) {
    constexpr int L = ATTN_TILE_THREADS / BQ, NC = ATTN_TILE_DMAX / L;
    __shared__ T sq[BQ * ATTN_TILE_DMAX];
    __shared__ T sk[BK * ATTN_TILE_DMAX];
    __shared__ T sv[BK * ATTN_TILE_DMAX];
    __shared__ T sw[BQ * BK];
    __shared__ T red[ATTN_TILE_THREADS];
    const int d = A.d, tq = A.tq, tk = A.tk, rr = (int)threadIdx.x / L, lane = (int)threadIdx.x % L;
    const T lo = (T)A.lo, ninf = -m_inf((T)0);
    const bool online = A.positive == 0 && !A.reweight && out;
    const int tiles = (tq + BQ - 1) / BQ;
    AttnRow<T> r;
    T acc[NC];
    for (long long tile = blockIdx.x; tile < (long long)A.bh * tiles; tile += gridDim.x) {
        long long head = tile / tiles;
        int i0 = (tiles - 1 - (int)(tile % tiles)) * BQ, rows = tq - i0 < BQ ? tq - i0 : BQ, klo, khi;
        attn_query_tile(A, i0, rows, &klo, &khi);
        bool live = rr < rows;
        attn_tile_geometry(r, A, i0 + (live ? rr : 0), A.alibi ? (T)attn_alibi_slope((int)(head % A.heads), A.heads) : (T)0);
        const T* kb = kn + head * tk * d;
        const T* vb = v ? v + head * tk * d : v;
        const T* qrow = sq + rr * d;
        T* wrow = sw + rr * BK;
        __syncthreads();  // the previous tile is done with sq
        attn_load_tile(sq, qs + (head * tq + i0) * d, BQ, rows, d);
        for (int m = 0; m < NC; m++) acc[m] = (T)0;
        T a, sg, w, dp;
        if (online) {
            T mx = ninf, l = (T)0;
            for (int j0 = klo; j0 < khi; j0 += BK) {
                int kr = khi - j0 < BK ? khi - j0 : BK;
                __syncthreads();
                attn_load_tile(sk, kb + (long long)j0 * d, BK, kr, d);
                attn_load_tile(sv, vb + (long long)j0 * d, BK, kr, d);
                __syncthreads();
                T tm = ninf;
                for (int c = lane; c < BK; c += L) {
                    int j = j0 + c;
                    T s = live && c < kr && j >= r.lo && j < r.end ? attn_tile_score(r, A, qrow, sk + c * d, j) : ninf;
                    wrow[c] = s;
                    tm = nan_max(tm, s);
                }
                T mn = nan_max(mx, attn_group_reduce<T, L>(R_MAX, tm, red));
                T alpha = mn == ninf ? (T)1 : m_exp(mx - mn);  // rescales what was summed under the old max
                l *= alpha;
                for (int c = lane; c < BK; c += L) {
                    T s = wrow[c], e = s == ninf ? (T)0 : m_exp(nan_max(s - mn, lo));
                    wrow[c] = e;
                    l += e;
                }
                for (int m = 0; m < NC; m++) acc[m] *= alpha;
                mx = mn;
                __syncthreads();
                attn_row_accumulate<T, NC, L>(acc, wrow, sv, kr, d, lane);
            }
            r.sum = attn_group_reduce<T, L>(R_SUM, l, red);
            for (int m = 0; m < NC; m++) acc[m] = acc[m] / r.sum;
        } else {
            attn_tile_stats<T, BK, L>(r, live, A, qrow, kb, klo, khi, sk, red);
            for (int j0 = klo; j0 < khi; j0 += BK) {
                int kr = khi - j0 < BK ? khi - j0 : BK;
                __syncthreads();
                attn_load_tile(sk, kb + (long long)j0 * d, BK, kr, d);
                if (out) attn_load_tile(sv, vb + (long long)j0 * d, BK, kr, d);
                __syncthreads();
                for (int c = lane; c < BK; c += L) {
                    int j = j0 + c;
                    w = (T)0;
                    if (live && c < kr && j >= r.lo && j < r.end) attn_entry(attn_tile_score(r, A, qrow, sk + c * d, j), r, A, &a, &sg, &w, &dp);
                    if (weights) { if (live && c < kr) weights[(head * tq + i0 + rr) * tk + j] = w; }
                    else wrow[c] = w;
                }
                if (out) {
                    __syncthreads();
                    attn_row_accumulate<T, NC, L>(acc, wrow, sv, kr, d, lane);
                }
            }
        }
        if (out && live) {
            T* orow = out + (head * tq + i0 + rr) * d;
            for (int m = 0; m < NC; m++) { int t = lane + m * L; if (t < d) orow[t] = acc[m]; }
        }
    }
}
extern "C" __global__ void attn_fwd_tiled_f32(AttnArgs A, const float* qs, const float* kn, const float* v, float* out, float* weights) { attn_fwd_tiled_impl<float, ATTN_FWD_Q_F32, ATTN_FWD_K_F32>(A, qs, kn, v, out, weights); }
extern "C" __global__ void attn_fwd_tiled_f64(AttnArgs A, const double* qs, const double* kn, const double* v, double* out, double* weights) { attn_fwd_tiled_impl<double, ATTN_FWD_Q_F64, ATTN_FWD_K_F64>(A, qs, kn, v, out, weights); }

// Backward over query tiles (the forward's): the statistics, c1 = <w, dw> (re-weighting only) and c2 = <a, da>
// (one pass each: da needs c1), stored for the key-tile kernel, then dq_i = lambda_i sum_j ds_ij kn_j, taken back
// through the query normalisation.
template <typename T, int BQ, int BK> __device__ void attn_bwd_rows_tiled_impl(AttnArgs A, const T* q, const T* qs, const T* kn, const T* v, const T* dout, T* stats, T* dq) {
    constexpr int L = ATTN_TILE_THREADS / BQ, NC = ATTN_TILE_DMAX / L;
    __shared__ T sq[BQ * ATTN_TILE_DMAX];
    __shared__ T sd[BQ * ATTN_TILE_DMAX];
    __shared__ T sk[BK * ATTN_TILE_DMAX];
    __shared__ T sv[BK * ATTN_TILE_DMAX];
    __shared__ T sw[BQ * BK];
    __shared__ T red[ATTN_TILE_THREADS];
    const int d = A.d, tq = A.tq, tk = A.tk, rr = (int)threadIdx.x / L, lane = (int)threadIdx.x % L;
    const int tiles = (tq + BQ - 1) / BQ;
    AttnRow<T> r;
    T acc[NC];
    for (long long tile = blockIdx.x; tile < (long long)A.bh * tiles; tile += gridDim.x) {
        long long head = tile / tiles;
        int i0 = (tiles - 1 - (int)(tile % tiles)) * BQ, rows = tq - i0 < BQ ? tq - i0 : BQ, klo, khi;
        attn_query_tile(A, i0, rows, &klo, &khi);
        bool live = rr < rows;
        long long row = head * tq + i0 + rr;
        attn_tile_geometry(r, A, i0 + (live ? rr : 0), A.alibi ? (T)attn_alibi_slope((int)(head % A.heads), A.heads) : (T)0);
        const T* kb = kn + head * tk * d;
        const T* vb = v + head * tk * d;
        const T* qrow = sq + rr * d;
        const T* drow = sd + rr * d;
        T* wrow = sw + rr * BK;
        __syncthreads();
        attn_load_tile(sq, qs + (head * tq + i0) * d, BQ, rows, d);
        attn_load_tile(sd, dout + (head * tq + i0) * d, BQ, rows, d);
        attn_tile_stats<T, BK, L>(r, live, A, qrow, kb, klo, khi, sk, red);
        T a, sg, w, dp;
        for (int pass = A.reweight ? 0 : 1; pass < 3; pass++) {  // 0: c1, 1: c2, 2: dq
            T c = (T)0;
            for (int m = 0; m < NC; m++) acc[m] = (T)0;
            for (int j0 = klo; j0 < khi; j0 += BK) {
                int kr = khi - j0 < BK ? khi - j0 : BK;
                __syncthreads();
                attn_load_tile(sk, kb + (long long)j0 * d, BK, kr, d);
                attn_load_tile(sv, vb + (long long)j0 * d, BK, kr, d);
                __syncthreads();
                for (int cc = lane; cc < BK; cc += L) {
                    int j = j0 + cc;
                    T ds = (T)0;
                    if (live && cc < kr && j >= r.lo && j < r.end && (pass > 0 || r.rew)) {
                        attn_entry(attn_tile_score(r, A, qrow, sk + cc * d, j), r, A, &a, &sg, &w, &dp);
                        T dw = attn_dot(drow, sv + cc * d, d);
                        if (pass == 0) c += w * dw;
                        else if (pass == 1) c += a * attn_da(dw, dp, r);
                        else ds = (attn_da(dw, dp, r) - r.c2) * (r.form == 0 ? a : sg);
                    }
                    if (pass == 2) wrow[cc] = ds;
                }
                if (pass == 2) {
                    __syncthreads();
                    attn_row_accumulate<T, NC, L>(acc, wrow, sk, kr, d, lane);
                }
            }
            if (pass < 2) {
                c = attn_group_reduce<T, L>(R_SUM, c, red);
                if (pass == 0) r.c1 = r.rew ? c : (T)0;
                else r.c2 = c;
            }
        }
        if (live && lane == 0) {
            T* st = stats + row * ATTN_STATS;
            st[0] = r.smax; st[1] = r.sum; st[2] = r.scale; st[3] = r.shift; st[4] = r.rinv; st[5] = r.kappa; st[6] = r.c1; st[7] = r.c2;
        }
        T lam = attn_lambda<T>(A, r.n);
        for (int m = 0; m < NC; m++) acc[m] = acc[m] * lam;
        if (A.normalize) attn_group_normalize_backward<T, NC, L>(live ? q + row * d : (const T*)0, acc, d, (T)A.eps2, lane, red);
        if (live)
            for (int m = 0; m < NC; m++) { int t = lane + m * L; if (t < d) dq[row * d + t] = acc[m]; }
    }
}
extern "C" __global__ void attn_bwd_rows_tiled_f32(AttnArgs A, const float* q, const float* qs, const float* kn, const float* v, const float* dout, float* stats, float* dq) { attn_bwd_rows_tiled_impl<float, ATTN_FWD_Q_F32, ATTN_BWD_K_F32>(A, q, qs, kn, v, dout, stats, dq); }
extern "C" __global__ void attn_bwd_rows_tiled_f64(AttnArgs A, const double* q, const double* qs, const double* kn, const double* v, const double* dout, double* stats, double* dq) { attn_bwd_rows_tiled_impl<double, ATTN_FWD_Q_F64, ATTN_BWD_K_F64>(A, q, qs, kn, v, dout, stats, dq); }

// Backward over key tiles of KB keys (k, v of the tile stay in shared memory), streaming the tiles of KB query rows
// that see any of them with their saved statistics: dv_j = sum_i w_ij dO_i, dk_j = sum_i ds_ij qs_i (taken back
// through the key normalisation). Each row group owns one key; its lanes take the tile's query rows in turn.
template <typename T, int KB> __device__ void attn_bwd_keys_tiled_impl(AttnArgs A, const T* k, const T* qs, const T* kn, const T* v, const T* dout, const T* stats, T* dk, T* dv) {
    constexpr int L = ATTN_TILE_THREADS / KB, NC = ATTN_TILE_DMAX / L;
    __shared__ T sk[KB * ATTN_TILE_DMAX];
    __shared__ T sv[KB * ATTN_TILE_DMAX];
    __shared__ T sq[KB * ATTN_TILE_DMAX];
    __shared__ T sd[KB * ATTN_TILE_DMAX];
    __shared__ T sw[KB * KB];
    __shared__ T sds[KB * KB];
    __shared__ T sst[KB * ATTN_STATS];
    __shared__ T red[ATTN_TILE_THREADS];
    const int d = A.d, tq = A.tq, tk = A.tk, kr = (int)threadIdx.x / L, lane = (int)threadIdx.x % L;
    const int tiles = (tk + KB - 1) / KB;
    AttnRow<T> r;
    T gk[NC], gv[NC];
    for (long long tile = blockIdx.x; tile < (long long)A.bh * tiles; tile += gridDim.x) {
        long long head = tile / tiles;
        int j0 = (int)(tile % tiles) * KB, keys = tk - j0 < KB ? tk - j0 : KB, jl = j0 + keys - 1;
        bool live = kr < keys;
        int j = j0 + (live ? kr : 0);
        // the rows that see a key of the tile: i >= j0 - offset (causal), i < jl - offset + window
        int ib = j0 - A.offset > 0 ? j0 - A.offset : 0;
        int ie = A.window > 0 && jl - A.offset + A.window < tq ? jl - A.offset + A.window : tq;
        T slope = A.alibi ? (T)attn_alibi_slope((int)(head % A.heads), A.heads) : (T)0;
        const T* krow = sk + kr * d;
        const T* vrow = sv + kr * d;
        __syncthreads();
        attn_load_tile(sk, kn + (head * tk + j0) * d, KB, keys, d);
        attn_load_tile(sv, v + (head * tk + j0) * d, KB, keys, d);
        for (int m = 0; m < NC; m++) { gk[m] = (T)0; gv[m] = (T)0; }
        for (int r0 = ib; r0 < ie; r0 += KB) {
            int qr = ie - r0 < KB ? ie - r0 : KB;
            __syncthreads();
            attn_load_tile(sq, qs + (head * tq + r0) * d, KB, qr, d);
            attn_load_tile(sd, dout + (head * tq + r0) * d, KB, qr, d);
            attn_load_tile(sst, stats + (head * tq + r0) * ATTN_STATS, KB, qr, ATTN_STATS);
            __syncthreads();
            for (int c = lane; c < KB; c += L) {
                T w = (T)0, ds = (T)0;
                if (live && c < qr) {
                    attn_tile_geometry(r, A, r0 + c, slope);
                    if (j >= r.lo && j < r.end) {
                        attn_row_load(r, A, sst + c * ATTN_STATS);
                        T a, sg, dp;
                        attn_entry(attn_tile_score(r, A, sq + c * d, krow, j), r, A, &a, &sg, &w, &dp);
                        ds = (attn_da(attn_dot(sd + c * d, vrow, d), dp, r) - r.c2) * (r.form == 0 ? a : sg);
                    }
                }
                sw[kr * KB + c] = w;
                sds[kr * KB + c] = ds;
            }
            __syncthreads();
            attn_row_accumulate<T, NC, L>(gv, sw + kr * KB, sd, qr, d, lane);
            attn_row_accumulate<T, NC, L>(gk, sds + kr * KB, sq, qr, d, lane);
        }
        long long key = head * tk + j;
        if (A.normalize) attn_group_normalize_backward<T, NC, L>(live ? k + key * d : (const T*)0, gk, d, (T)A.eps2, lane, red);
        if (live)
            for (int m = 0; m < NC; m++) {
                int t = lane + m * L;
                if (t < d) { dk[key * d + t] = gk[m]; dv[key * d + t] = gv[m]; }
            }
    }
}
extern "C" __global__ void attn_bwd_keys_tiled_f32(AttnArgs A, const float* k, const float* qs, const float* kn, const float* v, const float* dout, const float* stats, float* dk, float* dv) { attn_bwd_keys_tiled_impl<float, ATTN_KEYS_F32>(A, k, qs, kn, v, dout, stats, dk, dv); }
extern "C" __global__ void attn_bwd_keys_tiled_f64(AttnArgs A, const double* k, const double* qs, const double* kn, const double* v, const double* dout, const double* stats, double* dk, double* dv) { attn_bwd_keys_tiled_impl<double, ATTN_KEYS_F64>(A, k, qs, kn, v, dout, stats, dk, dv); }
