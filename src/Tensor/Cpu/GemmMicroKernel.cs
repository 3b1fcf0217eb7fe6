using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static Engine.Cpu.SimdMath;

namespace Engine.Cpu;

/// <summary>
/// A GEMM micro-kernel: C[0..rows, 0..cols] (+)= Ã·B̃ for one MR-row sliver Ã of packed A (MR values per step of k)
/// and one NR-column sliver B̃ of packed B (NR values per step of k), with the MR×NR block of C held in registers
/// for the whole loop over k. Implementations are structs so the driver is specialised (and inlined) per kernel.
/// </summary>
internal unsafe interface IMicroKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Rows of C per call (the height of a packed A sliver).</summary>
    static abstract int MR { get; }

    /// <summary>Columns of C per call (the width of a packed B sliver).</summary>
    static abstract int NR { get; }

    /// <summary>Whether this machine runs the kernel natively.</summary>
    static abstract bool IsSupported { get; }

    /// <summary>
    /// Whether A slivers whose rows are contiguous are read in place (<see cref="RunDirect"/>) rather than packed,
    /// however many B slivers they meet: packing them transposes element by element, and the kernel's broadcasts cost
    /// the same from MR row streams as from a packed sliver while those rows stay in L1.
    /// </summary>
    static abstract bool ReadsRowsInPlace { get; }

    /// <summary>
    /// Multiplies the kc×MR sliver <paramref name="a"/> by the kc×NR sliver <paramref name="b"/> (both zero-padded
    /// past rows/cols) and writes (or with <paramref name="add"/> adds) the leading rows×cols block into C at
    /// <paramref name="c"/> with row stride <paramref name="ldc"/>. With <paramref name="bias"/> (not null, and
    /// <paramref name="add"/> false) C[i, j] = bias[j] + the product's: a linear layer's bias added as the tile is stored,
    /// with no pass of its own over C.
    /// </summary>
    static abstract void Run(int kc, T* a, T* b, T* c, int ldc, int rows, int cols, bool add, T* bias);

    /// <summary>
    /// As <see cref="Run"/> for a full MR-row sliver read in place from A (element (i, p) at a[i·ars + p·acs]),
    /// for products that sweep too few B slivers to repay packing A.
    /// </summary>
    static abstract void RunDirect(int kc, T* a, int ars, int acs, T* b, T* c, int ldc, int cols, bool add, T* bias);

    /// <summary>
    /// As <see cref="Run"/> for a last B sliver at most NR / 2 columns wide (the LM head's 65th column): one vector
    /// per row instead of two, so half the work is not spent on the sliver's zero padding. A is read through strides
    /// (a packed sliver is ars = 1, acs = MR); all MR rows are computed and the leading rows×cols stored.
    /// </summary>
    static abstract void RunNarrow(int kc, T* a, int ars, int acs, T* b, T* c, int ldc, int rows, int cols, bool add, T* bias);
}

/// <summary>The micro-kernels: Vector512 (AVX-512), Vector256 (AVX2) and portable scalar code.</summary>
internal static unsafe class GemmKernels
{
    /// <summary>12 rows × 2 Vector512 columns of C in 24 zmm accumulators (AVX-512 has 32 vector registers): each step loads two vectors of packed B and broadcasts 12 values of packed A.</summary>
    internal readonly struct Kernel512<T> : IMicroKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static int MR => 12;
        public static int NR => 2 * Vector512<T>.Count;
        public static bool IsSupported => Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported;
        // Not measured on an AVX-512 machine yet: twelve row streams beside a 32 KiB B sliver may not stay in L1.
        public static bool ReadsRowsInPlace => false;

