namespace Engine.Tests;

public class ElementwiseTests
{
    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
    private static double Softplus(double x) => x > 30 ? x : x < -30 ? Math.Exp(x) : Math.Log(1 + Math.Exp(x));
    private static double Gelu(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    public record UnaryCase(string Name, Func<Tensor, Tensor> Op, Func<double, double> Ref, double Lo, double Hi)
    {
        public override string ToString() => Name;
    }

    private static readonly UnaryCase[] Unaries =
    [
        new("neg", x => x.Neg(), x => -x, -3, 3),
        new("exp", x => x.Exp(), Math.Exp, -3, 3),
        new("log", x => x.Log(), Math.Log, 0.1, 5),
        new("sqrt", x => x.Sqrt(), Math.Sqrt, 0.1, 5),
        new("rsqrt", x => x.Rsqrt(), x => 1 / Math.Sqrt(x), 0.1, 5),
        new("abs", x => x.Abs(), Math.Abs, -3, 3),
        new("relu", x => x.Relu(), x => Math.Max(x, 0), -3, 3),
        new("sigmoid", x => x.Sigmoid(), Sigmoid, -6, 6),
        new("tanh", x => x.Tanh(), Math.Tanh, -3, 3),
        new("softplus", x => x.Softplus(), Softplus, -6, 6),
        new("gelu", x => x.Gelu(), Gelu, -4, 4),
        new("pow2", x => x.PowScalar(2), x => x * x, -3, 3),
        new("square", x => x.Square(), x => x * x, -3, 3),
        new("pow3", x => x.PowScalar(3), x => x * x * x, -3, 3),
        new("pow1.5", x => x.PowScalar(1.5), x => Math.Pow(x, 1.5), 0.1, 4),
        new("pow1", x => x.PowScalar(1), x => x, -3, 3),
        new("pow-1", x => x.PowScalar(-1), x => 1 / x, 0.5, 3),
        new("add_scalar", x => x.AddScalar(2.5), x => x + 2.5, -3, 3),
        new("mul_scalar", x => x.MulScalar(-1.5), x => x * -1.5, -3, 3),
        new("rsub_scalar", x => x.RSubScalar(2), x => 2 - x, -3, 3),
        new("rdiv_scalar", x => x.RDivScalar(2), x => 2 / x, 0.5, 3),
        new("op+s", x => x + 1.0, x => x + 1, -3, 3),
        new("op s+", x => 1.0 + x, x => x + 1, -3, 3),
        new("op-s", x => x - 1.0, x => x - 1, -3, 3),
        new("op s-", x => 1.0 - x, x => 1 - x, -3, 3),
        new("op*s", x => x * 3.0, x => 3 * x, -3, 3),
        new("op s*", x => 3.0 * x, x => 3 * x, -3, 3),
        new("op/s", x => x / 4.0, x => x / 4, -3, 3),
        new("op s/", x => 4.0 / x, x => 4 / x, 0.5, 3),
        new("op -x", x => -x, x => -x, -3, 3),
        new("eq_scalar", x => x.Eq(0.5), x => x == 0.5 ? 1 : 0, -3, 3),
        new("gt_scalar", x => x.Gt(0.5), x => x > 0.5 ? 1 : 0, -3, 3),
        new("lt_scalar", x => x.Lt(0.5), x => x < 0.5 ? 1 : 0, -3, 3),
    ];

    public static TheoryData<string> UnaryNames() => [.. Unaries.Select(u => u.Name)];

    [Theory]
    [MemberData(nameof(UnaryNames))]
    public void UnaryMatchesScalarReferenceInEveryLayoutAndDType(string name)
    {
        var u = Unaries.Single(c => c.Name == name);
        int[] shape = [3, 4, 5];
        var v = Ref.Values(Ref.Count(shape), 11, u.Lo, u.Hi);
        if (name == "eq_scalar") v[7] = 0.5;
        foreach (var dtype in Ref.FloatTypes)
        {
            // The reference sees the values as stored in the dtype.
            var stored = Ref.Make(v, shape, dtype).ToDoubleArray();
            var expected = stored.Select(u.Ref).ToArray();
            foreach (var (layout, x) in Ref.Layouts(v, shape, dtype))
            {
                var y = u.Op(x);
                Assert.Equal(shape, y.Shape);
                Assert.Equal(dtype, y.DType);
                Ref.Close(expected, y, dtype == DType.Float32 ? 1e-5 : 1e-13, $"{name} {dtype} {layout}");
            }
            // Expanded (stride-0) input.
            var row = Ref.Make(v[..5], [5], dtype);
            var ex = u.Op(row.Expand(4, 5));
            var rowStored = row.ToDoubleArray();
            Ref.Close([.. Enumerable.Range(0, 20).Select(i => u.Ref(rowStored[i % 5]))], ex, dtype == DType.Float32 ? 1e-5 : 1e-13, $"{name} expanded");
        }
    }

    public record BinaryCase(string Name, Func<Tensor, Tensor, Tensor> Op, Func<double, double, double> Ref, bool PositiveB = false)
    {
        public override string ToString() => Name;
    }

    private static readonly BinaryCase[] Binaries =
    [
        new("add", (a, b) => a.Add(b), (a, b) => a + b),
        new("sub", (a, b) => a.Sub(b), (a, b) => a - b),
        new("mul", (a, b) => a.Mul(b), (a, b) => a * b),
        new("div", (a, b) => a.Div(b), (a, b) => a / b, true),
        new("op+", (a, b) => a + b, (a, b) => a + b),
        new("op-", (a, b) => a - b, (a, b) => a - b),
        new("op*", (a, b) => a * b, (a, b) => a * b),
        new("op/", (a, b) => a / b, (a, b) => a / b, true),
        new("maximum", (a, b) => a.Maximum(b), Math.Max),
        new("minimum", (a, b) => a.Minimum(b), Math.Min),
        new("eq", (a, b) => a.Eq(b), (a, b) => a == b ? 1 : 0),
        new("ne", (a, b) => a.Ne(b), (a, b) => a != b ? 1 : 0),
        new("lt", (a, b) => a.Lt(b), (a, b) => a < b ? 1 : 0),
        new("le", (a, b) => a.Le(b), (a, b) => a <= b ? 1 : 0),
        new("gt", (a, b) => a.Gt(b), (a, b) => a > b ? 1 : 0),
        new("ge", (a, b) => a.Ge(b), (a, b) => a >= b ? 1 : 0),
    ];

    public static TheoryData<string> BinaryNames() => [.. Binaries.Select(u => u.Name)];

    /// <summary>Pairs of shapes covering equal shapes, scalars, rank extension, size-1 dims on either side, and empty dims.</summary>
    public static readonly (int[] a, int[] b)[] ShapePairs =
    [
        ([3, 4], [3, 4]), ([3, 4], []), ([], [3, 4]), ([3, 4], [4]), ([4], [3, 4]), ([3, 1], [1, 4]),
        ([2, 3, 4], [3, 1]), ([2, 1, 4], [1, 3, 1]), ([5, 1], [5, 6]), ([2, 3, 4], [2, 3, 4]), ([0, 4], [4]), ([3, 0], [3, 1]),
    ];

    [Theory]
    [MemberData(nameof(BinaryNames))]
    public void BinaryMatchesScalarReferenceWithBroadcastingInEveryLayout(string name)
    {
        var op = Binaries.Single(c => c.Name == name);
        foreach (var dtype in Ref.FloatTypes)
            foreach (var (sa, sb) in ShapePairs)
            {
                var va = Ref.Values(Ref.Count(sa), 3);
                var vb = Ref.Values(Ref.Count(sb), 4, op.PositiveB ? 0.5 : -2, 2);
                // Make some ties so eq/le/ge/maximum see equal elements.
                for (int i = 0; i < Math.Min(va.Length, vb.Length); i += 3) vb[i] = va[i];
                var ra = Ref.Make(va, sa, dtype).ToDoubleArray();
                var rb = Ref.Make(vb, sb, dtype).ToDoubleArray();
                var expected = Ref.Binary(ra, sa, rb, sb, op.Ref, out var shape);
                foreach (var (la, a) in Ref.Layouts(va, sa, dtype))
                    foreach (var (lb, b) in Ref.Layouts(vb, sb, dtype))
                    {
                        var y = op.Op(a, b);
                        Assert.Equal(shape, y.Shape);
                        Ref.Close(expected, y, Ref.Tol(dtype), $"{name} {dtype} {Shapes.Format(sa)}({la}) {Shapes.Format(sb)}({lb})");
                    }
            }
    }

    [Fact]
    public void BinaryOnExpandedOperandsMatchesReference()
    {
        // Stride-0 dims in the innermost position on one side, the other, and both.
        var a = Tensor.FromArray(new double[] { 1, 2, 3 }, [3, 1]).Expand(3, 4);
        var b = Tensor.FromArray(new double[] { 10, 20, 30, 40 }, [1, 4]).Expand(3, 4);
        var expected = new double[12];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++) expected[i * 4 + j] = (i + 1) * (j + 1) * 10;
        Ref.Close(expected, a.Mul(b), 0);
        Ref.Close(expected, b.Mul(a), 0);
        var s = Tensor.Scalar(2, DType.Float64).Expand(3, 4);
        Ref.Close([.. expected.Select(e => e + 2)], a.Mul(b).Add(s), 0);
        Ref.Close(Enumerable.Repeat(4.0, 12).ToArray(), s.Add(s), 0);
    }

