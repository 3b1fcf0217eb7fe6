// Elementwise kernels: unary and binary ops over strided (broadcast) inputs, where, fill, strided copies, casts and
// the in-place y += alpha * x. Every kernel is a grid-stride loop; contiguous inputs skip the index arithmetic.
#include "common.cuh"

// Unary op codes, in the order of Engine.UnaryOp.
enum UnaryCode {
    U_NEG = 0, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_ABS, U_RELU, U_SIGMOID, U_TANH, U_SOFTPLUS, U_GELU, U_GELU_GRAD,
    U_STEP, U_SIGN, U_ADD_SCALAR, U_MUL_SCALAR, U_POW_SCALAR, U_RSUB_SCALAR, U_RDIV_SCALAR, U_MAX_SCALAR,
    U_MIN_SCALAR, U_EQ_SCALAR, U_GT_SCALAR, U_LT_SCALAR
};

// Binary op codes, in the order of Engine.BinaryOp.
enum BinaryCode { B_ADD = 0, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE };

template <typename T> __device__ __forceinline__ T unary_op(int op, T x, T s) {
    const T one = (T)1, zero = (T)0, half = (T)0.5;
    const T c = (T)0.7978845608028654, k = (T)0.044715; // GELU tanh approximation: sqrt(2/pi), 0.044715
    switch (op) {
    case U_NEG: return -x;
    case U_EXP: return m_exp(x);
    case U_LOG: return m_log(x);
    case U_SQRT: return m_sqrt(x);
    case U_RSQRT: return one / m_sqrt(x);
    case U_ABS: return m_abs(x);
    case U_RELU: return nan_max(x, zero);
    case U_SIGMOID: return one / (one + m_exp(-x));
    case U_TANH: return m_tanh(x);
    case U_SOFTPLUS: return nan_max(x, zero) + m_log1p(m_exp(-m_abs(x)));
    case U_GELU: return half * x * (one + m_tanh(c * (x + k * x * x * x)));
    case U_GELU_GRAD: {
        T t = m_tanh(c * (x + k * x * x * x));
        return half * (one + t) + half * x * (one - t * t) * c * (one + (T)3 * k * x * x);
    }
    case U_STEP: return x > zero ? one : zero;
    case U_SIGN: return x > zero ? one : x < zero ? -one : zero;
    case U_ADD_SCALAR: return x + s;
    case U_MUL_SCALAR: return x * s;
    case U_POW_SCALAR: return s == (T)2 ? x * x : s == one ? x : m_pow(x, s);
    case U_RSUB_SCALAR: return s - x;
    case U_RDIV_SCALAR: return s / x;
    case U_MAX_SCALAR: return nan_max(x, s);
    case U_MIN_SCALAR: return nan_min(x, s);
    case U_EQ_SCALAR: return x == s ? one : zero;
    case U_GT_SCALAR: return x > s ? one : zero;
    case U_LT_SCALAR: return x < s ? one : zero;
    default: return x / zero * zero; // unknown op: NaN, never silently plausible
    }
}

template <typename T> __device__ __forceinline__ T binary_op(int op, T a, T b) {
    const T one = (T)1, zero = (T)0;
    switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_MAX: return nan_max(a, b);
    case B_MIN: return nan_min(a, b);
    case B_EQ: return a == b ? one : zero;
    case B_NE: return a != b ? one : zero;
    case B_LT: return a < b ? one : zero;
    case B_LE: return a <= b ? one : zero;
    case B_GT: return a > b ? one : zero;
    case B_GE: return a >= b ? one : zero;
    default: return a / zero * zero;
    }
}

template <typename T> __device__ void unary_impl(int n, const T* x, Lay lx, T* y, int op, T s) {
    if (lx.contiguous) { const T* xs = x + lx.offset; GRID_STRIDE(i, n) y[i] = unary_op(op, xs[i], s); }
    else { GRID_STRIDE(i, n) y[i] = unary_op(op, x[lay_at(lx, (int)i)], s); }
}
extern "C" __global__ void unary_f32(int n, const float* x, Lay lx, float* y, int op, float s) { unary_impl(n, x, lx, y, op, s); }
extern "C" __global__ void unary_f64(int n, const double* x, Lay lx, double* y, int op, double s) { unary_impl(n, x, lx, y, op, s); }

template <typename T> __device__ void binary_impl(int n, const T* a, Lay la, const T* b, Lay lb, T* y, int op) {
    if (la.contiguous && lb.contiguous) {
        const T* as = a + la.offset; const T* bs = b + lb.offset;
        GRID_STRIDE(i, n) y[i] = binary_op(op, as[i], bs[i]);
    } else {
        GRID_STRIDE(i, n) y[i] = binary_op(op, a[lay_at(la, (int)i)], b[lay_at(lb, (int)i)]);
    }
}
extern "C" __global__ void binary_f32(int n, const float* a, Lay la, const float* b, Lay lb, float* y, int op) { binary_impl(n, a, la, b, lb, y, op); }
extern "C" __global__ void binary_f64(int n, const double* a, Lay la, const double* b, Lay lb, double* y, int op) { binary_impl(n, a, la, b, lb, y, op); }

