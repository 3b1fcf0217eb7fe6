using System.Numerics;
using Engine.Cpu;

namespace Engine.Tests;

/// <summary>
/// The GEMM against a naive triple loop in double: every kernel path, transpose combination, odd and degenerate
/// sizes, strided and offset operands, accumulate mode, float and double, and thread-count independence.
/// </summary>
public class GemmTests
{
    // Kernel names (GemmPath is internal, so theory data carries its name).
    public static TheoryData<string> Paths() => [nameof(GemmPath.Vector512), nameof(GemmPath.Vector256), nameof(GemmPath.Scalar)];

    /// <summary>Operands stored with padding, offsets and (optionally) transposed, described by their strides.</summary>
    private sealed class Case<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public int M, N, K, AOff, Ars, Acs, BOff, Brs, Bcs, COff, Ldc;
        public T[] A = [], B = [], C = [];
        /// <summary>C's row bias (at offset 1 of its array), for the products run with one.</summary>
        public T[] Bias = [];

        public static Case<T> Make(int m, int n, int k, bool transA, bool transB, int seed, int pad = 0, int step = 1)
        {
            var rng = new Random(seed);
            var cs = new Case<T> { M = m, N = n, K = k, AOff = pad, BOff = 2 * pad, COff = 3 * pad, Ldc = n + pad };
            // A is m×k: stored row-major [m, k] or as the transpose of [k, m]; `step` spreads the inner index.
            if (transA) { cs.Acs = m * step + pad; cs.Ars = step; }
            else { cs.Ars = k * step + pad; cs.Acs = step; }
            if (transB) { cs.Brs = step; cs.Bcs = k * step + pad; }
            else { cs.Bcs = step; cs.Brs = n * step + pad; }
            cs.A = Fill(cs.AOff + Extent(m, cs.Ars, k, cs.Acs) + pad, rng);
            cs.B = Fill(cs.BOff + Extent(k, cs.Brs, n, cs.Bcs) + pad, rng);
            cs.C = Fill(cs.COff + Extent(m, cs.Ldc, n, 1) + pad, rng);
            cs.Bias = Fill(n + 2, rng);
            return cs;
        }

        private static int Extent(int rows, int rs, int cols, int cs) => rows == 0 || cols == 0 ? 0 : (rows - 1) * rs + (cols - 1) * cs + 1;

        private static T[] Fill(int length, Random rng)
        {
            var x = new T[length];
            for (int i = 0; i < length; i++) x[i] = T.CreateChecked(rng.NextDouble() * 2 - 1);
            return x;
        }

        public T[] Run(bool accumulate, GemmPath path = GemmPath.Auto, int threads = 0, bool bias = false)
        {
            var c = (T[])C.Clone();
            using (Gemm.Force(path))
                Gemm.Compute(M, N, K, A, AOff, Ars, Acs, B, BOff, Brs, Bcs, c, COff, Ldc, accumulate, threads, bias ? Bias : null, 1);
            return c;
        }