    [Fact]
    public void LargeStridedBinaryUsesEveryRowCorrectly()
    {
        // Big enough to run in parallel chunks; transposed on both sides so the strided path is taken.
        int n = 300;
        var va = Ref.Values(n * n, 1); var vb = Ref.Values(n * n, 2);
        var a = Tensor.FromArray<double>(va, [n, n]).T;
        var b = Tensor.FromArray<double>(vb, [n, n]).T;
        var y = a.Sub(b).ToArray<double>();
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) Assert.Equal(va[j * n + i] - vb[j * n + i], y[i * n + j]);
    }

    [Fact]
    public void WhereAndMaskedFillBroadcastAllThreeOperands()
    {
        foreach (var dtype in Ref.FloatTypes)
        {
            var cond = Tensor.FromArray(new double[] { 1, 0, 1 }, [3, 1]).To(dtype);
            var a = Ref.Make([1, 2, 3, 4], [4], dtype);
            var b = Ref.Make([-1], [1, 1], dtype);
            var y = Tensor.Where(cond, a, b);
            Assert.Equal([3, 4], y.Shape);
            Ref.Close([1, 2, 3, 4, -1, -1, -1, -1, 1, 2, 3, 4], y, 0);
            var intCond = Tensor.FromArray(new[] { 0, 1, 0, 1 });
            Ref.Close([-1, 2, -1, 4], Tensor.Where(intCond, a, b.Reshape(1)), 0);
            var x = Ref.Make([1, 2, 3, 4, 5, 6], [2, 3], dtype);
            var m = Tensor.FromArray(new[] { 0, 1, 0 });
            Ref.Close([1, -9, 3, 4, -9, 6], x.MaskedFill(m, -9), 0);
            Ref.Close([1, -9, 3, 4, -9, 6], x.T.MaskedFill(m.Reshape(3, 1), -9).T, 0);
        }
    }

    [Fact]
    public void ComparisonMasksKeepTheInputDType()
    {
        var a = Tensor.FromArray(new float[] { 1, 2, 3 });
        var b = Tensor.FromArray(new float[] { 3, 2, 1 });
        var m = a.Lt(b);
        Assert.Equal(DType.Float32, m.DType);
        Assert.Equal(new float[] { 1, 0, 0 }, m.ToArray<float>());
        Assert.False(a.RequireGrad().Lt(b).RequiresGrad);
    }

    [Fact]
    public void EmptyTensorsFlowThroughEveryElementwiseOp()
    {
        foreach (var dtype in Ref.FloatTypes)
        {
            var e = Tensor.Zeros([0, 3], dtype);
            foreach (var u in Unaries)
            {
                var y = u.Op(e);
                Assert.Equal([0, 3], y.Shape);
                Assert.Empty(y.ToDoubleArray());
            }
            foreach (var b in Binaries)
            {
                Assert.Equal([0, 3], b.Op(e, Tensor.Ones([3], dtype)).Shape);
                Assert.Equal([2, 0, 3], b.Op(e, Tensor.Ones([2, 1, 3], dtype)).Shape);
            }
            Assert.Equal([0, 3], Tensor.Where(e, e, e).Shape);
        }
    }

    [Fact]
    public void ActivationsStayFiniteAndAccurateAtExtremes()
    {
        double[] xs = [-1e4, -1000, -100, -40, -20, 0, 20, 40, 100, 1000, 1e4];
        foreach (var dtype in Ref.FloatTypes)
        {
            var x = Ref.Make(xs, [xs.Length], dtype);
            var sp = x.Softplus().ToDoubleArray();
            var sg = x.Sigmoid().ToDoubleArray();
            var th = x.Tanh().ToDoubleArray();
            var ge = x.Gelu().ToDoubleArray();
            for (int i = 0; i < xs.Length; i++)
            {
                foreach (var (what, v) in new[] { ("softplus", sp[i]), ("sigmoid", sg[i]), ("tanh", th[i]), ("gelu", ge[i]) })
                    Assert.True(double.IsFinite(v), $"{what}({xs[i]}) = {v} in {dtype}");
                double spRef = Softplus(xs[i]);
                Assert.True(Math.Abs(sp[i] - spRef) <= 1e-6 * spRef + 1e-37, $"softplus({xs[i]}) = {sp[i]:G17}, expected {spRef:G17} in {dtype}");
                Assert.True(sp[i] >= 0, $"softplus({xs[i]}) = {sp[i]} is negative");
                Assert.InRange(sg[i], 0, 1);
                Assert.InRange(th[i], -1, 1);
                Assert.Equal(xs[i] > 0 ? xs[i] : 0, ge[i], Math.Abs(xs[i]) < 50 ? 1e-3 : 1e-6 * Math.Abs(xs[i]));
            }
            Assert.Equal(1e4, sp[^1], 1e-3);
            Assert.Equal(0, sp[0]);
            Assert.Equal(1, sg[^1]);
            Assert.Equal(0, sg[0]);
        }
        // Gradients at the extremes are finite too: σ(x) and softplus' σ(x).
        var g = Tensor.FromArray(xs).RequireGrad();
        g.Softplus().Sum().Backward();
        Assert.All(g.Grad!.ToDoubleArray(), v => Assert.True(double.IsFinite(v)));
        var t = Tensor.FromArray(xs).RequireGrad();
        t.Gelu().Add(t.Tanh()).Add(t.Sigmoid()).Sum().Backward();
        Assert.All(t.Grad!.ToDoubleArray(), v => Assert.True(double.IsFinite(v), $"gradient {v}"));
    }
}
