using System.Numerics;
using System.Runtime.CompilerServices;

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
            // Columns of A are contiguous (a transposed view): each step of k is one short copy.
            nuint bytes = (nuint)(rows * sizeof(T));
            for (int p = 0; p < kc; p++)
            {
                T* d = dst + p * mr;
                Unsafe.CopyBlockUnaligned(d, a + (nint)p * acs, (uint)bytes);
                for (int i = rows; i < mr; i++) d[i] = T.Zero;
            }
            return;
        }
        for (int i = 0; i < rows; i++)
        {
            T* src = a + (nint)i * ars, d = dst + i;
            if (acs == 1) for (int p = 0; p < kc; p++) d[p * mr] = src[p];
            else for (int p = 0; p < kc; p++) d[p * mr] = src[(nint)p * acs];
        }
        for (int i = rows; i < mr; i++)
            for (int p = 0; p < kc; p++) dst[p * mr + i] = T.Zero;
    }

    /// <summary>
    /// Packs kc × cols of B (element (p, j) at <c>b[p·brs + j·bcs]</c>) as kc groups of <paramref name="nr"/> values:
    /// <c>dst[p·nr + j]</c>; cols ≤ j &lt; nr are zero.
    /// </summary>
    public static void PackB<T>(T* b, int brs, int bcs, int kc, int cols, T* dst, int nr) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (bcs == 1)
        {
            // Rows of B are contiguous (the usual layout): each step of k is one short copy.
            uint bytes = (uint)(cols * sizeof(T));
            for (int p = 0; p < kc; p++)
            {
                T* d = dst + p * nr;
                Unsafe.CopyBlockUnaligned(d, b + (nint)p * brs, bytes);
                for (int j = cols; j < nr; j++) d[j] = T.Zero;
            }
            return;
        }
        for (int j = 0; j < cols; j++)
        {
            T* src = b + (nint)j * bcs, d = dst + j;
            if (brs == 1) for (int p = 0; p < kc; p++) d[p * nr] = src[p];
            else for (int p = 0; p < kc; p++) d[p * nr] = src[(nint)p * brs];
        }
        for (int j = cols; j < nr; j++)
            for (int p = 0; p < kc; p++) dst[p * nr + j] = T.Zero;
    }
}
