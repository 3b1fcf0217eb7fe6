using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Cpu;

/// <summary>
/// Packing: copies a block of A or B, read through any strides, into the order the micro-kernel consumes, so the
/// kernel's loads are sequential and aligned whatever the operands' layout (a transposed view costs a different
/// copy loop, never a transposed copy of the whole matrix). Rows or columns past the matrix edge are zero-filled.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>
    /// Packs rows × kc of A (element (i, p) at <c>a[i·ars + p·acs]</c>) as kc groups of <paramref name="mr"/> values:
    /// <c>dst[p·mr + i]</c>; rows ≤ i &lt; mr are zero.
    /// </summary>
    public static void PackA<T>(T* a, int ars, int acs, int rows, int kc, T* dst, int mr) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (ars == 1)
        {
            // Columns of A are contiguous (a transposed view): a group of one sliver.
            PackAGroup(a, acs, rows, kc, dst, mr);
            return;
        }
        int done = 0;
        if (acs == 1 && typeof(T) == typeof(float) && Avx.IsSupported)
            done = PackRowsFloat((float*)a, ars, rows, kc, (float*)dst, mr);
        for (int i = done; i < rows; i++)
        {
            T* src = a + (nint)i * ars, d = dst + i;
            if (acs == 1) for (int p = 0; p < kc; p++) d[p * mr] = src[p];
            else for (int p = 0; p < kc; p++) d[p * mr] = src[(nint)p * acs];
        }
        for (int i = rows; i < mr; i++)
            for (int p = 0; p < kc; p++) dst[p * mr + i] = T.Zero;
    }

    /// <summary>
    /// The row-major case of <see cref="PackA{T}"/> for float (rows of A contiguous): 4 rows × 8 steps at a time go
    /// through registers (<see cref="StoreTransposed"/>). Returns how many leading rows it packed (a multiple of 4); the caller packs the rest.
    /// </summary>
    private static int PackRowsFloat(float* a, int ars, int rows, int kc, float* dst, int mr)
    {
        int i0 = 0;
        for (; i0 + 4 <= rows; i0 += 4)
        {
            float* s0 = a + (nint)i0 * ars;
            nint rs = ars;
            int p = 0;
            for (; p + 8 <= kc; p += 8)
            {
                float* s = s0 + p;
                StoreTransposed(Avx.LoadVector256(s), Avx.LoadVector256(s + rs), Avx.LoadVector256(s + 2 * rs), Avx.LoadVector256(s + 3 * rs),
                    dst + p * mr + i0, mr);
            }
            for (; p < kc; p++)
                for (int i = 0; i < 4; i++) dst[p * mr + i0 + i] = s0[i * rs + p];
        }
        return i0;
    }

    /// <summary>
    /// Four rows of eight floats stored transposed: element c of every row, four consecutive values, at
    /// <c>d + c·ds</c> (four loads, eight shuffles and eight 4-value stores instead of 32 scalar copies).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreTransposed(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3, float* d, nint ds)
    {
        // in each 128-bit half: elements (0,1) of rows 0..3 from the low unpacks, (2,3) from the high ones
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        Sse.Store(d, u0.GetLower()); Sse.Store(d + ds, u1.GetLower());
        Sse.Store(d + 2 * ds, u2.GetLower()); Sse.Store(d + 3 * ds, u3.GetLower());
        Sse.Store(d + 4 * ds, u0.GetUpper()); Sse.Store(d + 5 * ds, u1.GetUpper());
        Sse.Store(d + 6 * ds, u2.GetUpper()); Sse.Store(d + 7 * ds, u3.GetUpper());
    }

    /// <summary>
    /// Packs rows × kc of a transposed A (element (i, p) at <c>a[i + p·acs]</c>) into consecutive slivers of
    /// <paramref name="mr"/> rows: sliver q at <c>dst + q·kc·mr</c>, laid out as <see cref="PackA{T}"/> lays out
    /// one; each step of k is read as one contiguous run of <paramref name="rows"/> values, copied by a few vector moves
    /// inline (a memmove call per 24-byte step cost more than the kernel's use of it). Rows past the last are zero.
    /// </summary>
    public static void PackAGroup<T>(T* a, int acs, int rows, int kc, T* dst, int mr) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int slivers = (rows + mr - 1) / mr;
        for (int p = 0; p < kc; p++)
        {
            T* src = a + (nint)p * acs, d = dst + p * mr;
            for (int q = 0; q < slivers; q++, src += mr, d += (nint)kc * mr)
            {
                int n = Math.Min(mr, rows - q * mr);
                CopyShort((byte*)src, (byte*)d, (uint)(n * sizeof(T)));
                for (int i = n; i < mr; i++) d[i] = T.Zero;
            }
        }
    }

    /// <summary>
    /// Packs kc × cols of B (element (p, j) at <c>b[p·brs + j·bcs]</c>, its rows not contiguous: a transposed or
    /// strided view; <see cref="PackBRows{T}"/> packs contiguous rows) as kc groups of <paramref name="nr"/> values:
    /// <c>dst[p·nr + j]</c>; cols ≤ j &lt; nr are zero.
    /// </summary>
    public static void PackB<T>(T* b, int brs, int bcs, int kc, int cols, T* dst, int nr) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int done = 0;
        if (brs == 1 && typeof(T) == typeof(float) && Avx.IsSupported)
            done = PackTransposedFloat((float*)b, bcs, kc, cols, (float*)dst, nr);
        for (int j = done; j < cols; j++)
        {
            T* src = b + (nint)j * bcs, d = dst + j;
            if (brs == 1) for (int p = 0; p < kc; p++) d[p * nr] = src[p];
            else for (int p = 0; p < kc; p++) d[p * nr] = src[(nint)p * brs];
        }
        for (int j = cols; j < nr; j++)
            for (int p = 0; p < kc; p++) dst[p * nr + j] = T.Zero;
    }

    /// <summary>
    /// Copies a short run of bytes (a sliver's step: 24 or 48 bytes for float) with vector and scalar
    /// moves; <paramref name="bytes"/> is the same on every call of a packing loop, so its branches predict.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyShort(byte* src, byte* dst, uint bytes)
    {
        uint o = 0;
        for (; o + 32 <= bytes; o += 32) Vector256.Store(Vector256.Load(src + o), dst + o);
        if (o + 16 <= bytes) { Vector128.Store(Vector128.Load(src + o), dst + o); o += 16; }
        if (o + 8 <= bytes) { *(ulong*)(dst + o) = *(ulong*)(src + o); o += 8; }
        if (o + 4 <= bytes) { *(uint*)(dst + o) = *(uint*)(src + o); o += 4; }
        for (; o < bytes; o++) dst[o] = src[o];
    }

    /// <summary>
    /// Packs slivers [s0, s1) of a kc × nc block of B whose rows are contiguous (element (p, j) at <c>b[p·brs + j]</c>)
    /// into the panel (sliver s at <c>panel + s·kc·nr</c>), a row of B at a time: each step of k is read as one
    /// contiguous run across the slivers, which the hardware prefetcher follows (sliver by sliver, the reads stride
    /// by a row of B). Columns past nc are zero.
    /// </summary>
    public static void PackBRows<T>(T* b, int brs, int kc, int nc, T* panel, int nr, int s0, int s1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int p = 0; p < kc; p++)
        {
            T* src = b + (nint)p * brs + (nint)s0 * nr, d = panel + (nint)s0 * kc * nr + p * nr;
            for (int s = s0; s < s1; s++, src += nr, d += (nint)kc * nr)
            {
                int cols = Math.Min(nr, nc - s * nr);
                CopyShort((byte*)src, (byte*)d, (uint)(cols * sizeof(T)));
                for (int j = cols; j < nr; j++) d[j] = T.Zero;
            }
        }
    }

    /// <summary>
    /// The transposing case of <see cref="PackB{T}"/> for float (columns of B contiguous, as in A·Bᵀ): 8×8 blocks
    /// go through registers (eight loads, 24 shuffles, eight stores instead of 64 scalar copies). Returns how many
    /// leading columns it packed (a multiple of 8); the caller packs the rest.
    /// </summary>
    private static int PackTransposedFloat(float* b, int bcs, int kc, int cols, float* dst, int nr)
    {
        int j0 = 0;
        for (; j0 + 8 <= cols; j0 += 8)
        {
            float* s0 = b + (nint)j0 * bcs;
            nint cs = bcs;
            int p = 0;
            for (; p + 8 <= kc; p += 8)
            {
                float* s = s0 + p;
                var r0 = Avx.LoadVector256(s); var r1 = Avx.LoadVector256(s + cs);
                var r2 = Avx.LoadVector256(s + 2 * cs); var r3 = Avx.LoadVector256(s + 3 * cs);
                var r4 = Avx.LoadVector256(s + 4 * cs); var r5 = Avx.LoadVector256(s + 5 * cs);
                var r6 = Avx.LoadVector256(s + 6 * cs); var r7 = Avx.LoadVector256(s + 7 * cs);
                // Pairs of columns interleaved, then groups of four, then the 128-bit halves exchanged.
                var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
                var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
                var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
                var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
                var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
                var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
                var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
                var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
                float* d = dst + p * nr + j0;
                Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
                Avx.Store(d + nr, Avx.Permute2x128(u1, u5, 0x20));
                Avx.Store(d + 2 * nr, Avx.Permute2x128(u2, u6, 0x20));
                Avx.Store(d + 3 * nr, Avx.Permute2x128(u3, u7, 0x20));
                Avx.Store(d + 4 * nr, Avx.Permute2x128(u0, u4, 0x31));
                Avx.Store(d + 5 * nr, Avx.Permute2x128(u1, u5, 0x31));
                Avx.Store(d + 6 * nr, Avx.Permute2x128(u2, u6, 0x31));
                Avx.Store(d + 7 * nr, Avx.Permute2x128(u3, u7, 0x31));
            }
            for (; p < kc; p++)
                for (int j = 0; j < 8; j++) dst[p * nr + j0 + j] = s0[j * cs + p];
        }
        return j0;
    }
}
