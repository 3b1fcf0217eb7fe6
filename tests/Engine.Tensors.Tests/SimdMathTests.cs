using System.Numerics;
using System.Runtime.Intrinsics;
using Engine.Cpu;

namespace Engine.Tensors.Tests;

/// <summary>
/// The float exp and ln(1 + t) the attention row stages use (<see cref="SimdMath"/>): accuracy against double
/// precision over their whole domain, every vector width equal to the scalar version bit for bit (so results do not
/// depend on the machine's SIMD width), and the edges (clamping, NaN, zero).
/// </summary>
public class SimdMathTests
{
    /// <summary>Distance in units in the last place between two finite floats of the same sign.</summary>
    private static long Ulps(float a, float b) => Math.Abs((long)BitConverter.SingleToInt32Bits(a) - BitConverter.SingleToInt32Bits(b));

    private static float[] Sweep(float lo, float hi, int n) => Enumerable.Range(0, n).Select(i => Math.Min(hi, lo + (hi - lo) * i / (n - 1))).ToArray();

    /// <summary>ln(1 + t) in double, by its series where 1 + t would round t away.</summary>
    private static double Log1p(double t) => t < 1e-4 ? t - t * t / 2 + t * t * t / 3 : Math.Log(1 + t);

    [Fact]
    public void ExpIsWithinTwoUlpOfTheDoubleResultOverItsDomain()
    {
        long worst = 0;
        foreach (float x in Sweep(SimdMath.ExpMin, SimdMath.ExpMax, 1_000_003).Concat([0f, -0f, 1f, -1f, 1e-30f, -1e-30f, 0.34657359f, -0.34657359f]))
        {
            float got = SimdMath.ExpF(x), want = (float)Math.Exp(x);
            Assert.True(float.IsNormal(got), $"exp({x:R}) = {got:R} is not a normal float");
            worst = Math.Max(worst, Ulps(got, want));
        }
        Assert.True(worst <= 2, $"worst error {worst} ulp");
    }

    [Fact]
    public void ExpClampsItsArgumentAndPropagatesNaN()
    {
        Assert.Equal(SimdMath.ExpF(SimdMath.ExpMin), SimdMath.ExpF(float.NegativeInfinity));
        Assert.Equal(SimdMath.ExpF(SimdMath.ExpMin), SimdMath.ExpF(-1e30f));
        Assert.True(float.IsNormal(SimdMath.ExpF(float.NegativeInfinity)));
        Assert.True(float.IsFinite(SimdMath.ExpF(float.PositiveInfinity)) && SimdMath.ExpF(float.PositiveInfinity) > 1e38f);
        Assert.Equal(1f, SimdMath.ExpF(0f));
        Assert.True(float.IsNaN(SimdMath.ExpF(float.NaN)));
        Assert.True(float.IsNaN(SimdMath.ExpF(new Vector<float>(float.NaN))[0]));
        Assert.True(float.IsNaN(SimdMath.ExpF(Vector512.Create(float.NaN))[0]));
    }

    [Fact]
    public void Log1pIsWithinTwoUlpOfTheDoubleResultOnTheUnitInterval()
    {
        long worst = 0;
        var tiny = Enumerable.Range(0, 300).Select(i => MathF.Pow(2f, -126f + i * 0.42f));
        foreach (float t in Sweep(0f, 1f, 1_000_003).Concat(tiny))
        {
            float got = SimdMath.Log1pUnitF(t), want = (float)Log1p(t);
            worst = Math.Max(worst, Ulps(got, want));
        }
        Assert.True(worst <= 2, $"worst error {worst} ulp");
        Assert.Equal(0f, SimdMath.Log1pUnitF(0f));
        Assert.Equal(1e-30f, SimdMath.Log1pUnitF(1e-30f));   // no 1 + t formed: a tiny t is kept, not rounded away
    }

    /// <summary>Inputs across both domains, edges included; NaN is checked on its own above.</summary>
    private static float[] Inputs(float lo, float hi)
    {
        var rng = new Random(7);
        var xs = Enumerable.Range(0, 4093).Select(_ => lo + (hi - lo) * (float)rng.NextDouble()).ToList();
        xs.AddRange([lo, hi, 0f, -0f, float.NegativeInfinity, float.PositiveInfinity]);
        return xs.Where(x => x >= lo && x <= hi || float.IsInfinity(x) && lo < 0).ToArray();
    }

    [Fact]
    public void EveryVectorWidthEqualsTheScalarVersionBitForBit()
    {
        var xs = Inputs(-120f, 100f);
        var ts = Inputs(0f, 1f);
        for (int i = 0; i + Vector<float>.Count <= xs.Length; i += Vector<float>.Count)
        {
            var e = SimdMath.ExpF(new Vector<float>(xs, i));
            for (int l = 0; l < Vector<float>.Count; l++) Assert.Equal(SimdMath.ExpF(xs[i + l]), e[l]);
        }
        for (int i = 0; i + Vector<float>.Count <= ts.Length; i += Vector<float>.Count)
        {
            var g = SimdMath.Log1pUnitF(new Vector<float>(ts, i));
            for (int l = 0; l < Vector<float>.Count; l++) Assert.Equal(SimdMath.Log1pUnitF(ts[i + l]), g[l]);
        }
        if (!Vector512.IsHardwareAccelerated) return;   // the 512-bit kernels only run where the hardware has them
        for (int i = 0; i + 16 <= xs.Length; i += 16)
        {
            var e = SimdMath.ExpF(Vector512.Create(xs.AsSpan(i, 16)));
            for (int l = 0; l < 16; l++) Assert.Equal(SimdMath.ExpF(xs[i + l]), e[l]);
        }
        for (int i = 0; i + 16 <= ts.Length; i += 16)
        {
            var g = SimdMath.Log1pUnitF(Vector512.Create(ts.AsSpan(i, 16)));
            for (int l = 0; l < 16; l++) Assert.Equal(SimdMath.Log1pUnitF(ts[i + l]), g[l]);
        }
    }
}
