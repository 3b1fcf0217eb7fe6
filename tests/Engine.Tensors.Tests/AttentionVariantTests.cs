using Engine.Autograd;

namespace Engine.Tests;

/// <summary>
/// What the literature baselines and position options of the attention family mean, beyond agreeing with the
/// reference: SSMax's head scale and its gradient, the sliding window's locality, ALiBi's slopes and bias, and the
/// sigmoid's stability.
/// </summary>
public class AttentionVariantTests
{
    [Fact]
    [CoversNode(typeof(CausalAttentionNode))]
    public void SsMaxHeadScaleGetsItsGradient()
    {
        var (q, k, v) = AttentionTests.Inputs(2, 3, 6, 2, 4, 17);
        var scale = Tensor.FromArray<double>([0.7, 1.3, 2.1], [3]);
        foreach (var spec in new[] { AttentionSpec.SsMax, AttentionSpec.SsMax with { Reweight = true } })
        {
            GradCheck.Check(x => Tensor.CausalAttention(x[0], x[1], x[2], spec, 2, x[3]),
                [q.Clone().RequireGrad(), k.Clone().RequireGrad(), v.Clone().RequireGrad(), scale.Clone().RequireGrad()], eps: 1e-6, atol: 1e-6, rtol: 1e-4);
            var fused = Tensor.CausalAttention(q, k, v, spec, 2, scale).ToDoubleArray();
            var reference = AttentionReference.Compute(q, k, v, spec, 2, scale).ToDoubleArray();
            for (int i = 0; i < fused.Length; i++) Assert.Equal(reference[i], fused[i], 10);
        }
    }

    [Fact]
    public void SsMaxIsSoftmaxWithTheScoresScaledByLogN()
    {
        // s_h·log(n_i)·q·k/√d: with s_h = 1/log(n) for one row of n keys, SSMax equals Softmax on that row.
        var (q, k, _) = AttentionTests.Inputs(1, 1, 1, 9, 4, 3);
        var w = Tensor.CausalAttentionWeights(q, k, AttentionSpec.SsMax, 9, Tensor.FromArray<double>([1 / Math.Log(10)], [1])).ToDoubleArray();
        var softmax = Tensor.CausalAttentionWeights(q, k, AttentionSpec.Softmax, 9).ToDoubleArray();
        for (int j = 0; j < 10; j++) Assert.Equal(softmax[j], w[j], 12);
    }

    [Fact]
    public void HeadScaleOfTheWrongShapeIsAClearError()
    {
        var (q, k, v) = AttentionTests.Inputs(1, 2, 3, 0, 4, 1);
        var e = Assert.Throws<ArgumentException>(() => Tensor.CausalAttention(q, k, v, AttentionSpec.SsMax, 0, Tensor.Ones([3], DType.Float64)));
        Assert.Contains("[heads] = [2]", e.Message);
        Assert.Contains("[3]", e.Message);
    }

