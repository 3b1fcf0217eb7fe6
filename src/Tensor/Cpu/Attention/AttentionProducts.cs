using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static Engine.Cpu.SimdMath;

namespace Engine.Cpu;

// The small register-blocked matrix products of the attention kernel (four query rows share every key load), with
// 512-bit micro-kernels where the hardware has them.
internal static partial class AttentionKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    // ------------------------------------------------------------------ small matrix products (register-blocked, 4 rows)
    // These loops (and the row stages) are compiled fully optimised on first use
    // (AggressiveOptimization): they run long loops over Vector<T> from the very first call, where unoptimised
    // tier-0 code is many times slower.

    /// <summary>
    /// c[r·ldc + j] = Σ_p a[a_r + p]·bt[p·ldb + j] for r &lt; 4, j &lt; n, p &lt; kdim: four rows of a (at offsets a0..a3)
    /// times a row-major [kdim, ≥n] matrix. Each loaded vector of bt feeds four rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoresBlock(T[] a, int a0, int a1, int a2, int a3, T[] bt, int ldb, int kdim, int n, T[] c, int ldc, int cOff)
    {
        int W = Vector<T>.Count;
        ref T A = ref MemoryMarshal.GetArrayDataReference(a);
        ref T B = ref MemoryMarshal.GetArrayDataReference(bt);
        ref T C = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(c), cOff);
        int j = Vector512.IsHardwareAccelerated ? ScoresBlock512(ref A, a0, a1, a2, a3, ref B, ldb, kdim, n, ref C, ldc) : 0;
        for (; j + 2 * W <= n; j += 2 * W)
        {
            Vector<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            for (int p = 0; p < kdim; p++)
            {
                var b0 = Vector.LoadUnsafe(ref B, (nuint)(p * ldb + j));
                var b1 = Vector.LoadUnsafe(ref B, (nuint)(p * ldb + j + W));
                var x = new Vector<T>(Unsafe.Add(ref A, a0 + p)); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
                x = new Vector<T>(Unsafe.Add(ref A, a1 + p)); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
                x = new Vector<T>(Unsafe.Add(ref A, a2 + p)); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
                x = new Vector<T>(Unsafe.Add(ref A, a3 + p)); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            }
            c00.StoreUnsafe(ref C, (nuint)j); c01.StoreUnsafe(ref C, (nuint)(j + W));
            c10.StoreUnsafe(ref C, (nuint)(ldc + j)); c11.StoreUnsafe(ref C, (nuint)(ldc + j + W));
            c20.StoreUnsafe(ref C, (nuint)(2 * ldc + j)); c21.StoreUnsafe(ref C, (nuint)(2 * ldc + j + W));
            c30.StoreUnsafe(ref C, (nuint)(3 * ldc + j)); c31.StoreUnsafe(ref C, (nuint)(3 * ldc + j + W));
        }
        for (; j + W <= n; j += W)
        {
            Vector<T> c0 = default, c1 = default, c2 = default, c3 = default;
            for (int p = 0; p < kdim; p++)
            {
                var b0 = Vector.LoadUnsafe(ref B, (nuint)(p * ldb + j));
                c0 = Fma(new Vector<T>(Unsafe.Add(ref A, a0 + p)), b0, c0);
                c1 = Fma(new Vector<T>(Unsafe.Add(ref A, a1 + p)), b0, c1);
                c2 = Fma(new Vector<T>(Unsafe.Add(ref A, a2 + p)), b0, c2);
                c3 = Fma(new Vector<T>(Unsafe.Add(ref A, a3 + p)), b0, c3);
            }
            c0.StoreUnsafe(ref C, (nuint)j); c1.StoreUnsafe(ref C, (nuint)(ldc + j));
            c2.StoreUnsafe(ref C, (nuint)(2 * ldc + j)); c3.StoreUnsafe(ref C, (nuint)(3 * ldc + j));
        }
        for (; j < n; j++)
        {
            T s0 = T.Zero, s1 = T.Zero, s2 = T.Zero, s3 = T.Zero;
            for (int p = 0; p < kdim; p++)
            {
                T b = bt[p * ldb + j];
                s0 += a[a0 + p] * b; s1 += a[a1 + p] * b; s2 += a[a2 + p] * b; s3 += a[a3 + p] * b;
            }
            c[cOff + j] = s0; c[cOff + ldc + j] = s1; c[cOff + 2 * ldc + j] = s2; c[cOff + 3 * ldc + j] = s3;
        }
    }

    /// <summary>
    /// c[cOff + r·cols + t] = scale_r·Σ_j a[r·lda + j]·b[bOff + j·ldb + t] for r &lt; rb, j &lt; n, t &lt; cols: a block
    /// of weights (4 rows, rows ≥ rb ignored) times a [n, cols] matrix whose rows are <paramref name="ldb"/> apart
    /// (values or keys; a KV cache's values read in place). Row r's sum is multiplied by <paramref name="scale"/>[r]
    /// as it is stored (the forward's 1/Σ of the row's weights), or by nothing when no scales are given.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightsTimesValues(T[] a, int aOff, int lda, int rb, int n, T[] b, int bOff, int ldb, int cols, T[] c, int cOff,
        ReadOnlySpan<T> scale = default)
    {
        int W = Vector<T>.Count;
        ref T A = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(a), aOff);
        ref T B = ref MemoryMarshal.GetArrayDataReference(b);
        ref T C = ref MemoryMarshal.GetArrayDataReference(c);
        // Rows past rb take row 0's scale; their sums are not stored. Multiplying by 1 changes nothing.
        T s0 = scale.IsEmpty ? T.One : scale[0], s1 = rb > 1 && !scale.IsEmpty ? scale[1] : s0,
          s2 = rb > 2 && !scale.IsEmpty ? scale[2] : s0, s3 = rb > 3 && !scale.IsEmpty ? scale[3] : s0;
        int t = Vector512.IsHardwareAccelerated ? WeightsTimesValues512(ref A, lda, rb, n, ref B, bOff, ldb, cols, ref C, cOff, s0, s1, s2, s3) : 0;
        Vector<T> v0 = new(s0), v1 = new(s1), v2 = new(s2), v3 = new(s3);
        for (; t + 2 * W <= cols; t += 2 * W)
        {
            Vector<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            for (int j = 0; j < n; j++)
            {
                var b0 = Vector.LoadUnsafe(ref B, (nuint)(bOff + j * ldb + t));
                var b1 = Vector.LoadUnsafe(ref B, (nuint)(bOff + j * ldb + t + W));
                var x = new Vector<T>(Unsafe.Add(ref A, j)); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
                x = new Vector<T>(Unsafe.Add(ref A, lda + j)); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
                x = new Vector<T>(Unsafe.Add(ref A, 2 * lda + j)); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
                x = new Vector<T>(Unsafe.Add(ref A, 3 * lda + j)); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            }
            (c00 * v0).StoreUnsafe(ref C, (nuint)(cOff + t)); (c01 * v0).StoreUnsafe(ref C, (nuint)(cOff + t + W));
            if (rb > 1) { (c10 * v1).StoreUnsafe(ref C, (nuint)(cOff + cols + t)); (c11 * v1).StoreUnsafe(ref C, (nuint)(cOff + cols + t + W)); }
            if (rb > 2) { (c20 * v2).StoreUnsafe(ref C, (nuint)(cOff + 2 * cols + t)); (c21 * v2).StoreUnsafe(ref C, (nuint)(cOff + 2 * cols + t + W)); }
            if (rb > 3) { (c30 * v3).StoreUnsafe(ref C, (nuint)(cOff + 3 * cols + t)); (c31 * v3).StoreUnsafe(ref C, (nuint)(cOff + 3 * cols + t + W)); }
        }
        for (; t + W <= cols; t += W)
        {
            Vector<T> c0 = default, c1 = default, c2 = default, c3 = default;
            for (int j = 0; j < n; j++)
            {
                var b0 = Vector.LoadUnsafe(ref B, (nuint)(bOff + j * ldb + t));
                c0 = Fma(new Vector<T>(Unsafe.Add(ref A, j)), b0, c0);
                c1 = Fma(new Vector<T>(Unsafe.Add(ref A, lda + j)), b0, c1);
                c2 = Fma(new Vector<T>(Unsafe.Add(ref A, 2 * lda + j)), b0, c2);
                c3 = Fma(new Vector<T>(Unsafe.Add(ref A, 3 * lda + j)), b0, c3);
            }
            (c0 * v0).StoreUnsafe(ref C, (nuint)(cOff + t));
            if (rb > 1) (c1 * v1).StoreUnsafe(ref C, (nuint)(cOff + cols + t));
            if (rb > 2) (c2 * v2).StoreUnsafe(ref C, (nuint)(cOff + 2 * cols + t));
            if (rb > 3) (c3 * v3).StoreUnsafe(ref C, (nuint)(cOff + 3 * cols + t));
        }
        for (; t < cols; t++)
            for (int r = 0; r < rb; r++)
            {
                T s = T.Zero;
                for (int j = 0; j < n; j++) s += a[aOff + r * lda + j] * b[bOff + j * ldb + t];
                c[cOff + r * cols + t] = s * (r == 0 ? s0 : r == 1 ? s1 : r == 2 ? s2 : s3);
            }
    }

    /// <summary>
    /// c[cOff + j·cols + t] += Σ_r a[r·lda + j]·b[bOff + r·cols + t] for j &lt; n, t &lt; cols and the rows
    /// max(0, j − firstSeen) ≤ r &lt; rows that see key j: the transposed product that accumulates the key and value
    /// gradients of a block of query rows (b holds the block's rows of dO or Q'). Each output row is read and written
    /// once; its sum over the block's rows runs in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateTransposed(T[] a, int lda, int rows, int n, int firstSeen, T[] b, int bOff, int cols, T[] c, int cOff)
    {
        int W = Vector<T>.Count;
        ref T Ar = ref MemoryMarshal.GetArrayDataReference(a);
        ref T B = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(b), bOff);
        ref T C = ref MemoryMarshal.GetArrayDataReference(c);
        int j = 0, t512 = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            t512 = cols / (2 * Vector512<T>.Count) * (2 * Vector512<T>.Count);
            if (t512 > 0)
                for (; j + 8 <= n; j += 8)
                    AccumulateTransposed512(ref Ar, lda, rows, j, firstSeen, ref B, cols, t512, ref C, cOff);
        }
        int jq = j;
        for (; j < n; j++) AccumulateTransposedRow(ref Ar, lda, rows, j, firstSeen, ref B, cols, 0, ref C, cOff, c);
        if (t512 < cols)
            for (int jj = 0; jj < jq; jj++) AccumulateTransposedRow(ref Ar, lda, rows, jj, firstSeen, ref B, cols, t512, ref C, cOff, c);
    }

    /// <summary>One key row j of <see cref="AccumulateTransposed"/>, columns from <paramref name="tStart"/> on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateTransposedRow(ref T Ar, int lda, int rows, int j, int firstSeen, ref T B, int cols, int tStart, ref T C, int cOff, T[] c)
    {
        int W = Vector<T>.Count;
        {
            int r0 = Math.Max(0, j - firstSeen), row = cOff + j * cols, t = tStart;
            ref T Aj = ref Unsafe.Add(ref Ar, j);
            for (; t + 4 * W <= cols; t += 4 * W)
            {
                Vector<T> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int r = r0; r < rows; r++)
                {
                    var x = new Vector<T>(Unsafe.Add(ref Aj, r * lda));
                    int br = r * cols + t;
                    s0 = Fma(x, Vector.LoadUnsafe(ref B, (nuint)br), s0);
                    s1 = Fma(x, Vector.LoadUnsafe(ref B, (nuint)(br + W)), s1);
                    s2 = Fma(x, Vector.LoadUnsafe(ref B, (nuint)(br + 2 * W)), s2);
                    s3 = Fma(x, Vector.LoadUnsafe(ref B, (nuint)(br + 3 * W)), s3);
                }
                (Vector.LoadUnsafe(ref C, (nuint)(row + t)) + s0).StoreUnsafe(ref C, (nuint)(row + t));
                (Vector.LoadUnsafe(ref C, (nuint)(row + t + W)) + s1).StoreUnsafe(ref C, (nuint)(row + t + W));
                (Vector.LoadUnsafe(ref C, (nuint)(row + t + 2 * W)) + s2).StoreUnsafe(ref C, (nuint)(row + t + 2 * W));
                (Vector.LoadUnsafe(ref C, (nuint)(row + t + 3 * W)) + s3).StoreUnsafe(ref C, (nuint)(row + t + 3 * W));
            }
            for (; t + W <= cols; t += W)
            {
                Vector<T> s0 = default, s1 = default;
                int r = r0;
                for (; r + 1 < rows; r += 2)
                {
                    s0 = Fma(new Vector<T>(Unsafe.Add(ref Aj, r * lda)), Vector.LoadUnsafe(ref B, (nuint)(r * cols + t)), s0);
                    s1 = Fma(new Vector<T>(Unsafe.Add(ref Aj, (r + 1) * lda)), Vector.LoadUnsafe(ref B, (nuint)((r + 1) * cols + t)), s1);
                }
                if (r < rows) s0 = Fma(new Vector<T>(Unsafe.Add(ref Aj, r * lda)), Vector.LoadUnsafe(ref B, (nuint)(r * cols + t)), s0);
                (Vector.LoadUnsafe(ref C, (nuint)(row + t)) + (s0 + s1)).StoreUnsafe(ref C, (nuint)(row + t));
            }
            for (; t < cols; t++)
            {
                T s = T.Zero;
                for (int r = r0; r < rows; r++) s += Unsafe.Add(ref Aj, r * lda) * Unsafe.Add(ref B, r * cols + t);
                c[row + t] += s;
            }
        }
    }
    // ------------------------------------------------------------------ 512-bit micro-kernels
    // Where the hardware has 512-bit vectors, the products above run their full-width column blocks here first
    // (16 floats per vector instead of Vector<T>'s 8). Every output element is summed in the same order, with the same
    // fused multiply-adds, as in the Vector<T> loops, so the results are bit-identical to theirs.

    /// <summary>
    /// The 512-bit part of <see cref="ScoresBlock"/>: key columns in blocks of 4·16 (floats; sixteen sums in registers,
    /// so that each step's four key loads and four query broadcasts feed sixteen multiply-adds), then 2·16; returns the
    /// first column left.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ScoresBlock512(ref T A, int a0, int a1, int a2, int a3, ref T B, int ldb, int kdim, int n, ref T C, int ldc)
    {
        int W = Vector512<T>.Count, j = 0;
        for (; j + 4 * W <= n; j += 4 * W)
        {
            Vector512<T> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default,
                         c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
            for (int p = 0; p < kdim; p++)
            {
                ref T Bp = ref Unsafe.Add(ref B, p * ldb + j);
                var b0 = Vector512.LoadUnsafe(ref Bp);
                var b1 = Vector512.LoadUnsafe(ref Bp, (nuint)W);
                var b2 = Vector512.LoadUnsafe(ref Bp, (nuint)(2 * W));
                var b3 = Vector512.LoadUnsafe(ref Bp, (nuint)(3 * W));
                var x = Vector512.Create(Unsafe.Add(ref A, a0 + p)); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01); c02 = Fma(x, b2, c02); c03 = Fma(x, b3, c03);
                x = Vector512.Create(Unsafe.Add(ref A, a1 + p)); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11); c12 = Fma(x, b2, c12); c13 = Fma(x, b3, c13);
                x = Vector512.Create(Unsafe.Add(ref A, a2 + p)); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21); c22 = Fma(x, b2, c22); c23 = Fma(x, b3, c23);
                x = Vector512.Create(Unsafe.Add(ref A, a3 + p)); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31); c32 = Fma(x, b2, c32); c33 = Fma(x, b3, c33);
            }
            ref T C0 = ref Unsafe.Add(ref C, j);
            c00.StoreUnsafe(ref C0); c01.StoreUnsafe(ref C0, (nuint)W); c02.StoreUnsafe(ref C0, (nuint)(2 * W)); c03.StoreUnsafe(ref C0, (nuint)(3 * W));
            ref T C1 = ref Unsafe.Add(ref C0, ldc);
            c10.StoreUnsafe(ref C1); c11.StoreUnsafe(ref C1, (nuint)W); c12.StoreUnsafe(ref C1, (nuint)(2 * W)); c13.StoreUnsafe(ref C1, (nuint)(3 * W));
            ref T C2 = ref Unsafe.Add(ref C1, ldc);
            c20.StoreUnsafe(ref C2); c21.StoreUnsafe(ref C2, (nuint)W); c22.StoreUnsafe(ref C2, (nuint)(2 * W)); c23.StoreUnsafe(ref C2, (nuint)(3 * W));
            ref T C3 = ref Unsafe.Add(ref C2, ldc);
            c30.StoreUnsafe(ref C3); c31.StoreUnsafe(ref C3, (nuint)W); c32.StoreUnsafe(ref C3, (nuint)(2 * W)); c33.StoreUnsafe(ref C3, (nuint)(3 * W));
        }
        for (; j + 2 * W <= n; j += 2 * W)
        {
            Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            for (int p = 0; p < kdim; p++)
            {
                var b0 = Vector512.LoadUnsafe(ref B, (nuint)(p * ldb + j));
                var b1 = Vector512.LoadUnsafe(ref B, (nuint)(p * ldb + j + W));
                var x = Vector512.Create(Unsafe.Add(ref A, a0 + p)); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
                x = Vector512.Create(Unsafe.Add(ref A, a1 + p)); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
                x = Vector512.Create(Unsafe.Add(ref A, a2 + p)); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
                x = Vector512.Create(Unsafe.Add(ref A, a3 + p)); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            }
            c00.StoreUnsafe(ref C, (nuint)j); c01.StoreUnsafe(ref C, (nuint)(j + W));
            c10.StoreUnsafe(ref C, (nuint)(ldc + j)); c11.StoreUnsafe(ref C, (nuint)(ldc + j + W));
            c20.StoreUnsafe(ref C, (nuint)(2 * ldc + j)); c21.StoreUnsafe(ref C, (nuint)(2 * ldc + j + W));
            c30.StoreUnsafe(ref C, (nuint)(3 * ldc + j)); c31.StoreUnsafe(ref C, (nuint)(3 * ldc + j + W));
        }
        // The last partial block is computed at full width when the rows of bt and c have room for it: the extra
        // columns lie past every row's causal limit, where the callers never read (they are overwritten or ignored).
        int room = Math.Min(ldb, ldc);
        for (; j < n && j + W <= room; j += W)
        {
            Vector512<T> c0 = default, c1 = default, c2 = default, c3 = default;
            for (int p = 0; p < kdim; p++)
            {
                var b0 = Vector512.LoadUnsafe(ref B, (nuint)(p * ldb + j));
                c0 = Fma(Vector512.Create(Unsafe.Add(ref A, a0 + p)), b0, c0);
                c1 = Fma(Vector512.Create(Unsafe.Add(ref A, a1 + p)), b0, c1);
                c2 = Fma(Vector512.Create(Unsafe.Add(ref A, a2 + p)), b0, c2);
                c3 = Fma(Vector512.Create(Unsafe.Add(ref A, a3 + p)), b0, c3);
            }
            c0.StoreUnsafe(ref C, (nuint)j); c1.StoreUnsafe(ref C, (nuint)(ldc + j));
            c2.StoreUnsafe(ref C, (nuint)(2 * ldc + j)); c3.StoreUnsafe(ref C, (nuint)(3 * ldc + j));
        }
        return Math.Min(j, n);
    }

    /// <summary>The 512-bit part of <see cref="WeightsTimesValues"/>: output columns in blocks of 2·16; returns the first column left.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int WeightsTimesValues512(ref T A, int lda, int rb, int n, ref T B, int bOff, int ldb, int cols, ref T C, int cOff,
        T s0, T s1, T s2, T s3)
    {
        int W = Vector512<T>.Count, t = 0;
        Vector512<T> v0 = Vector512.Create(s0), v1 = Vector512.Create(s1), v2 = Vector512.Create(s2), v3 = Vector512.Create(s3);
        for (; t + 2 * W <= cols; t += 2 * W)
        {
            Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            for (int j = 0; j < n; j++)
            {
                var b0 = Vector512.LoadUnsafe(ref B, (nuint)(bOff + j * ldb + t));
                var b1 = Vector512.LoadUnsafe(ref B, (nuint)(bOff + j * ldb + t + W));
                var x = Vector512.Create(Unsafe.Add(ref A, j)); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
                x = Vector512.Create(Unsafe.Add(ref A, lda + j)); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
                x = Vector512.Create(Unsafe.Add(ref A, 2 * lda + j)); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
                x = Vector512.Create(Unsafe.Add(ref A, 3 * lda + j)); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            }
            (c00 * v0).StoreUnsafe(ref C, (nuint)(cOff + t)); (c01 * v0).StoreUnsafe(ref C, (nuint)(cOff + t + W));
            if (rb > 1) { (c10 * v1).StoreUnsafe(ref C, (nuint)(cOff + cols + t)); (c11 * v1).StoreUnsafe(ref C, (nuint)(cOff + cols + t + W)); }
            if (rb > 2) { (c20 * v2).StoreUnsafe(ref C, (nuint)(cOff + 2 * cols + t)); (c21 * v2).StoreUnsafe(ref C, (nuint)(cOff + 2 * cols + t + W)); }
            if (rb > 3) { (c30 * v3).StoreUnsafe(ref C, (nuint)(cOff + 3 * cols + t)); (c31 * v3).StoreUnsafe(ref C, (nuint)(cOff + 3 * cols + t + W)); }
        }
        return t;
    }

    /// <summary>
    /// The 512-bit part of <see cref="AccumulateTransposed"/> for eight key rows j..j+7 at once and the columns below
    /// <paramref name="tEnd"/> (a multiple of 2·16): sixteen independent sums, so that each query row's two loads and
    /// eight broadcasts feed sixteen multiply-adds; each sum is still taken over r in ascending order from the first
    /// row that sees its key, as in the Vector&lt;T&gt; loop, so the results are bit-identical to it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateTransposed512(ref T Ar, int lda, int rows, int j, int firstSeen, ref T B, int cols, int tEnd, ref T C, int cOff)
    {
        int W = Vector512<T>.Count;
        int q0 = Math.Max(0, j - firstSeen), q7 = Math.Max(0, j + 7 - firstSeen);
        ref T Aj = ref Unsafe.Add(ref Ar, j);
        for (int t = 0; t < tEnd; t += 2 * W)
        {
            Vector512<T> s00 = default, s01 = default, s10 = default, s11 = default, s20 = default, s21 = default, s30 = default, s31 = default,
                         s40 = default, s41 = default, s50 = default, s51 = default, s60 = default, s61 = default, s70 = default, s71 = default;
            int r = q0, common = Math.Min(q7, rows);
            // the few rows that see key j but not all of j+1..j+7: row r sees key j+k when r ≥ j + k − firstSeen
            for (; r < common; r++)
            {
                ref T Arow = ref Unsafe.Add(ref Aj, r * lda);
                var b0 = Vector512.LoadUnsafe(ref B, (nuint)(r * cols + t));
                var b1 = Vector512.LoadUnsafe(ref B, (nuint)(r * cols + t + W));
                int seen = r + firstSeen - j;   // row r sees keys j..j+seen
                var x = Vector512.Create(Arow); s00 = Fma(x, b0, s00); s01 = Fma(x, b1, s01);
                if (seen >= 1) { x = Vector512.Create(Unsafe.Add(ref Arow, 1)); s10 = Fma(x, b0, s10); s11 = Fma(x, b1, s11); }
                if (seen >= 2) { x = Vector512.Create(Unsafe.Add(ref Arow, 2)); s20 = Fma(x, b0, s20); s21 = Fma(x, b1, s21); }
                if (seen >= 3) { x = Vector512.Create(Unsafe.Add(ref Arow, 3)); s30 = Fma(x, b0, s30); s31 = Fma(x, b1, s31); }
                if (seen >= 4) { x = Vector512.Create(Unsafe.Add(ref Arow, 4)); s40 = Fma(x, b0, s40); s41 = Fma(x, b1, s41); }
                if (seen >= 5) { x = Vector512.Create(Unsafe.Add(ref Arow, 5)); s50 = Fma(x, b0, s50); s51 = Fma(x, b1, s51); }
                if (seen >= 6) { x = Vector512.Create(Unsafe.Add(ref Arow, 6)); s60 = Fma(x, b0, s60); s61 = Fma(x, b1, s61); }
            }
            for (; r < rows; r++)
            {
                ref T Arow = ref Unsafe.Add(ref Aj, r * lda);
                var b0 = Vector512.LoadUnsafe(ref B, (nuint)(r * cols + t));
                var b1 = Vector512.LoadUnsafe(ref B, (nuint)(r * cols + t + W));
                var x = Vector512.Create(Arow); s00 = Fma(x, b0, s00); s01 = Fma(x, b1, s01);
                x = Vector512.Create(Unsafe.Add(ref Arow, 1)); s10 = Fma(x, b0, s10); s11 = Fma(x, b1, s11);
                x = Vector512.Create(Unsafe.Add(ref Arow, 2)); s20 = Fma(x, b0, s20); s21 = Fma(x, b1, s21);
                x = Vector512.Create(Unsafe.Add(ref Arow, 3)); s30 = Fma(x, b0, s30); s31 = Fma(x, b1, s31);
                x = Vector512.Create(Unsafe.Add(ref Arow, 4)); s40 = Fma(x, b0, s40); s41 = Fma(x, b1, s41);
                x = Vector512.Create(Unsafe.Add(ref Arow, 5)); s50 = Fma(x, b0, s50); s51 = Fma(x, b1, s51);
                x = Vector512.Create(Unsafe.Add(ref Arow, 6)); s60 = Fma(x, b0, s60); s61 = Fma(x, b1, s61);
                x = Vector512.Create(Unsafe.Add(ref Arow, 7)); s70 = Fma(x, b0, s70); s71 = Fma(x, b1, s71);
            }
            int row = cOff + j * cols + t;
            AddTo(ref C, row, s00); AddTo(ref C, row + W, s01);
            AddTo(ref C, row + cols, s10); AddTo(ref C, row + cols + W, s11);
            AddTo(ref C, row + 2 * cols, s20); AddTo(ref C, row + 2 * cols + W, s21);
            AddTo(ref C, row + 3 * cols, s30); AddTo(ref C, row + 3 * cols + W, s31);
            AddTo(ref C, row + 4 * cols, s40); AddTo(ref C, row + 4 * cols + W, s41);
            AddTo(ref C, row + 5 * cols, s50); AddTo(ref C, row + 5 * cols + W, s51);
            AddTo(ref C, row + 6 * cols, s60); AddTo(ref C, row + 6 * cols + W, s61);
            AddTo(ref C, row + 7 * cols, s70); AddTo(ref C, row + 7 * cols + W, s71);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddTo(ref T C, int at, Vector512<T> s) => (Vector512.LoadUnsafe(ref C, (nuint)at) + s).StoreUnsafe(ref C, (nuint)at);
}