template <typename T, typename C> __device__ void where_impl(int n, const C* c, Lay lc, const T* a, Lay la, const T* b, Lay lb, T* y) {
    GRID_STRIDE(i, n) {
        int j = (int)i;
        y[i] = c[lay_at(lc, j)] != (C)0 ? a[lay_at(la, j)] : b[lay_at(lb, j)];
    }
}
extern "C" __global__ void where_f32_f32(int n, const float* c, Lay lc, const float* a, Lay la, const float* b, Lay lb, float* y) { where_impl(n, c, lc, a, la, b, lb, y); }
extern "C" __global__ void where_f32_f64(int n, const double* c, Lay lc, const float* a, Lay la, const float* b, Lay lb, float* y) { where_impl(n, c, lc, a, la, b, lb, y); }
extern "C" __global__ void where_f32_i32(int n, const int* c, Lay lc, const float* a, Lay la, const float* b, Lay lb, float* y) { where_impl(n, c, lc, a, la, b, lb, y); }
extern "C" __global__ void where_f64_f32(int n, const float* c, Lay lc, const double* a, Lay la, const double* b, Lay lb, double* y) { where_impl(n, c, lc, a, la, b, lb, y); }
extern "C" __global__ void where_f64_f64(int n, const double* c, Lay lc, const double* a, Lay la, const double* b, Lay lb, double* y) { where_impl(n, c, lc, a, la, b, lb, y); }
extern "C" __global__ void where_f64_i32(int n, const int* c, Lay lc, const double* a, Lay la, const double* b, Lay lb, double* y) { where_impl(n, c, lc, a, la, b, lb, y); }

// Fill and copies move bits: b32 serves float32 and int32, b64 serves float64.
extern "C" __global__ void fill_b32(int n, unsigned int* y, unsigned int v) { GRID_STRIDE(i, n) y[i] = v; }
extern "C" __global__ void fill_b64(int n, unsigned long long* y, unsigned long long v) { GRID_STRIDE(i, n) y[i] = v; }

// y (strided) <- x (strided), element i of one to element i of the other in row-major order.
template <typename T> __device__ void copy_impl(int n, const T* x, Lay lx, T* y, Lay ly) {
    if (lx.contiguous && ly.contiguous) { const T* xs = x + lx.offset; T* ys = y + ly.offset; GRID_STRIDE(i, n) ys[i] = xs[i]; }
    else { GRID_STRIDE(i, n) y[lay_at(ly, (int)i)] = x[lay_at(lx, (int)i)]; }
}
extern "C" __global__ void copy_b32(int n, const unsigned int* x, Lay lx, unsigned int* y, Lay ly) { copy_impl(n, x, lx, y, ly); }
extern "C" __global__ void copy_b64(int n, const unsigned long long* x, Lay lx, unsigned long long* y, Lay ly) { copy_impl(n, x, lx, y, ly); }

// Float to int truncates toward zero and saturates, NaN gives 0 (like .NET's CreateTruncating).
template <typename T> __device__ __forceinline__ int to_int(T v) {
    if (is_nan(v)) return 0;
    if (v >= (T)2147483647.0) return 2147483647;
    if (v <= (T)-2147483648.0) return (-2147483647 - 1);
    return (int)v;
}
template <typename F, typename T> struct Convert { __device__ static T apply(F v) { return (T)v; } };
template <typename F> struct Convert<F, int> { __device__ static int apply(F v) { return to_int(v); } };

template <typename F, typename T> __device__ void cast_impl(int n, const F* x, Lay lx, T* y) {
    GRID_STRIDE(i, n) y[i] = Convert<F, T>::apply(x[lay_at(lx, (int)i)]);
}
extern "C" __global__ void cast_f32_f64(int n, const float* x, Lay lx, double* y) { cast_impl(n, x, lx, y); }
extern "C" __global__ void cast_f64_f32(int n, const double* x, Lay lx, float* y) { cast_impl(n, x, lx, y); }
extern "C" __global__ void cast_i32_f32(int n, const int* x, Lay lx, float* y) { cast_impl(n, x, lx, y); }
extern "C" __global__ void cast_i32_f64(int n, const int* x, Lay lx, double* y) { cast_impl(n, x, lx, y); }
extern "C" __global__ void cast_f32_i32(int n, const float* x, Lay lx, int* y) { cast_impl(n, x, lx, y); }
extern "C" __global__ void cast_f64_i32(int n, const double* x, Lay lx, int* y) { cast_impl(n, x, lx, y); }

// y += alpha * x over contiguous buffers (gradient accumulation, optimiser steps).
template <typename T> __device__ void axpy_impl(int n, T* y, const T* x, T alpha) {
    if (alpha == (T)1) { GRID_STRIDE(i, n) y[i] = y[i] + x[i]; }
    else { GRID_STRIDE(i, n) y[i] = x[i] * alpha + y[i]; }
}
extern "C" __global__ void axpy_f32(int n, float* y, const float* x, float alpha) { axpy_impl(n, y, x, alpha); }
extern "C" __global__ void axpy_f64(int n, double* y, const double* x, double alpha) { axpy_impl(n, y, x, alpha); }

// y *= alpha over a contiguous buffer (gradient clipping).
template <typename T> __device__ void scale_impl(int n, T* y, T alpha) { GRID_STRIDE(i, n) y[i] = y[i] * alpha; }
extern "C" __global__ void scale_f32(int n, float* y, float alpha) { scale_impl(n, y, alpha); }
extern "C" __global__ void scale_f64(int n, double* y, double alpha) { scale_impl(n, y, alpha); }