    [Theory]
    [InlineData("softmax-w4")]
    [InlineData("lssar-w4")]
    [InlineData("sigmoid-l1-r-w4")]
    public void SlidingWindowRowsIgnoreKeysBeforeTheirWindow(string variant)
    {
        var spec = AttentionSpec.Parse(variant);
        var (q, k, v) = AttentionTests.Inputs(1, 2, 12, 0, 4, 9);
        var w = Tensor.CausalAttentionWeights(q, k, spec).ToDoubleArray();
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < 12; i++)
                for (int j = 0; j < 12; j++)
                {
                    double x = w[(h * 12 + i) * 12 + j];
                    if (j > i || j <= i - 4) Assert.Equal(0.0, x);
                    else Assert.True(x >= 0);
                }
        // Changing key and value 0 changes rows 0..3 only.
        var y = Tensor.CausalAttention(q, k, v, spec).ToDoubleArray();
        var k2 = k.ToDoubleArray(); var v2 = v.ToDoubleArray();
        for (int t = 0; t < 4; t++) { k2[t] += 1; v2[t] -= 2; k2[12 * 4 + t] += 1; v2[12 * 4 + t] -= 2; }
        var y2 = Tensor.CausalAttention(q, Tensor.FromArray<double>(k2, k.Shape), Tensor.FromArray<double>(v2, v.Shape), spec).ToDoubleArray();
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < 12; i++)
            {
                double diff = 0;
                for (int t = 0; t < 4; t++) diff += Math.Abs(y[(h * 12 + i) * 4 + t] - y2[(h * 12 + i) * 4 + t]);
                if (i >= 4) Assert.Equal(0.0, diff);
                else Assert.True(diff > 1e-6, $"row {i} should see key 0");
            }
    }

    [Fact]
    public void WindowWiderThanTheRowIsFullCausalAttention()
    {
        var (q, k, v) = AttentionTests.Inputs(1, 2, 6, 3, 4, 21);
        Assert.Equal(Tensor.CausalAttention(q, k, v, AttentionSpec.Lssar, 3).ToDoubleArray(),
            Tensor.CausalAttention(q, k, v, AttentionSpec.Lssar with { Window = 9 }, 3).ToDoubleArray());
    }

    [Theory]
    [InlineData(8, new[] { 1 / 2.0, 1 / 4.0, 1 / 8.0, 1 / 16.0, 1 / 32.0, 1 / 64.0, 1 / 128.0, 1 / 256.0 })]
    [InlineData(4, new[] { 1 / 4.0, 1 / 16.0, 1 / 64.0, 1 / 256.0 })]
    // Six heads: the four slopes of 4 heads, then every other slope of 8 heads (2^−1, 2^−3), as in Press et al.
    [InlineData(6, new[] { 1 / 4.0, 1 / 16.0, 1 / 64.0, 1 / 256.0, 1 / 2.0, 1 / 8.0 })]
    [InlineData(1, new[] { 1 / 256.0 })]
    public void AlibiSlopesFollowPressEtAl(int heads, double[] expected)
    {
        var family = (AttentionSpec.Softmax with { Alibi = true }).Family(8);
        for (int h = 0; h < heads; h++) Assert.Equal(expected[h], family.AlibiSlope(h, heads), 15);
        Assert.Equal(0, AttentionSpec.Softmax.Family(8).AlibiSlope(0, heads));
    }

    [Fact]
    public void AlibiWithZeroQueriesIsSoftmaxOfMinusSlopeTimesDistance()
    {
        // q = 0: every score is the bias alone, so w_ij ∝ e^(−m_h (i − j)).
        var q = Tensor.Zeros([1, 2, 1, 4], DType.Float64);
        var (_, k, _) = AttentionTests.Inputs(1, 2, 1, 5, 4, 2);
        var w = Tensor.CausalAttentionWeights(q, k, AttentionSpec.Softmax with { Alibi = true }, 5).ToDoubleArray();
        for (int h = 0; h < 2; h++)
        {
            double m = h == 0 ? 1 / 16.0 : 1 / 256.0, z = 0;
            for (int j = 0; j < 6; j++) z += Math.Exp(-m * (5 - j));
            for (int j = 0; j < 6; j++) Assert.Equal(Math.Exp(-m * (5 - j)) / z, w[h * 6 + j], 12);
        }
    }

    [Fact]
    public void SigmoidRowsWhoseScoresAreAllNegativeMatchFloat64InFloat32()
    {
        // Keys anti-parallel to the query (cosine ≈ −1) at n = 4096: every score is about −log(d)·log(n) ≈ −29, so
        // the row takes the shifted path; float32 must agree with float64 and every row must sum to 1.
        const int d = 16, n = 4096, tq = 2, off = n - tq;
        var rng = new Rng(8);
        var dir = Tensor.RandN([1, 1, 1, d], rng, DType.Float64);
        var q = dir.Expand(1, 1, tq, d).Add(Tensor.RandN([1, 1, tq, d], rng, DType.Float64, 0, 0.01)).Contiguous();
        var k = dir.Expand(1, 1, n, d).MulScalar(-1).Add(Tensor.RandN([1, 1, n, d], rng, DType.Float64, 0, 0.3)).Contiguous();
        foreach (var spec in new[] { AttentionSpec.SigmoidL1, AttentionSpec.SigmoidL1 with { Reweight = true } })
        {
            var w64 = Tensor.CausalAttentionWeights(q, k, spec, off).ToDoubleArray();
            var w32 = Tensor.CausalAttentionWeights(q.To(DType.Float32), k.To(DType.Float32), spec, off).ToDoubleArray();
            var reference = AttentionReference.Weights(q, k, spec, off).ToDoubleArray();
            for (int i = 0; i < w64.Length; i++)
            {
                Assert.True(Math.Abs(reference[i] - w64[i]) <= 1e-9 * Math.Abs(reference[i]) + 1e-15, $"{spec.Label} [{i}]: reference {reference[i]:G17}, fused {w64[i]:G17}");
                // float32 scores carry ~1e-7 relative error; the re-weighting's 15th power multiplies it by 15
                double tol = spec.Reweight ? 1e-3 : 1e-4;
                Assert.True(Math.Abs(w32[i] - w64[i]) <= tol * Math.Abs(w64[i]) + 1e-9, $"{spec.Label} [{i}]: float32 {w32[i]:G9}, float64 {w64[i]:G9}");
            }
            for (int r = 0; r < tq; r++) Assert.Equal(1.0, w32.AsSpan(r * n, n).ToArray().Sum(), 4);
        }
    }

    [Fact]
    public void TheFirstRowOffsetRuleChangesOnlyRowsWithAtMostThreeKeys()
    {
        var (q, k, _) = AttentionTests.Inputs(1, 2, 8, 0, 4, 31);
        var warm = Tensor.CausalAttentionWeights(q, k, AttentionSpec.Lssar).ToDoubleArray();
        var cold = Tensor.CausalAttentionWeights(q, k, AttentionSpec.Lssar with { WarmRowOffset = false }).ToDoubleArray();
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < 8; i++)
            {
                double diff = 0;
                for (int j = 0; j < 8; j++) diff += Math.Abs(warm[(h * 8 + i) * 8 + j] - cold[(h * 8 + i) * 8 + j]);
                if (i >= 3) Assert.Equal(0.0, diff);
                if (i is 1 or 2) Assert.True(diff > 0, $"head {h} row {i}: the offset 1 must cut the weights below 1/n");
            }
        Assert.Throws<FormatException>(() => AttentionSpec.Parse("lssa-nowarm"));
    }
}
