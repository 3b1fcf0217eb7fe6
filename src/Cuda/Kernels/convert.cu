// bfloat16 conversions and moves. A bfloat16 is held as its raw 16 bits (unsigned short): the high half of the
// float32 with the same value. Working on the bits keeps the file free of cuda_bf16.h (NVRTC would need the toolkit's
// include path for it) and lets the host emulation compile it unchanged; the arithmetic on bfloat16 happens only in
// cuBLAS (GEMMs with bfloat16 inputs and float32 accumulation).
#include "common.cuh"

// float32 -> bfloat16, round to nearest, ties to even: add 0x7FFF plus the lowest kept bit, keep the high half.
// Finite values past the largest bfloat16 round to infinity; subnormals round like normal numbers (integer
// arithmetic, no flush to zero); infinities stay; a NaN becomes the quiet NaN of its sign.
__device__ __forceinline__ unsigned short bf16_from_f32(float v) {
    unsigned int bits = __float_as_uint(v);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (unsigned short)((bits >> 16) | 0x7FC0u);
    return (unsigned short)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// bfloat16 -> float32, exact.
__device__ __forceinline__ float bf16_to_f32(unsigned short v) { return __uint_as_float((unsigned int)v << 16); }

// Casts read a strided input and write a contiguous output. float64 rounds to float32 first (as the CPU backend does).
extern "C" __global__ void cast_f32_bf16(int n, const float* x, Lay lx, unsigned short* y) {
    GRID_STRIDE(i, n) y[i] = bf16_from_f32(x[lay_at(lx, (int)i)]);
}
extern "C" __global__ void cast_f64_bf16(int n, const double* x, Lay lx, unsigned short* y) {
    GRID_STRIDE(i, n) y[i] = bf16_from_f32((float)x[lay_at(lx, (int)i)]);
}
extern "C" __global__ void cast_bf16_f32(int n, const unsigned short* x, Lay lx, float* y) {
    GRID_STRIDE(i, n) y[i] = bf16_to_f32(x[lay_at(lx, (int)i)]);
}
extern "C" __global__ void cast_bf16_f64(int n, const unsigned short* x, Lay lx, double* y) {
    GRID_STRIDE(i, n) y[i] = (double)bf16_to_f32(x[lay_at(lx, (int)i)]);
}

// Fill and strided copy of 16-bit elements (the b32/b64 versions are in elementwise.cu).
extern "C" __global__ void fill_b16(int n, unsigned short* y, unsigned int v) { GRID_STRIDE(i, n) y[i] = (unsigned short)v; }

extern "C" __global__ void copy_b16(int n, const unsigned short* x, Lay lx, unsigned short* y, Lay ly) {
    if (lx.contiguous && ly.contiguous) {
        const unsigned short* xs = x + lx.offset;
        unsigned short* ys = y + ly.offset;
        GRID_STRIDE(i, n) ys[i] = xs[i];
    } else {
        GRID_STRIDE(i, n) y[lay_at(ly, (int)i)] = x[lay_at(lx, (int)i)];
    }
}
