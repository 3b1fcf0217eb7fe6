namespace Engine.Cuda.Tests;

internal static class TestData
{
    /// <summary>Deterministic values in [lo, hi).</summary>
    public static double[] Values(int n, int seed, double lo = -2, double hi = 2)
    {
        var r = new Random(seed);
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * r.NextDouble();
        return v;
    }

    public static void Close(double[] expected, double[] actual, DType dtype, string what, double scale = 1)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {expected.Length} expected values, got {actual.Length}");
        double atol = (dtype == DType.Float64 ? 1e-12 : 2e-5) * scale, rtol = (dtype == DType.Float64 ? 1e-10 : 2e-5) * scale;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (double.IsInfinity(e) && e == a) continue;
            Assert.True(Math.Abs(e - a) <= atol + rtol * Math.Abs(e), $"{what}: element {i}: expected {e:R}, got {a:R}");
        }
    }
}