        /// <summary>Checks <paramref name="got"/> against the double-precision triple loop; elements outside C's view must be untouched.</summary>
        public void Verify(T[] got, bool accumulate, bool bias = false)
        {
            double eps = typeof(T) == typeof(float) ? 2e-6 : 1e-14;
            var inside = new bool[C.Length];
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++)
                {
                    double sum = 0, mag = 0;
                    for (int p = 0; p < K; p++)
                    {
                        double prod = double.CreateChecked(A[AOff + i * Ars + p * Acs]) * double.CreateChecked(B[BOff + p * Brs + j * Bcs]);
                        sum += prod; mag += Math.Abs(prod);
                    }
                    int at = COff + i * Ldc + j;
                    inside[at] = true;
                    double before = accumulate ? double.CreateChecked(C[at]) : bias ? double.CreateChecked(Bias[1 + j]) : 0;
                    double want = before + sum, tol = eps * (4 + Math.Sqrt(K)) * (mag + Math.Abs(before)) + 1e-30;
                    double g = double.CreateChecked(got[at]);
                    Assert.True(Math.Abs(g - want) <= tol, $"C[{i},{j}] = {g}, want {want} (tol {tol:G3}) for m={M} n={N} k={K}");
                }
            for (int x = 0; x < C.Length; x++)
                if (!inside[x]) Assert.Equal(C[x], got[x]);
        }
    }

    private static void Check<T>(int m, int n, int k, bool ta, bool tb, GemmPath path, bool accumulate = false, int pad = 0, int step = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var cs = Case<T>.Make(m, n, k, ta, tb, seed: m * 7919 + n * 104729 + k, pad, step);
        cs.Verify(cs.Run(accumulate, path), accumulate);
    }

    private static void SkipUnlessSupported<T>(GemmPath path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Gemm.IsSupported<T>(path)) Assert.Skip($"{path} kernel is not accelerated on this CPU");
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void OddSizesAllTransposesFloat(string kernel)
    {
        var path = Enum.Parse<GemmPath>(kernel);
        SkipUnlessSupported<float>(path);
        int[][] sizes = [[1, 1, 1], [7, 7, 7], [33, 17, 65], [13, 33, 1], [1, 127, 300], [127, 1, 33], [127, 129, 300]];
        foreach (var s in sizes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    Check<float>(s[0], s[1], s[2], ta, tb, path);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void OddSizesAllTransposesDouble(string kernel)
    {
        var path = Enum.Parse<GemmPath>(kernel);
        SkipUnlessSupported<double>(path);
        int[][] sizes = [[1, 1, 1], [7, 7, 7], [33, 17, 65], [1, 127, 300], [127, 129, 300]];
        foreach (var s in sizes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    Check<double>(s[0], s[1], s[2], ta, tb, path);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ABiasStartsEveryRowOfCOnEveryPathSplitAndBlock(string kernel)
    {
        // Direct and packed A slivers, a transposed A (packed in groups), n past one B panel, k past one kc block (the
        // bias must be added once, in the first), one and two threads (rows or columns split), and k = 0 (C = bias).
        var path = Enum.Parse<GemmPath>(kernel);
        SkipUnlessSupported<float>(path);
        int[][] sizes = [[1, 1, 1], [13, 33, 7], [127, 129, 300], [37, 1100, 20], [300, 40, 520], [5, 9, 0]];
        foreach (var s in sizes)
            foreach (bool ta in new[] { false, true })
                foreach (int threads in new[] { 1, 2 })
                {
                    var cs = Case<float>.Make(s[0], s[1], s[2], ta, false, seed: s[0] + 31 * s[1] + s[2], pad: 3);
                    cs.Verify(cs.Run(accumulate: false, path, threads, bias: true), accumulate: false, bias: true);
                }
        var d = Case<double>.Make(127, 129, 300, true, true, seed: 5);
        d.Verify(d.Run(accumulate: false, GemmPath.Auto, 2, bias: true), accumulate: false, bias: true);
    }

    [Fact]
    public void ABiasWithAccumulateIsRefused()
    {
        var cs = Case<float>.Make(4, 4, 4, false, false, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => cs.Run(accumulate: true, bias: true));
        Assert.Contains("bias", e.Message);
    }

    [Fact]
    public void LargeDimensionsCrossEveryBlockBoundary()
    {
        // m past many row slivers, n past one B panel (1024 floats wide), k past several kc blocks.
        Check<float>(1031, 37, 45, false, false, GemmPath.Auto);
        Check<float>(9, 1100, 20, false, true, GemmPath.Auto);
        Check<float>(19, 23, 1030, true, false, GemmPath.Auto);
        Check<double>(40, 600, 530, true, true, GemmPath.Auto);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void StridedAndOffsetOperands(string kernel)
    {
        var path = Enum.Parse<GemmPath>(kernel);
        SkipUnlessSupported<float>(path);
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                Check<float>(29, 45, 70, ta, tb, path, pad: 5, step: 1);
                Check<float>(29, 45, 70, ta, tb, path, pad: 3, step: 2);
                Check<double>(17, 40, 33, ta, tb, path, pad: 4, step: 3);
            }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void AccumulateAddsToC(string kernel)
    {
        var path = Enum.Parse<GemmPath>(kernel);
        SkipUnlessSupported<float>(path);
        foreach (bool ta in new[] { false, true })
        {
            Check<float>(31, 50, 300, ta, !ta, path, accumulate: true, pad: 2);
            Check<double>(12, 33, 7, ta, ta, path, accumulate: true);
        }
    }

    [Fact]
    public void ZeroSizes()
    {
        foreach (bool acc in new[] { false, true })
        {
            Check<float>(0, 5, 3, false, false, GemmPath.Auto, acc, pad: 1);
            Check<float>(5, 0, 3, false, false, GemmPath.Auto, acc, pad: 1);
            // k = 0: C = 0 when overwriting, unchanged when accumulating.
            Check<float>(5, 4, 0, false, false, GemmPath.Auto, acc, pad: 1);
            Check<double>(1, 1, 0, true, true, GemmPath.Auto, acc);
        }
        var c = new float[] { 7, 7, 7, 7 };
        Gemm.Compute(2, 2, 0, Array.Empty<float>(), 0, 0, 0, Array.Empty<float>(), 0, 0, 0, c, 0, 2, accumulate: false);
        Assert.Equal(new float[4], c);
    }

    [Fact]
    public void ResultsDoNotDependOnThreadCount()
    {
        // Large enough that the parallel path runs (several kc blocks, many slivers, ragged edges).
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                var cs = Case<float>.Make(301, 203, 600, ta, tb, seed: 5);
                var one = cs.Run(accumulate: false, threads: 1);
                Assert.Equal(one, cs.Run(accumulate: false, threads: 2));
                Assert.Equal(one, cs.Run(accumulate: false, threads: 3));
                cs.Verify(one, accumulate: false);
            }
        // Few rows: the parallel split goes over columns instead.
        var wide = Case<double>.Make(5, 2000, 300, false, false, seed: 6);
        Assert.Equal(wide.Run(accumulate: true, threads: 1), wide.Run(accumulate: true, threads: 2));
    }

    [Fact]
    public void ColumnsDoNotDependOnHowManyOthersAreComputed()
    {
        // A narrow C reads A in place, a wide one packs it; both must give the same bits for the shared columns.
        foreach (bool ta in new[] { false, true })
        {
            var wide = Case<float>.Make(40, 300, 270, ta, false, seed: 9);
            var all = wide.Run(accumulate: false);
            var narrow = new float[40 * 64];
            Gemm.Compute(40, 64, 270, wide.A, wide.AOff, wide.Ars, wide.Acs, wide.B, wide.BOff, wide.Brs, wide.Bcs, narrow, 0, 64, false);
            for (int i = 0; i < 40; i++)
                Assert.Equal(all.AsSpan(wide.COff + i * wide.Ldc, 64).ToArray(), narrow.AsSpan(i * 64, 64).ToArray());
        }
    }

    [Fact]
    public void OutOfRangeOperandsThrow()
    {
        var a = new float[12]; var b = new float[12]; var c = new float[9];
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Compute(3, 3, 4, a, 0, 5, 1, b, 0, 3, 1, c, 0, 3, false));
        Assert.Contains("gemm: operand A", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Gemm.Compute(3, 3, 4, a, 0, 4, 1, b, 1, 3, 1, c, 0, 3, false));
        Assert.Contains("gemm: operand B", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Gemm.Compute(3, 3, 4, a, 0, 4, 1, b, 0, 3, 1, c, 0, 4, false));
        Assert.Contains("gemm: operand C", ex.Message);
    }

    // ---- batched matmul through the tensor API (CpuBackend.MatMul's three strategies) ----

    private static void AssertMatMulMatchesReference(Tensor x, Tensor y)
    {
        var got = x.MatMul(y).ToArray<double>();
        // Reference: per batch element, through contiguous copies and the naive loop.
        var xs = x.Contiguous().ToArray<double>(); var ys = y.Contiguous().ToArray<double>();
        int m = x.Dim(-2), k = x.Dim(-1), n = y.Dim(-1);
        int batch = got.Length / (m * n);
        Assert.Equal(x.Shape[..^2].Aggregate(1, (p, d) => p * d), batch);
        for (int bi = 0; bi < batch; bi++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    int yb = y.Rank == 2 ? 0 : bi;
                    for (int p = 0; p < k; p++) s += xs[(bi * m + i) * k + p] * ys[(yb * k + p) * n + j];
                    Assert.Equal(s, got[(bi * m + i) * n + j], 1e-10);
                }
    }

    [Fact]
    public void BatchedMatMulEveryStrategy()
    {
        // Shared weight: one tall product.
        AssertMatMulMatchesReference(Tensor.RandN([3, 5, 7], 1, DType.Float64), Tensor.RandN([7, 4], 2, DType.Float64));
        // Shared weight, but A's batch dim is not a run of rows (permuted): per-product path.
        AssertMatMulMatchesReference(Tensor.RandN([5, 3, 7], 3, DType.Float64).Permute(1, 0, 2), Tensor.RandN([7, 4], 4, DType.Float64));
        // Small products spread across the batch, transposed operand.
        AssertMatMulMatchesReference(Tensor.RandN([4, 9, 6], 5, DType.Float64), Tensor.RandN([4, 11, 6], 6, DType.Float64).Transpose(-1, -2));
        // Larger products one after another (odd batch).
        AssertMatMulMatchesReference(Tensor.RandN([3, 130, 140], 7, DType.Float64), Tensor.RandN([3, 140, 250], 8, DType.Float64));
    }

    [Fact]
    public void BatchedProductsEqualSingleProductsBitForBit()
    {
        // The batch is spread over threads one product each; every product must equal the same product run alone.
        var q = Tensor.RandN([8, 64, 32], 1); var k = Tensor.RandN([8, 64, 32], 2);
        var all = q.MatMul(k.Transpose(-1, -2)).ToArray<float>();
        for (int b = 0; b < 8; b++)
        {
            var one = q.Select(0, b).MatMul(k.Select(0, b).T).ToArray<float>();
            Assert.Equal(one, all.AsSpan(b * 64 * 64, 64 * 64).ToArray());
        }
        // Shared weight merged into one tall product vs row by row.
        var x = Tensor.RandN([4, 30, 50], 3); var w = Tensor.RandN([50, 70], 4);
        var merged = x.MatMul(w).ToArray<float>();
        var first = x.Select(0, 2).MatMul(w).ToArray<float>();
        Assert.Equal(first, merged.AsSpan(2 * 30 * 70, 30 * 70).ToArray());
    }
}
