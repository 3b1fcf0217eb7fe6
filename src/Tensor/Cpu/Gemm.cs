using System.Numerics;
using System.Numerics.Tensors;

namespace Engine.Cpu;

/// <summary>
/// The one entry point for dense matrix products on the CPU: C = A·B (or C += A·B) for row-major C and
/// arbitrarily strided A and B, so transposed views need no copy. Blocked over k and n so a block of B stays
/// in cache while rows of A stream past it; parallel over rows of C.
/// </summary>
internal static class Gemm
{
    private const int KBlock = 128, NBlock = 512;

    /// <summary>
    /// C[i, j] (+)= Σ_p A[i, p]·B[p, j] with A[i, p] = a[aOff + i·ars + p·acs], B[p, j] = b[bOff + p·brs + j·bcs],
    /// C[i, j] = c[cOff + i·ldc + j].
    /// </summary>
    public static void Compute<T>(int m, int n, int k,
        T[] a, int aOff, int ars, int acs,
        T[] b, int bOff, int brs, int bcs,
        T[] c, int cOff, int ldc, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m == 0 || n == 0) return;
        if (!accumulate) for (int i = 0; i < m; i++) c.AsSpan(cOff + i * ldc, n).Clear();
        if (k == 0) return;
        // B rows must be contiguous for the vector inner loop; pack them once otherwise.
        if (bcs != 1)
        {
            var packed = new T[k * n];
            for (int p = 0; p < k; p++)
                for (int j = 0; j < n; j++) packed[p * n + j] = b[bOff + p * brs + j * bcs];
            b = packed; bOff = 0; brs = n; bcs = 1;
        }
        var bb = b; int bo = bOff, bs = brs;
        EngineThreads.For(m, (long)n * k, (i0, i1) =>
        {
            for (int j0 = 0; j0 < n; j0 += NBlock)
            {
                int nj = Math.Min(NBlock, n - j0);
                for (int p0 = 0; p0 < k; p0 += KBlock)
                {
                    int np = Math.Min(KBlock, k - p0);
                    for (int i = i0; i < i1; i++)
                    {
                        var crow = c.AsSpan(cOff + i * ldc + j0, nj);
                        int ai = aOff + i * ars + p0 * acs;
                        for (int p = 0; p < np; p++, ai += acs)
                        {
                            T av = a[ai];
                            if (av == T.Zero) continue;
                            TensorPrimitives.MultiplyAdd(bb.AsSpan(bo + (p0 + p) * bs + j0, nj), av, crow, crow);
                        }
                    }
                }
            }
        });
    }
}
