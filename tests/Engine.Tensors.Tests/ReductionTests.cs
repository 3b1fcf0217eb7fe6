using CsCheck;

namespace Engine.Tests;

public class ReductionTests
{
    private static readonly int[][] AxisSets = [[0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2], [-1], [-3, -1]];

    private static int[] Norm(int[] axes, int rank) => [.. axes.Select(a => a < 0 ? a + rank : a).Order()];

    private static int[] OutShape(int[] shape, int[] axes, bool keep) =>
        [.. shape.Select((d, i) => (d, i)).Where(p => keep || !axes.Contains(p.i)).Select(p => axes.Contains(p.i) ? 1 : p.d)];

    [Fact]
    public void SumMeanMaxMinVarianceMatchReferenceOverAxesAndLayouts()
    {
        int[] shape = [3, 4, 5];
        var v = Ref.Values(60, 5);
        v[7] = v[8]; // a tie
        foreach (var dtype in Ref.FloatTypes)
        {
            var stored = Ref.Make(v, shape, dtype).ToDoubleArray();
            double tol = dtype == DType.Float32 ? 1e-5 : 1e-12;
            foreach (var axes in AxisSets)
                foreach (bool keep in new[] { false, true })
                {
                    var ax = Norm(axes, 3);
                    var os = OutShape(shape, ax, keep);
                    var sum = Ref.Reduce(stored, shape, ax, g => g.Sum());
                    var mean = Ref.Reduce(stored, shape, ax, g => g.Average());
                    var max = Ref.Reduce(stored, shape, ax, g => g.Max());
                    var min = Ref.Reduce(stored, shape, ax, g => g.Min());
                    var var0 = Ref.Reduce(stored, shape, ax, g => g.Select(x => (x - g.Average()) * (x - g.Average())).Sum() / g.Count);
                    var var1 = Ref.Reduce(stored, shape, ax, g => g.Select(x => (x - g.Average()) * (x - g.Average())).Sum() / (g.Count - 1));
                    foreach (var (layout, x) in Ref.Layouts(v, shape, dtype))
                    {
                        string what = $"{dtype} {layout} axes [{string.Join(",", axes)}] keep={keep}";
                        var s = x.Sum(axes, keep); Assert.Equal(os, s.Shape); Ref.Close(sum, s, tol, "sum " + what);
                        var m = x.Mean(axes, keep); Assert.Equal(os, m.Shape); Ref.Close(mean, m, tol, "mean " + what);
                        Ref.Close(max, x.Max(axes, keep), 0, "max " + what);
                        Ref.Close(min, x.Min(axes, keep), 0, "min " + what);
                        Ref.Close(var0, x.Variance(axes, false, keep), tol, "var " + what);
                        Ref.Close(var1, x.Variance(axes, true, keep), tol, "var unbiased " + what);
                    }
                }
            // Whole-tensor reductions give a scalar.
            var all = Ref.Make(v, shape, dtype);
            Assert.Equal([], all.Sum().Shape);
            Assert.Equal(stored.Sum(), all.Sum().Item(), dtype == DType.Float32 ? 1e-4 : 1e-12);
            Assert.Equal(stored.Max(), all.Max().Item());
            Assert.Equal([1, 1, 1], all.Mean(keepDim: true).Shape);
            Assert.Equal(stored.Min(), all.Min(1).Min(0).Min(0).Item());
        }
    }

