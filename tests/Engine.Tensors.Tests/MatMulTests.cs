using MathNet.Numerics.LinearAlgebra;

namespace Engine.Tests;

public class MatMulTests
{
    private static Matrix<double> M(Tensor t) => Matrix<double>.Build.DenseOfRowMajor(t.Dim(0), t.Dim(1), t.ToDoubleArray());

    private static double[] RowMajor(Matrix<double> m)
    {
        var r = new double[m.RowCount * m.ColumnCount];
        for (int i = 0; i < m.RowCount; i++) for (int j = 0; j < m.ColumnCount; j++) r[i * m.ColumnCount + j] = m[i, j];
        return r;
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 4, 5)]
    [InlineData(17, 33, 9)]
    [InlineData(64, 130, 70)]
    [InlineData(5, 600, 3)]
    public void MatchesMathNetForEveryOperandLayout(int m, int k, int n)
    {
        var av = Ref.Values(m * k, 1); var bv = Ref.Values(k * n, 2);
        var expected = RowMajor(Matrix<double>.Build.DenseOfRowMajor(m, k, av) * Matrix<double>.Build.DenseOfRowMajor(k, n, bv));
        foreach (var (la, a) in Ref.Layouts(av, [m, k], DType.Float64))
            foreach (var (lb, b) in Ref.Layouts(bv, [k, n], DType.Float64))
                Ref.Close(expected, a.MatMul(b), 1e-12, $"{la} · {lb}");
        // float32 within float32 rounding.
        var a32 = Ref.Make(av, [m, k], DType.Float32); var b32 = Ref.Make(bv, [k, n], DType.Float32);
        Ref.Close(expected, a32.MatMul(b32), 1e-5 * Math.Sqrt(k), "float32");
        Ref.Close(expected, a32.T.Contiguous().T.MatMul(b32.T.Contiguous().T), 1e-5 * Math.Sqrt(k), "float32 transposed");
    }

    [Fact]
    public void BatchedMatMulBroadcastsBatchDimsAgainstMathNet()
    {
        (int[] a, int[] b)[] cases =
        [
            ([2, 3, 4], [2, 4, 5]), ([2, 3, 4], [4, 5]), ([3, 4], [2, 4, 5]), ([2, 1, 3, 4], [3, 4, 2]),
            ([1, 3, 4], [5, 4, 2]), ([2, 2, 3, 4], [2, 2, 4, 3]),
        ];
        foreach (var (sa, sb) in cases)
        {
            var av = Ref.Values(Ref.Count(sa), 3); var bv = Ref.Values(Ref.Count(sb), 4);
            var a = Tensor.FromArray<double>(av, sa); var b = Tensor.FromArray<double>(bv, sb);
            var batch = Ref.BroadcastShape(sa[..^2], sb[..^2]);
            int m = sa[^2], k = sa[^1], n = sb[^1];
            var y = a.MatMul(b);
            Assert.Equal([.. batch, m, n], y.Shape);
            var yv = y.ToDoubleArray();
            for (int bi = 0; bi < Ref.Count(batch); bi++)
            {
                var idx = Ref.Unravel(bi, batch);
                var am = Slice(av, sa, idx); var bm = Slice(bv, sb, idx);
                var expected = RowMajor(Matrix<double>.Build.DenseOfRowMajor(m, k, am) * Matrix<double>.Build.DenseOfRowMajor(k, n, bm));
                Ref.Close(expected, yv[(bi * m * n)..((bi + 1) * m * n)], 1e-12, $"{Shapes.Format(sa)}·{Shapes.Format(sb)} batch {bi}");
            }
            // Transposed operands (batch-strided views) give the same result.
            var at = a.Transpose(-1, -2).Contiguous().Transpose(-1, -2);
            var bt = b.Transpose(0, -1).Contiguous().Transpose(0, -1);
            Ref.Close(yv, at.MatMul(bt), 1e-12);
        }
    }

    /// <summary>The [m, k] matrix at a broadcast batch index of a row-major [batch..., m, k] array.</summary>
    private static double[] Slice(double[] v, int[] shape, int[] batchIdx)
    {
        int mk = shape[^1] * shape[^2];
        var bs = shape[..^2];
        int extra = batchIdx.Length - bs.Length, flat = 0;
        for (int d = 0; d < bs.Length; d++) flat = flat * bs[d] + (bs[d] == 1 ? 0 : batchIdx[d + extra]);
        return v[(flat * mk)..((flat + 1) * mk)];
    }

    [Fact]
    public void OneDimensionalOperandsFollowNumPy()
    {
        var a = Tensor.FromArray<double>(Ref.Values(12, 5), [3, 4]);
        var v = Tensor.FromArray(Ref.Values(4, 6));
        var w = Tensor.FromArray(Ref.Values(3, 7));
        var mv = RowMajor(M(a) * Matrix<double>.Build.DenseOfColumnMajor(4, 1, v.ToDoubleArray()));
        var y = a.MatMul(v);
        Assert.Equal([3], y.Shape);
        Ref.Close(mv, y, 1e-12);
        var vm = w.MatMul(a);
        Assert.Equal([4], vm.Shape);
        Ref.Close(RowMajor(Matrix<double>.Build.DenseOfRowMajor(1, 3, w.ToDoubleArray()) * M(a)), vm, 1e-12);
        var dot = v.MatMul(v);
        Assert.Equal([], dot.Shape);
        Assert.Equal(v.ToDoubleArray().Sum(x => x * x), dot.Item(), 1e-12);
        var batched = Tensor.FromArray<double>(Ref.Values(24, 8), [2, 3, 4]);
        Assert.Equal([2, 3], batched.MatMul(v).Shape);
        Assert.Equal([2, 4], w.MatMul(batched).Shape);
        Ref.Close(batched.Select(0, 1).MatMul(v).ToDoubleArray(), batched.MatMul(v).Select(0, 1), 1e-12);
        Ref.Close(w.MatMul(batched.Select(0, 1)).ToDoubleArray(), w.MatMul(batched).Select(0, 1), 1e-12);
    }

    [Fact]
    public void EmptyAndDegenerateShapes()
    {
        var z = Tensor.Zeros([3, 0], DType.Float64).MatMul(Tensor.Zeros([0, 4], DType.Float64));
        Assert.Equal([3, 4], z.Shape);
        Assert.All(z.ToDoubleArray(), x => Assert.Equal(0, x));
        Assert.Equal([0, 4], Tensor.Zeros([0, 2]).MatMul(Tensor.Zeros([2, 4])).Shape);
        Assert.Equal([3, 0], Tensor.Zeros([3, 2]).MatMul(Tensor.Zeros([2, 0])).Shape);
        Assert.Equal([0, 3, 4], Tensor.Zeros([0, 3, 2]).MatMul(Tensor.Zeros([2, 4])).Shape);
    }

    [Fact]
    public void LargeMatMulUsesAllRowsInParallelChunks()
    {
        int m = 200, k = 150, n = 180;
        var av = Ref.Values(m * k, 9); var bv = Ref.Values(k * n, 10);
        var expected = RowMajor(Matrix<double>.Build.DenseOfRowMajor(m, k, av) * Matrix<double>.Build.DenseOfRowMajor(k, n, bv));
        Ref.Close(expected, Tensor.FromArray<double>(av, [m, k]).MatMul(Tensor.FromArray<double>(bv, [k, n])), 1e-12);
        Ref.Close(expected, Tensor.FromArray<double>(av, [m, k]).T.Contiguous().T.MatMul(Tensor.FromArray<double>(bv, [k, n]).T.Contiguous().T), 1e-12);
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void MatMulBiasMatchesTheProductThenTheAddForEveryLayoutAndTheStridedBiasFallback(DType dtype)
    {
        // The train step's QKV shape (k = 128) and one past a kc block, W read transposed as a linear layer reads it;
        // a bias with a stride of 2 takes the composed path. Values and all three gradients against the composed form.
        double tol = dtype == DType.Float32 ? 2e-5 : 1e-12;
        foreach (var (m, k, n) in new[] { (300, 128, 384), (7, 300, 33) })
        {
            var x = Tensor.RandN([m, k], new Rng(1), dtype);
            var w = Tensor.RandN([n, k], new Rng(2), dtype);
            var pair = Tensor.RandN([n, 2], new Rng(3), dtype);
            foreach (var bias in new[] { pair.Select(1, 0).Contiguous(), pair.Select(1, 1) })
            {
                var g = Tensor.RandN([m, n], new Rng(4), dtype);
                Tensor[] Run(bool fused)
                {
                    var (xi, wi, bi) = (x.Clone().RequireGrad(), w.Clone().RequireGrad(), bias.Clone().RequireGrad());
                    var y = fused ? xi.MatMulBias(wi.T, bi) : xi.MatMul(wi.T).Add(bi);
                    y.Mul(g).Sum().Backward();
                    return [y.Detach(), xi.Grad!, wi.Grad!, bi.Grad!];
                }
                var got = Run(true);
                var want = Run(false);
                Assert.Contains(typeof(MatMulBiasNode), GradCheckTestBase.NodeTypes(x.Clone().RequireGrad().MatMulBias(w.T, bias)));
                for (int i = 0; i < 4; i++) Ref.Close(want[i].ToDoubleArray(), got[i], tol, $"{dtype} {m}x{k}x{n} output/gradient {i}");
            }
        }
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void AWeightGradientIsTheSameInEitherOrientationOfItsProduct(DType dtype)
    {
        // aᵀ·g may run as (gᵀ·a)ᵀ: the same sums in the same order, so equal to the last bit. Shapes for each branch
        // (fewer columns the other way; kept because the other way's steps alias; kept; square), with k past a
        // 256-step block; float64 steps alias at 256 columns where float32 ones do at 512.
        int alias = dtype == DType.Float32 ? 512 : 256;
        foreach (var (m, n, flips) in new[] { (128, 384, true), (alias, 128, true), (128, alias, false), (128, 65, false), (96, 96, false) })
        {
            var a = Tensor.RandN([300, m], new Rng(5), dtype);
            var g = Tensor.RandN([300, n], new Rng(6), dtype);
            var got = MatMulNode.TransposeTimes(a, g);
            Assert.Equal([m, n], got.Shape);
            Assert.Equal(!flips, got.IsContiguous);   // the flipped product comes back as a transposed view
            var direct = a.T.MatMul(g).ToDoubleArray();
            var flipped = g.T.MatMul(a).T.Contiguous().ToDoubleArray();
            Assert.Equal(direct, flipped);
            Assert.Equal(direct, got.Contiguous().ToDoubleArray());
        }
    }
}