        [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
        public static void Run(int kc, T* a, T* b, T* c, int ldc, int rows, int cols, bool add, T* bias)
        {
            int w = Vector512<T>.Count;
            Vector512<T> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default;
            Vector512<T> c4a = default, c4b = default, c5a = default, c5b = default, c6a = default, c6b = default, c7a = default, c7b = default;
            Vector512<T> c8a = default, c8b = default, c9a = default, c9b = default, c10a = default, c10b = default, c11a = default, c11b = default;
            if (Sse.IsSupported)
            {
                for (int r = 0; r < rows; r++) { Sse.Prefetch0(c + r * ldc); Sse.Prefetch0(c + r * ldc + w); }
            }
            for (int p = 0; p < kc; p++)
            {
                if (Sse.IsSupported) Sse.Prefetch0(b + 8 * 2 * w);
                var b0 = Vector512.Load(b);
                var b1 = Vector512.Load(b + w);
                var a0 = Vector512.Create(a[0]); c0a = Fma(a0, b0, c0a); c0b = Fma(a0, b1, c0b);
                var a1 = Vector512.Create(a[1]); c1a = Fma(a1, b0, c1a); c1b = Fma(a1, b1, c1b);
                var a2 = Vector512.Create(a[2]); c2a = Fma(a2, b0, c2a); c2b = Fma(a2, b1, c2b);
                var a3 = Vector512.Create(a[3]); c3a = Fma(a3, b0, c3a); c3b = Fma(a3, b1, c3b);
                var a4 = Vector512.Create(a[4]); c4a = Fma(a4, b0, c4a); c4b = Fma(a4, b1, c4b);
                var a5 = Vector512.Create(a[5]); c5a = Fma(a5, b0, c5a); c5b = Fma(a5, b1, c5b);
                var a6 = Vector512.Create(a[6]); c6a = Fma(a6, b0, c6a); c6b = Fma(a6, b1, c6b);
                var a7 = Vector512.Create(a[7]); c7a = Fma(a7, b0, c7a); c7b = Fma(a7, b1, c7b);
                var a8 = Vector512.Create(a[8]); c8a = Fma(a8, b0, c8a); c8b = Fma(a8, b1, c8b);
                var a9 = Vector512.Create(a[9]); c9a = Fma(a9, b0, c9a); c9b = Fma(a9, b1, c9b);
                var a10 = Vector512.Create(a[10]); c10a = Fma(a10, b0, c10a); c10b = Fma(a10, b1, c10b);
                var a11 = Vector512.Create(a[11]); c11a = Fma(a11, b0, c11a); c11b = Fma(a11, b1, c11b);
                a += 12;
                b += 2 * w;
            }
            if (rows == 12 && cols == 2 * w)
            {
                Put(c + 0 * ldc, c0a, c0b, add, bias);
                Put(c + 1 * ldc, c1a, c1b, add, bias);
                Put(c + 2 * ldc, c2a, c2b, add, bias);
                Put(c + 3 * ldc, c3a, c3b, add, bias);
                Put(c + 4 * ldc, c4a, c4b, add, bias);
                Put(c + 5 * ldc, c5a, c5b, add, bias);
                Put(c + 6 * ldc, c6a, c6b, add, bias);
                Put(c + 7 * ldc, c7a, c7b, add, bias);
                Put(c + 8 * ldc, c8a, c8b, add, bias);
                Put(c + 9 * ldc, c9a, c9b, add, bias);
                Put(c + 10 * ldc, c10a, c10b, add, bias);
                Put(c + 11 * ldc, c11a, c11b, add, bias);
                return;
            }
            T* t = stackalloc T[12 * 2 * Vector512<T>.Count];
            Vector512.Store(c0a, t + 0 * w); Vector512.Store(c0b, t + 1 * w);
            Vector512.Store(c1a, t + 2 * w); Vector512.Store(c1b, t + 3 * w);
            Vector512.Store(c2a, t + 4 * w); Vector512.Store(c2b, t + 5 * w);
            Vector512.Store(c3a, t + 6 * w); Vector512.Store(c3b, t + 7 * w);
            Vector512.Store(c4a, t + 8 * w); Vector512.Store(c4b, t + 9 * w);
            Vector512.Store(c5a, t + 10 * w); Vector512.Store(c5b, t + 11 * w);
            Vector512.Store(c6a, t + 12 * w); Vector512.Store(c6b, t + 13 * w);
            Vector512.Store(c7a, t + 14 * w); Vector512.Store(c7b, t + 15 * w);
            Vector512.Store(c8a, t + 16 * w); Vector512.Store(c8b, t + 17 * w);
            Vector512.Store(c9a, t + 18 * w); Vector512.Store(c9b, t + 19 * w);
            Vector512.Store(c10a, t + 20 * w); Vector512.Store(c10b, t + 21 * w);
            Vector512.Store(c11a, t + 22 * w); Vector512.Store(c11b, t + 23 * w);
            Edge(t, 2 * w, c, ldc, rows, cols, add, bias);
        }


        /// <summary>
        /// As <see cref="Run"/> for a full 12-row sliver read straight from A (row i of the sliver at a + i·ars, step p
        /// at + p·acs) instead of a packed copy: for products that sweep too few B slivers to repay packing A.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
        public static void RunDirect(int kc, T* a, int ars, int acs, T* b, T* c, int ldc, int cols, bool add, T* bias)
        {
            int w = Vector512<T>.Count;
            Vector512<T> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default;
            Vector512<T> c4a = default, c4b = default, c5a = default, c5b = default, c6a = default, c6b = default, c7a = default, c7b = default;
            Vector512<T> c8a = default, c8b = default, c9a = default, c9b = default, c10a = default, c10b = default, c11a = default, c11b = default;
            nint s1 = ars, s2 = 2 * (nint)ars;
            T* q0 = a + 0 * s1, q1 = a + 3 * s1, q2 = a + 6 * s1, q3 = a + 9 * s1;
            for (int p = 0; p < kc; p++)
            {
                if (Sse.IsSupported) Sse.Prefetch0(b + 8 * 2 * w);
                var b0 = Vector512.Load(b);
                var b1 = Vector512.Load(b + w);
                var a0 = Vector512.Create(q0[0]); c0a = Fma(a0, b0, c0a); c0b = Fma(a0, b1, c0b);
                var a1 = Vector512.Create(q0[s1]); c1a = Fma(a1, b0, c1a); c1b = Fma(a1, b1, c1b);
                var a2 = Vector512.Create(q0[s2]); c2a = Fma(a2, b0, c2a); c2b = Fma(a2, b1, c2b);
                var a3 = Vector512.Create(q1[0]); c3a = Fma(a3, b0, c3a); c3b = Fma(a3, b1, c3b);
                var a4 = Vector512.Create(q1[s1]); c4a = Fma(a4, b0, c4a); c4b = Fma(a4, b1, c4b);
                var a5 = Vector512.Create(q1[s2]); c5a = Fma(a5, b0, c5a); c5b = Fma(a5, b1, c5b);
                var a6 = Vector512.Create(q2[0]); c6a = Fma(a6, b0, c6a); c6b = Fma(a6, b1, c6b);
                var a7 = Vector512.Create(q2[s1]); c7a = Fma(a7, b0, c7a); c7b = Fma(a7, b1, c7b);
                var a8 = Vector512.Create(q2[s2]); c8a = Fma(a8, b0, c8a); c8b = Fma(a8, b1, c8b);
                var a9 = Vector512.Create(q3[0]); c9a = Fma(a9, b0, c9a); c9b = Fma(a9, b1, c9b);
                var a10 = Vector512.Create(q3[s1]); c10a = Fma(a10, b0, c10a); c10b = Fma(a10, b1, c10b);
                var a11 = Vector512.Create(q3[s2]); c11a = Fma(a11, b0, c11a); c11b = Fma(a11, b1, c11b);
                q0 += acs; q1 += acs; q2 += acs; q3 += acs;
                b += 2 * w;
            }
            if (cols == 2 * w)
            {
                Put(c + 0 * ldc, c0a, c0b, add, bias);
                Put(c + 1 * ldc, c1a, c1b, add, bias);
                Put(c + 2 * ldc, c2a, c2b, add, bias);
                Put(c + 3 * ldc, c3a, c3b, add, bias);
                Put(c + 4 * ldc, c4a, c4b, add, bias);
                Put(c + 5 * ldc, c5a, c5b, add, bias);
                Put(c + 6 * ldc, c6a, c6b, add, bias);
                Put(c + 7 * ldc, c7a, c7b, add, bias);
                Put(c + 8 * ldc, c8a, c8b, add, bias);
                Put(c + 9 * ldc, c9a, c9b, add, bias);
                Put(c + 10 * ldc, c10a, c10b, add, bias);
                Put(c + 11 * ldc, c11a, c11b, add, bias);
                return;
            }
            T* t = stackalloc T[12 * 2 * Vector512<T>.Count];
            Vector512.Store(c0a, t + 0 * w); Vector512.Store(c0b, t + 1 * w);
            Vector512.Store(c1a, t + 2 * w); Vector512.Store(c1b, t + 3 * w);
            Vector512.Store(c2a, t + 4 * w); Vector512.Store(c2b, t + 5 * w);
            Vector512.Store(c3a, t + 6 * w); Vector512.Store(c3b, t + 7 * w);
            Vector512.Store(c4a, t + 8 * w); Vector512.Store(c4b, t + 9 * w);
            Vector512.Store(c5a, t + 10 * w); Vector512.Store(c5b, t + 11 * w);
            Vector512.Store(c6a, t + 12 * w); Vector512.Store(c6b, t + 13 * w);
            Vector512.Store(c7a, t + 14 * w); Vector512.Store(c7b, t + 15 * w);
            Vector512.Store(c8a, t + 16 * w); Vector512.Store(c8b, t + 17 * w);
            Vector512.Store(c9a, t + 18 * w); Vector512.Store(c9b, t + 19 * w);
            Vector512.Store(c10a, t + 20 * w); Vector512.Store(c10b, t + 21 * w);
            Vector512.Store(c11a, t + 22 * w); Vector512.Store(c11b, t + 23 * w);
            Edge(t, 2 * w, c, ldc, 12, cols, add, bias);
        }

        /// <inheritdoc cref="IMicroKernel{T}.RunNarrow"/>
        [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
        public static void RunNarrow(int kc, T* a, int ars, int acs, T* b, T* c, int ldc, int rows, int cols, bool add, T* bias)
        {
            int w = Vector512<T>.Count;
            Vector512<T> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
            Vector512<T> c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
            nint s1 = ars, s2 = 2 * (nint)ars;
            T* q0 = a, q1 = a + 3 * s1, q2 = a + 6 * s1, q3 = a + 9 * s1;
            for (int p = 0; p < kc; p++)
            {
                var b0 = Vector512.Load(b);
                c0 = Fma(Vector512.Create(q0[0]), b0, c0); c1 = Fma(Vector512.Create(q0[s1]), b0, c1); c2 = Fma(Vector512.Create(q0[s2]), b0, c2);
                c3 = Fma(Vector512.Create(q1[0]), b0, c3); c4 = Fma(Vector512.Create(q1[s1]), b0, c4); c5 = Fma(Vector512.Create(q1[s2]), b0, c5);
                c6 = Fma(Vector512.Create(q2[0]), b0, c6); c7 = Fma(Vector512.Create(q2[s1]), b0, c7); c8 = Fma(Vector512.Create(q2[s2]), b0, c8);
                c9 = Fma(Vector512.Create(q3[0]), b0, c9); c10 = Fma(Vector512.Create(q3[s1]), b0, c10); c11 = Fma(Vector512.Create(q3[s2]), b0, c11);
                q0 += acs; q1 += acs; q2 += acs; q3 += acs;
                b += 2 * w;   // the packed sliver is 2w wide; its right half is the zero padding
            }
            T* t = stackalloc T[12 * Vector512<T>.Count];
            Vector512.Store(c0, t + 0 * w); Vector512.Store(c1, t + 1 * w); Vector512.Store(c2, t + 2 * w);
            Vector512.Store(c3, t + 3 * w); Vector512.Store(c4, t + 4 * w); Vector512.Store(c5, t + 5 * w);
            Vector512.Store(c6, t + 6 * w); Vector512.Store(c7, t + 7 * w); Vector512.Store(c8, t + 8 * w);
            Vector512.Store(c9, t + 9 * w); Vector512.Store(c10, t + 10 * w); Vector512.Store(c11, t + 11 * w);
            Edge(t, w, c, ldc, rows, cols, add, bias);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(T* dst, Vector512<T> lo, Vector512<T> hi, bool add, T* bias)
        {
            int w = Vector512<T>.Count;
            if (add) { lo += Vector512.Load(dst); hi += Vector512.Load(dst + w); }
            else if (bias != null) { lo += Vector512.Load(bias); hi += Vector512.Load(bias + w); }
            Vector512.Store(lo, dst);
            Vector512.Store(hi, dst + w);
        }
    }

    /// <summary>6 rows × 2 Vector256 columns of C in 12 ymm accumulators (AVX2 has 16 vector registers).</summary>
    internal readonly struct Kernel256<T> : IMicroKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static int MR => 6;
        public static int NR => 2 * Vector256<T>.Count;
        public static bool IsSupported => Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported;
        // Measured on Zen 3 (docs/performance.md): [4096,512]·[512,128] went from 43 % to 57 % of the FMA peak.
        public static bool ReadsRowsInPlace => true;

        [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
        public static void Run(int kc, T* a, T* b, T* c, int ldc, int rows, int cols, bool add, T* bias)
        {
            int w = Vector256<T>.Count;
            Vector256<T> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default;
            Vector256<T> c4a = default, c4b = default, c5a = default, c5b = default;
            for (int p = 0; p < kc; p++)
            {
                var b0 = Vector256.Load(b);
                var b1 = Vector256.Load(b + w);
                var a0 = Vector256.Create(a[0]); c0a = Fma(a0, b0, c0a); c0b = Fma(a0, b1, c0b);
                var a1 = Vector256.Create(a[1]); c1a = Fma(a1, b0, c1a); c1b = Fma(a1, b1, c1b);
                var a2 = Vector256.Create(a[2]); c2a = Fma(a2, b0, c2a); c2b = Fma(a2, b1, c2b);
                var a3 = Vector256.Create(a[3]); c3a = Fma(a3, b0, c3a); c3b = Fma(a3, b1, c3b);
                var a4 = Vector256.Create(a[4]); c4a = Fma(a4, b0, c4a); c4b = Fma(a4, b1, c4b);
                var a5 = Vector256.Create(a[5]); c5a = Fma(a5, b0, c5a); c5b = Fma(a5, b1, c5b);
                a += 6;
                b += 2 * w;
            }
            if (rows == 6 && cols == 2 * w)
            {
                Put(c + 0 * ldc, c0a, c0b, add, bias);
                Put(c + 1 * ldc, c1a, c1b, add, bias);
                Put(c + 2 * ldc, c2a, c2b, add, bias);
                Put(c + 3 * ldc, c3a, c3b, add, bias);
                Put(c + 4 * ldc, c4a, c4b, add, bias);
                Put(c + 5 * ldc, c5a, c5b, add, bias);
                return;
            }
            T* t = stackalloc T[6 * 2 * Vector256<T>.Count];
            Vector256.Store(c0a, t + 0 * w); Vector256.Store(c0b, t + 1 * w);
            Vector256.Store(c1a, t + 2 * w); Vector256.Store(c1b, t + 3 * w);
            Vector256.Store(c2a, t + 4 * w); Vector256.Store(c2b, t + 5 * w);
            Vector256.Store(c3a, t + 6 * w); Vector256.Store(c3b, t + 7 * w);
            Vector256.Store(c4a, t + 8 * w); Vector256.Store(c4b, t + 9 * w);
            Vector256.Store(c5a, t + 10 * w); Vector256.Store(c5b, t + 11 * w);
            Edge(t, 2 * w, c, ldc, rows, cols, add, bias);
        }


        /// <summary>
        /// As <see cref="Run"/> for a full 6-row sliver read straight from A (row i of the sliver at a + i·ars, step p
        /// at + p·acs) instead of a packed copy: for products that sweep too few B slivers to repay packing A.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
        public static void RunDirect(int kc, T* a, int ars, int acs, T* b, T* c, int ldc, int cols, bool add, T* bias)
        {
            int w = Vector256<T>.Count;
            Vector256<T> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default;
            Vector256<T> c4a = default, c4b = default, c5a = default, c5b = default;
            nint s1 = ars, s2 = 2 * (nint)ars;
            T* q0 = a + 0 * s1, q1 = a + 3 * s1;
            for (int p = 0; p < kc; p++)
            {
                var b0 = Vector256.Load(b);
                var b1 = Vector256.Load(b + w);
                var a0 = Vector256.Create(q0[0]); c0a = Fma(a0, b0, c0a); c0b = Fma(a0, b1, c0b);
                var a1 = Vector256.Create(q0[s1]); c1a = Fma(a1, b0, c1a); c1b = Fma(a1, b1, c1b);
                var a2 = Vector256.Create(q0[s2]); c2a = Fma(a2, b0, c2a); c2b = Fma(a2, b1, c2b);
                var a3 = Vector256.Create(q1[0]); c3a = Fma(a3, b0, c3a); c3b = Fma(a3, b1, c3b);
                var a4 = Vector256.Create(q1[s1]); c4a = Fma(a4, b0, c4a); c4b = Fma(a4, b1, c4b);
                var a5 = Vector256.Create(q1[s2]); c5a = Fma(a5, b0, c5a); c5b = Fma(a5, b1, c5b);
                q0 += acs; q1 += acs;
                b += 2 * w;
            }
            if (cols == 2 * w)
            {
                Put(c + 0 * ldc, c0a, c0b, add, bias);
                Put(c + 1 * ldc, c1a, c1b, add, bias);
                Put(c + 2 * ldc, c2a, c2b, add, bias);
                Put(c + 3 * ldc, c3a, c3b, add, bias);
                Put(c + 4 * ldc, c4a, c4b, add, bias);
                Put(c + 5 * ldc, c5a, c5b, add, bias);
                return;
            }
            T* t = stackalloc T[6 * 2 * Vector256<T>.Count];
            Vector256.Store(c0a, t + 0 * w); Vector256.Store(c0b, t + 1 * w);
            Vector256.Store(c1a, t + 2 * w); Vector256.Store(c1b, t + 3 * w);
            Vector256.Store(c2a, t + 4 * w); Vector256.Store(c2b, t + 5 * w);
            Vector256.Store(c3a, t + 6 * w); Vector256.Store(c3b, t + 7 * w);
            Vector256.Store(c4a, t + 8 * w); Vector256.Store(c4b, t + 9 * w);
            Vector256.Store(c5a, t + 10 * w); Vector256.Store(c5b, t + 11 * w);
            Edge(t, 2 * w, c, ldc, 6, cols, add, bias);
        }

        /// <inheritdoc cref="IMicroKernel{T}.RunNarrow"/>
        [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
        public static void RunNarrow(int kc, T* a, int ars, int acs, T* b, T* c, int ldc, int rows, int cols, bool add, T* bias)
        {
            int w = Vector256<T>.Count;
            Vector256<T> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
            nint s1 = ars, s2 = 2 * (nint)ars;
            T* q0 = a, q1 = a + 3 * s1;
            for (int p = 0; p < kc; p++)
            {
                var b0 = Vector256.Load(b);
                c0 = Fma(Vector256.Create(q0[0]), b0, c0); c1 = Fma(Vector256.Create(q0[s1]), b0, c1); c2 = Fma(Vector256.Create(q0[s2]), b0, c2);
                c3 = Fma(Vector256.Create(q1[0]), b0, c3); c4 = Fma(Vector256.Create(q1[s1]), b0, c4); c5 = Fma(Vector256.Create(q1[s2]), b0, c5);
                q0 += acs; q1 += acs;
                b += 2 * w;   // the packed sliver is 2w wide; its right half is the zero padding
            }
            T* t = stackalloc T[6 * Vector256<T>.Count];
            Vector256.Store(c0, t + 0 * w); Vector256.Store(c1, t + 1 * w); Vector256.Store(c2, t + 2 * w);
            Vector256.Store(c3, t + 3 * w); Vector256.Store(c4, t + 4 * w); Vector256.Store(c5, t + 5 * w);
            Edge(t, w, c, ldc, rows, cols, add, bias);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(T* dst, Vector256<T> lo, Vector256<T> hi, bool add, T* bias)
        {
            int w = Vector256<T>.Count;
            if (add) { lo += Vector256.Load(dst); hi += Vector256.Load(dst + w); }
            else if (bias != null) { lo += Vector256.Load(bias); hi += Vector256.Load(bias + w); }
            Vector256.Store(lo, dst);
            Vector256.Store(hi, dst + w);
        }
    }

    /// <summary>4×4 block of C in scalar registers: any CPU, and the reference for the vector kernels' layout.</summary>
    internal readonly struct KernelScalar<T> : IMicroKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static int MR => 4;
        public static int NR => 4;
        public static bool ReadsRowsInPlace => false;
        public static bool IsSupported => true;

        public static void Run(int kc, T* a, T* b, T* c, int ldc, int rows, int cols, bool add, T* bias)
        {
            T c00 = T.Zero, c01 = T.Zero, c02 = T.Zero, c03 = T.Zero, c10 = T.Zero, c11 = T.Zero, c12 = T.Zero, c13 = T.Zero;
            T c20 = T.Zero, c21 = T.Zero, c22 = T.Zero, c23 = T.Zero, c30 = T.Zero, c31 = T.Zero, c32 = T.Zero, c33 = T.Zero;
            for (int p = 0; p < kc; p++, a += 4, b += 4)
            {
                T b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
                T a0 = a[0]; c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                T a1 = a[1]; c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                T a2 = a[2]; c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                T a3 = a[3]; c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            T* t = stackalloc T[16];
            t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03; t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
            t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23; t[12] = c30; t[13] = c31; t[14] = c32; t[15] = c33;
            Edge(t, 4, c, ldc, rows, cols, add, bias);
        }

        public static void RunDirect(int kc, T* a, int ars, int acs, T* b, T* c, int ldc, int cols, bool add, T* bias)
        {
            T* t = stackalloc T[16];
            for (int i = 0; i < 16; i++) t[i] = T.Zero;
            for (int p = 0; p < kc; p++, b += 4)
                for (int r = 0; r < 4; r++)
                {
                    T ar = a[(nint)r * ars + (nint)p * acs];
                    for (int j = 0; j < 4; j++) t[r * 4 + j] += ar * b[j];
                }
            Edge(t, 4, c, ldc, 4, cols, add, bias);
        }

        /// <inheritdoc cref="IMicroKernel{T}.RunNarrow"/>
        public static void RunNarrow(int kc, T* a, int ars, int acs, T* b, T* c, int ldc, int rows, int cols, bool add, T* bias)
        {
            T* t = stackalloc T[16];
            for (int i = 0; i < 16; i++) t[i] = T.Zero;
            for (int p = 0; p < kc; p++, b += 4)
                for (int r = 0; r < rows; r++)
                {
                    T ar = a[(nint)r * ars + (nint)p * acs];
                    for (int j = 0; j < cols; j++) t[r * 4 + j] += ar * b[j];
                }
            Edge(t, 4, c, ldc, rows, cols, add, bias);
        }
    }

    /// <summary>Writes (or adds, or writes with the bias added) the leading rows×cols block of a kernel's register tile, spilled to <paramref name="tile"/>, into C.</summary>
    private static void Edge<T>(T* tile, int tileStride, T* c, int ldc, int rows, int cols, bool add, T* bias)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            T* src = tile + r * tileStride, dst = c + r * ldc;
            if (add) for (int j = 0; j < cols; j++) dst[j] += src[j];
            else if (bias != null) for (int j = 0; j < cols; j++) dst[j] = src[j] + bias[j];
            else for (int j = 0; j < cols; j++) dst[j] = src[j];
        }
    }
}