    [Fact]
    public void ArgMaxArgMinReturnFirstIndexAlongAnyAxis()
    {
        int[] shape = [3, 4, 5];
        var v = Ref.Values(60, 9);
        v[5] = v[10] = 99; // tie along axis 1 at [0, 1, 0] and [0, 2, 0]: first wins
        foreach (var dtype in Ref.FloatTypes)
            foreach (var (layout, x) in Ref.Layouts(v, shape, dtype))
                for (int axis = 0; axis < 3; axis++)
                {
                    var stored = x.ToDoubleArray();
                    var am = x.ArgMax(axis); var an = x.ArgMin(axis, keepDim: true);
                    Assert.Equal(DType.Int32, am.DType);
                    Assert.Equal(OutShape(shape, [axis], false), am.Shape);
                    Assert.Equal(OutShape(shape, [axis], true), an.Shape);
                    var amv = am.ToArray<int>(); var anv = an.ToArray<int>();
                    var outShape = OutShape(shape, [axis], true);
                    for (int o = 0; o < amv.Length; o++)
                    {
                        var idx = Ref.Unravel(o, outShape);
                        int best = 0, worst = 0;
                        for (int j = 0; j < shape[axis]; j++)
                        {
                            idx[axis] = j; double val = stored[Flat(idx, shape)];
                            idx[axis] = best; if (val > stored[Flat(idx, shape)]) best = j;
                            idx[axis] = worst; if (val < stored[Flat(idx, shape)]) worst = j;
                        }
                        Assert.True(best == amv[o], $"argmax {dtype} {layout} axis {axis} at {o}: {amv[o]} vs {best}");
                        Assert.Equal(worst, anv[o]);
                    }
                }
        Assert.Equal(1, Tensor.FromArray(new double[] { 1, 5, 5 }).ArgMax().Item());
    }

    private static int Flat(int[] idx, int[] shape) { int f = 0; for (int d = 0; d < shape.Length; d++) f = f * shape[d] + idx[d]; return f; }

    [Fact]
    public void SoftmaxAndLogSoftmaxMatchReferenceOnEveryAxis()
    {
        int[] shape = [2, 3, 4];
        var v = Ref.Values(24, 2, -3, 3);
        foreach (var dtype in Ref.FloatTypes)
            foreach (var (layout, x) in Ref.Layouts(v, shape, dtype))
                for (int axis = -3; axis < 3; axis++)
                {
                    var stored = x.ToDoubleArray();
                    int a = axis < 0 ? axis + 3 : axis;
                    var lse = Ref.Reduce(stored, shape, [a], g => Math.Log(g.Sum(Math.Exp)));
                    var keep = OutShape(shape, [a], true);
                    var expectedLog = new double[24];
                    for (int i = 0; i < 24; i++) { var idx = Ref.Unravel(i, shape); expectedLog[i] = stored[i] - Ref.At(lse, keep, idx); }
                    double tol = dtype == DType.Float32 ? 1e-5 : 1e-13;
                    Ref.Close(expectedLog, x.LogSoftmax(axis), tol, $"log_softmax {dtype} {layout} axis {axis}");
                    Ref.Close([.. expectedLog.Select(Math.Exp)], x.Softmax(axis), tol, $"softmax {dtype} {layout} axis {axis}");
                }
    }

    [Fact]
    public void SoftmaxFamilyIsStableAtPlusMinus1e4()
    {
        foreach (var dtype in Ref.FloatTypes)
        {
            var x = Ref.Make([1e4, -1e4, 0, 1e4 - 1, -1e4, -1e4, -1e4, -1e4 + 2], [2, 4], dtype);
            var sm = x.Softmax().ToDoubleArray();
            var ls = x.LogSoftmax().ToDoubleArray();
            Assert.All(sm, s => Assert.True(double.IsFinite(s)));
            Assert.All(ls, s => Assert.True(double.IsFinite(s)));
            double l = Math.Log(1 + Math.Exp(-1));
            Ref.Close([1 / (1 + Math.Exp(-1)), 0, 0, Math.Exp(-1) / (1 + Math.Exp(-1))], sm[..4], 1e-6);
            Assert.Equal(-l, ls[0], 1e-4);
            Assert.Equal(-2e4 - l, ls[1], dtype == DType.Float32 ? 2e-3 : 1e-9);
            Assert.Equal(1, sm[4..].Sum(), 1e-6);
            // Gradients at the extremes are finite.
            var g = Ref.Make([1e4, -1e4, 0, 5], [4], DType.Float64).RequireGrad();
            g.LogSoftmax().Mul(Tensor.FromArray(new double[] { 1, 2, 3, 4 })).Sum().Backward();
            Assert.All(g.Grad!.ToDoubleArray(), v => Assert.True(double.IsFinite(v)));
        }
    }

