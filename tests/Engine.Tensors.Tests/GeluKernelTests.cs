using Engine.Cpu;

namespace Engine.Tensors.Tests;

/// <summary>
/// The one-pass GELU kernel (<see cref="GeluKernel"/>): gelu and gelu' in float against the tanh formula in double,
/// the same bits for an element whether it falls in a full vector or in the padded tail, and the limits at the far
/// ends of float's range.
/// </summary>
public class GeluKernelTests
{
    private const double C = 0.7978845608028654, K = 0.044715;

    private static double Gelu(double x) => 0.5 * x * (1 + Math.Tanh(C * (x + K * x * x * x)));

    private static double GeluGrad(double x)
    {
        double t = Math.Tanh(C * (x + K * x * x * x));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * C * (1 + 3 * K * x * x);
    }

    private static float[] Run(float[] x, bool derivative)
    {
        var y = new float[x.Length];
        GeluKernel.Run<float>(x, y, derivative);
        return y;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FloatIsWithinRoundingOfTheDoubleFormula(bool derivative)
    {
        var x = Enumerable.Range(0, 200_001).Select(i => -12f + 24f * i / 200_000).ToArray();
        var y = Run(x, derivative);
        double worst = 0; float at = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double want = derivative ? GeluGrad(x[i]) : Gelu(x[i]);
            // Relative to the result, and to the size of the terms it is formed from (x·s, s): where gelu or gelu'
            // passes through zero the error is that of its terms, not of the small difference. Measured: below 2e-6
            // (gelu) and 5e-6 (gelu', at its zero near x = -0.75) on the Vector256 path.
            double scale = Math.Abs(want) + (derivative ? 1e-2 : 1e-3 * Math.Abs(x[i])) + 1e-37;
            double err = Math.Abs(y[i] - want) / scale;
            if (err > worst) { worst = err; at = x[i]; }
        }
        Assert.True(worst < 1e-5, $"worst relative error {worst:G3} at x = {at:R}");
    }

    [Fact]
    public void EveryLengthGivesTheSameBitsAsOneElementAtATime()
    {
        var rng = new Random(4);
        foreach (bool derivative in new[] { false, true })
            for (int n = 1; n <= 41; n++)
            {
                var x = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 16 - 8)).ToArray();
                var all = Run(x, derivative);
                for (int i = 0; i < n; i++)
                    Assert.Equal(Run([x[i]], derivative)[0], all[i]);
            }
    }

    [Fact]
    public void TheFarEndsGiveTheLimitsAndNaNStaysNaN()
    {
        float[] x = [float.NegativeInfinity, -3e38f, -1e20f, -1e4f, -11f, 11f, 1e4f, 1e20f, 3e38f, float.PositiveInfinity, 0f, float.NaN];
        var y = Run(x, false);
        var g = Run(x, true);
        for (int i = 0; i < x.Length - 2; i++)
        {
            Assert.Equal(x[i] > 0 ? x[i] : 0f, y[i]);
            Assert.Equal(x[i] > 0 ? 1f : 0f, g[i]);
        }
        Assert.Equal(0f, y[^2]);
        Assert.Equal(0.5f, g[^2]);
        Assert.True(float.IsNaN(y[^1]) && float.IsNaN(g[^1]));
    }

    [Fact]
    public void DoubleMatchesTheFormula()
    {
        var x = Enumerable.Range(0, 2001).Select(i => -12.0 + 24.0 * i / 2000).ToArray();
        var y = new double[x.Length]; var g = new double[x.Length];
        GeluKernel.Run<double>(x, y, derivative: false);
        GeluKernel.Run<double>(x, g, derivative: true);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(Gelu(x[i]), y[i], 1e-12 * (1 + Math.Abs(x[i])));
            Assert.Equal(GeluGrad(x[i]), g[i], 1e-12);
        }
    }

    [Fact]
    public void TheOnePassBackwardEqualsTheDerivativeTimesTheGradientBitForBit()
    {
        // Every length up to a few vectors (full vectors and the padded tail), with the far ends and NaN among them.
        var rng = new Random(9);
        float[] extremes = [float.NegativeInfinity, -3e38f, -11f, 0f, 11f, 3e38f, float.PositiveInfinity, float.NaN];
        for (int n = 1; n <= 41; n++)
        {
            var x = Enumerable.Range(0, n).Select(i => i % 7 == 3 ? extremes[i % extremes.Length] : (float)(rng.NextDouble() * 16 - 8)).ToArray();
            var g = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
            var d = Run(x, derivative: true);
            var y = new float[n];
            GeluKernel.Backward<float>(x, g, y);
            for (int i = 0; i < n; i++) Assert.Equal(BitConverter.SingleToInt32Bits(g[i] * d[i]), BitConverter.SingleToInt32Bits(y[i]));
        }
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void TheBackendsOnePassBackwardEqualsTheComposedOneForContiguousAndOtherViews(DType dtype)
    {
        // 70 000 elements: several parallel chunks. The transposed and broadcast gradients take the composed path.
        var rng = new Rng(3);
        var x = Tensor.RandN([350, 200], rng, dtype, 0, 3);
        var g = Tensor.RandN([350, 200], rng, dtype);
        var backend = (IBackend)Engine.Cpu.CpuBackend.Instance;
        foreach (var (xv, gv) in new[] { (x, g), (x.Narrow(0, 1, 349), g.Narrow(0, 0, 349)), (x.T, g.T), (x, Tensor.Ones([200], dtype).Expand(350, 200)) })
        {
            var fused = new Tensor(backend.GeluBackward(xv.Storage, xv.Layout, gv.Storage, gv.Layout), xv.Shape).ToDoubleArray();
            var composed = gv.Mul(xv.UnaryRaw(UnaryOp.GeluGrad, "gelu")).ToDoubleArray();
            Assert.Equal(composed, fused);
        }
    }
}