    [Fact]
    public void LargeLeadingAndMiddleAxisReductionsMatchReference()
    {
        // Big enough for several column blocks and parallel chunks on the in-order row path.
        int a = 2, b = 300, c = 2500;
        var v = Ref.Values(a * b * c, 21);
        var x = Tensor.FromArray<double>(v, [a, b, c]);
        var sum1 = new double[a * c]; var max01 = new double[c];
        Array.Fill(max01, double.NegativeInfinity);
        for (int i = 0; i < a; i++) for (int j = 0; j < b; j++) for (int k = 0; k < c; k++)
        {
            double e = v[(i * b + j) * c + k];
            sum1[i * c + k] += e;
            max01[k] = Math.Max(max01[k], e);
        }
        Ref.Close(sum1, x.Sum(1), 1e-12);
        Ref.Close(max01, x.Max([0, 1]), 0);
        Ref.Close(sum1, x.To(DType.Float32).Sum(1), 1e-4);
        // The same through a narrowed (non-contiguous) input takes the gather path.
        Ref.Close(sum1.Select((s, i) => i % c < 10 ? s : double.NaN).Where(double.IsFinite).ToArray(), x.Narrow(2, 0, 10).Sum(1), 1e-12);
    }

    [Fact]
    public void EmptyReductions()
    {
        var e = Tensor.Zeros([2, 0, 3], DType.Float64);
        Assert.Equal([2, 3], e.Sum(1).Shape);
        Assert.All(e.Sum(1).ToDoubleArray(), v => Assert.Equal(0, v));
        Assert.Equal([0, 3], e.Sum(0).Shape);
        Assert.Equal([2, 0], e.Max(2).Shape);
        Assert.Equal([2, 0], e.ArgMax(2).Shape);
        Assert.Equal([2, 0, 3], e.Softmax(-1).Shape);
        Assert.Equal([2, 0, 3], e.LogSoftmax(1).Shape);
        Assert.Equal(0, e.Sum().Item());
        Assert.Equal([2, 0], e.Mean(2).Shape);
        var s = Tensor.Scalar(3, DType.Float64);
        Assert.Equal(3, s.Sum().Item());
        Assert.Equal(3, s.Max().Item());
        Assert.Equal(3, s.Mean().Item());
    }

    [Fact]
    public void ReductionsOnRandomShapesMatchReference()
    {
        // Property: for random shapes (incl. size-1 dims) and random axis subsets, Sum/Max/Mean agree with the
        // scalar reference, in float64, both on contiguous and on transposed inputs.
        var gen = Gen.Select(Gen.Int[1, 4].Array[1, 4], Gen.Int[0, 15], Gen.Bool, Gen.ULong);
        gen.Sample((shape, mask, keep, seed) =>
        {
            var axes = Enumerable.Range(0, shape.Length).Where(d => (mask >> d & 1) == 1).ToArray();
            var v = Ref.Values(Ref.Count(shape), seed);
            foreach (var (_, x) in Ref.Layouts(v, shape, DType.Float64))
            {
                var os = OutShape(shape, axes, keep);
                var s = x.Sum(axes, keep);
                Assert.Equal(os, s.Shape);
                Ref.Close(Ref.Reduce(v, shape, axes, g => g.Sum()), s, 1e-12);
                if (axes.Length > 0)
                {
                    Ref.Close(Ref.Reduce(v, shape, axes, g => g.Max()), x.Max(axes, keep), 0);
                    Ref.Close(Ref.Reduce(v, shape, axes, g => g.Average()), x.Mean(axes, keep), 1e-12);
                }
            }
        }, iter: 150, threads: 1);
    }

    [Fact]
    public void LongFloat32RowsSumAccuratelyOnEveryVectorWidth()
    {
        // 16 384 terms near 1/n: summed straight through in float32 on the 128-bit or scalar path, the running sum
        // saturates near 1 and ends ~6e-5 low. CI runs this test with AVX-512, AVX and all intrinsics switched off too.
        const int n = 16384;
        var rng = new Rng(12);
        var values = new float[2 * n];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(1.0 / n * (1 + 0.5 * (rng.NextDouble() - 0.5)));
        var sums = Tensor.FromArray<float>(values, [2, n]).Sum(-1).ToDoubleArray();
        for (int r = 0; r < 2; r++)
        {
            double exact = 0;
            for (int j = 0; j < n; j++) exact += values[r * n + j];
            Assert.True(Math.Abs(sums[r] - exact) <= 2e-7 * exact, $"row {r}: float32 sum {sums[r]:G9}, exact {exact:G9}");
        }
    }
}
