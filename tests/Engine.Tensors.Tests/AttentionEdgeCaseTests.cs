namespace Engine.Tests;

/// <summary>Float32 extremes, the degenerate re-weighting row, and bad inputs of the fused causal attention.</summary>
public class AttentionEdgeCaseTests
{
    // One scan, and a message only for the first offending element: the gradients checked here have a million
    // elements, and formatting a message per element cost seconds.
    private static void AssertFinite(Tensor t, string what)
    {
        var values = t.ToDoubleArray();
        int bad = Array.FindIndex(values, x => !double.IsFinite(x));
        if (bad >= 0) Assert.Fail($"{what}: non-finite value {values[bad]} at flat index {bad} of {values.Length}");
    }

    /// <summary>
    /// The row maximum the Softmax stage shifts by (overlapping vector windows): every length across the widths' edges,
    /// with the largest score at every position, for rows of mixed and of all-negative scores.
    /// </summary>
    [Fact]
    public void TheRowMaximumFindsTheLargestScoreAtEveryPositionAndLength()
    {
        var rng = new Random(5);
        for (int n = 1; n <= 70; n++)
            for (int at = 0; at < n; at++)
                foreach (double top in new[] { 100.0, -0.5 })
                {
                    var row = Enumerable.Range(0, n).Select(_ => top > 0 ? rng.NextDouble() * 10 - 5 : -1 - rng.NextDouble() * 10).ToArray();
                    row[at] = top;
                    Assert.Equal((float)top, Engine.Cpu.AttentionKernel<float>.RowMax(row.Select(x => (float)x).ToArray()));
                    Assert.Equal(top, Engine.Cpu.AttentionKernel<double>.RowMax(row));
                }
        Assert.Equal(float.NegativeInfinity, Engine.Cpu.AttentionKernel<float>.RowMax([]));
    }

    /// <summary>
    /// A NaN in a key reaches every query row that sees it as NaN, never as a finite weight: the row maps' native
    /// maximum must not swallow it. Rows before the bad key stay finite.
    /// </summary>
    [Theory]
    [InlineData("softmax", 17)]
    [InlineData("lssar", 17)]
    [InlineData("sigmoid-l1-r", 17)]
    [InlineData("softmax", 40)]
    [InlineData("lssar", 40)]
    public void ANaNKeyMakesTheRowsThatSeeItNaN(string variant, int t)
    {
        var spec = AttentionSpec.Parse(variant);
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var (q, k, v) = AttentionTests.Inputs(1, 1, t, 0, 8, 3, dtype);
            var kd = k.ToDoubleArray();
            int bad = t - 3;
            kd[bad * 8 + 2] = double.NaN;
            var kNan = Tensor.FromArray<double>(kd, k.Shape).To(dtype);
            var y = Tensor.CausalAttention(q, kNan, v, spec).ToDoubleArray();
            for (int i = 0; i < t; i++)
                for (int c = 0; c < 8; c++)
                {
                    double x = y[i * 8 + c];
                    if (i < bad) Assert.True(double.IsFinite(x), $"{variant} {dtype} row {i} (before the NaN key): {x}");
                    else Assert.True(double.IsNaN(x), $"{variant} {dtype} row {i} (sees the NaN key): {x}");
                }
        }
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(-1.0)]
    public void CosineOfPlusOrMinusOneAtLength16384StaysFiniteInFloat32(double sign)
    {
        // Every key parallel (or anti-parallel) to the query: cosine ±1, c = ±log(d)·log(n) at n = 16384.
        const int d = 32, n = 16384, tq = 4, off = n - tq;
        var rng = new Rng(5);
        var dir = Tensor.RandN([1, 1, 1, d], rng, DType.Float32);
        var q = dir.Expand(1, 2, tq, d).MulScalar(3).Contiguous().RequireGrad();
        var k = dir.Expand(1, 2, n, d).MulScalar(sign * 0.5).Contiguous();
        // A few keys far from the rest so the re-weighting has something to cut.
        var kd = k.ToArray<float>();
        var noise = Tensor.RandN([1, 2, n, d], rng, DType.Float32).ToArray<float>();
        for (int j = 0; j < n; j += 97) for (int t = 0; t < d; t++) kd[j * d + t] = noise[j * d + t];
        var kk = Tensor.FromArray<float>(kd, [1, 2, n, d]).RequireGrad();
        var v = Tensor.RandN([1, 2, n, d], rng, DType.Float32).RequireGrad();
        foreach (var spec in new[] { AttentionSpec.Lssa, AttentionSpec.Lssar, AttentionSpec.SoftmaxReweighted, new AttentionSpec(AttentionKind.Lssa, true, 3) })
        {
            var y = Tensor.CausalAttention(q, kk, v, spec, off);
            AssertFinite(y, spec.Label + " output");
            y.Sum().Backward();
            AssertFinite(q.Grad!, spec.Label + " dq");
            AssertFinite(kk.Grad!, spec.Label + " dk");
            AssertFinite(v.Grad!, spec.Label + " dv");
            var w = Tensor.CausalAttentionWeights(q, kk, spec, off).Sum(-1).ToDoubleArray();
            Assert.All(w, s => Assert.Equal(1.0, s, 4));
            q.ZeroGrad(); kk.ZeroGrad(); v.ZeroGrad();
        }
    }

    [Theory]
    [InlineData("softmax")]
    [InlineData("lssa")]
    [InlineData("lssar")]
    public void NearUniformRowsOfSixteenThousandKeysSumToOneInFloat32OnEveryVectorWidth(string variant)
    {
        // Near-uniform weights of ~1/n over rows of 16 379 and 16 380 keys (not multiples of any vector width, so the
        // last partial vector counts): the row sums the kernel divides by are taken inside the row maps, and must hold
        // every term once and to float32 accuracy on every path (CI runs this with AVX-512, AVX and all intrinsics off).
        // The forward, which scales each output row by the row's 1/Σ instead of normalising the weights, must match
        // the weights it reports times v.
        const int d = 16, n = 16380, tq = 2, off = n - tq;
        var spec = AttentionSpec.Parse(variant);
        var rng = new Rng(31);
        var q = Tensor.RandN([1, 1, tq, d], rng, DType.Float32).MulScalar(0.05);
        var k = Tensor.RandN([1, 1, n, d], rng, DType.Float32);
        var v = Tensor.RandN([1, 1, n, d], rng, DType.Float32);
        var w = Tensor.CausalAttentionWeights(q, k, spec, off).ToArray<float>();
        var y = Tensor.CausalAttention(q, k, v, spec, off).ToArray<float>();
        var vs = v.ToArray<float>();
        for (int i = 0; i < tq; i++)
        {
            double sum = 0;
            for (int j = 0; j < n; j++) sum += w[i * n + j];
            Assert.True(Math.Abs(sum - 1) <= 2e-6, $"{variant} row {i}: weights sum to {sum:G9}");
            for (int c = 0; c < d; c++)
            {
                double expected = 0;
                for (int j = 0; j < n; j++) expected += (double)w[i * n + j] * vs[j * d + c];
                Assert.True(Math.Abs(y[i * d + c] - expected) <= 1e-5, $"{variant} row {i} column {c}: output {y[i * d + c]:G9}, weights times v {expected:G9}");
            }
        }
    }

    [Theory]
    [InlineData("softmax", 1e3)]
    [InlineData("softmax-r", 1e3)]
    [InlineData("softplus-l1", 1e3)]
    [InlineData("softplus-l1-r", 1e3)]
    [InlineData("softplus-l1", -1e3)]
    [InlineData("softplus-l1-r", -1e3)]
    [InlineData("lssar", 1e15)]
    [InlineData("lssar", 1e-30)]
    [InlineData("softmax", 1e-30)]
    [InlineData("softplus-l1-r", 1e-30)]
    [InlineData("sigmoid-l1", 1e15)]
    [InlineData("sigmoid-l1-r", 1e-30)]
    [InlineData("ssmax", 1e3)]
    [InlineData("ssmax-r", -1e3)]
    [InlineData("softmax-w5-alibi", 1e3)]
    public void VeryLargeAndVerySmallScoresStayFiniteInFloat32(string variant, double scale)
    {
        // scale 1e3: |scores| ~ 1e6/√d (large positive and negative in one row; with −1e3 queries flip sign).
        // 1e-30: scores and norms underflow.
        var spec = AttentionSpec.Parse(variant);
        var (q0, k0, v0) = AttentionTests.Inputs(2, 2, 13, 0, 8, 17, DType.Float32);
        var q = q0.MulScalar(scale).RequireGrad();
        var k = k0.MulScalar(Math.Abs(scale)).RequireGrad();
        var v = v0.RequireGrad();
        var y = Tensor.CausalAttention(q, k, v, spec);
        AssertFinite(y, "output");
        y.Square().Sum().Backward();
        AssertFinite(q.Grad!, "dq"); AssertFinite(k.Grad!, "dk"); AssertFinite(v.Grad!, "dv");
        Assert.All(Tensor.CausalAttentionWeights(q, k, spec).Sum(-1).ToDoubleArray(), s => Assert.Equal(1.0, s, 4));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(16)]
    public void DegenerateRowKeepsFirstStageWeights(int n)
    {
        // All n keys equal, Softmax first stage: every score is the same, e^(s − max) = 1 exactly, so a_j = 1/n exactly
        // (n a power of two), n·a_j − 1 = 0, every r_j = ReLU(0)^p = 0, and the rule keeps the first-stage weights.
        // One query at position n − 1 (o = 1).
        var spec = AttentionSpec.SoftmaxReweighted;
        var rng = new Rng((ulong)n);
        var q = Tensor.RandN([1, 2, 1, 4], rng, DType.Float64);
        var k = Tensor.RandN([1, 2, 1, 4], rng, DType.Float64).Expand(1, 2, n, 4).Contiguous();
        var v = Tensor.RandN([1, 2, n, 4], rng, DType.Float64);
        var w = Tensor.CausalAttentionWeights(q, k, spec, n - 1).ToDoubleArray();
        var wr = AttentionReference.Weights(q, k, spec, n - 1).ToDoubleArray();
        for (int j = 0; j < w.Length; j++)
        {
            Assert.Equal(1.0 / n, w[j]);
            Assert.Equal(1.0 / n, wr[j]);
        }
        var y = Tensor.CausalAttention(q, k, v, spec, n - 1);
        var mean = v.Mean(2, keepDim: true).ToDoubleArray();
        Assert.All(y.ToDoubleArray().Zip(mean), p => Assert.Equal(p.Second, p.First, 14));
        // Gradients at the degenerate row follow the fallback (those of plain Softmax) in both implementations.
        var ins = new[] { q.Clone().RequireGrad(), k.Clone().RequireGrad(), v.Clone().RequireGrad() };
        var refs = new[] { q.Clone().RequireGrad(), k.Clone().RequireGrad(), v.Clone().RequireGrad() };
        var plain = new[] { q.Clone().RequireGrad(), k.Clone().RequireGrad(), v.Clone().RequireGrad() };
        var g = Tensor.RandN([1, 2, 1, 4], 4, DType.Float64);
        Tensor.CausalAttention(ins[0], ins[1], ins[2], spec, n - 1).Mul(g).Sum().Backward();
        AttentionReference.Compute(refs[0], refs[1], refs[2], spec, n - 1).Mul(g).Sum().Backward();
        Tensor.CausalAttention(plain[0], plain[1], plain[2], AttentionSpec.Softmax, n - 1).Mul(g).Sum().Backward();
        for (int i = 0; i < 3; i++)
        {
            var e = refs[i].Grad!.ToDoubleArray(); var f = ins[i].Grad!.ToDoubleArray(); var l = plain[i].Grad!.ToDoubleArray();
            for (int t = 0; t < e.Length; t++)
            {
                Assert.True(Math.Abs(e[t] - f[t]) < 1e-12, $"input {i} element {t}: reference {e[t]} vs fused {f[t]}");
                Assert.Equal(l[t], f[t]);
            }
        }
    }

    [Theory]
    [InlineData(DType.Float64, 37)]
    [InlineData(DType.Float64, 1000)]
    [InlineData(DType.Float32, 37)]
    [InlineData(DType.Float32, 1000)]
    public void IdenticalKeysTakeTheDegenerateRowRuleWhateverTheLastUlp(DType dtype, int n)
    {
        // Identical keys: every score of the row is equal, so the first stage is uniform in exact arithmetic, and
        // n·a − 1 is a rounding error of either sign. The row must take the fallback (the first stage's weights and
        // gradients, as plain LSSA) instead of dividing by a max x of 1e-16, which gave gradients near 1e12.
        var rng = new Rng((ulong)n + 7);
        var q = Tensor.RandN([1, 2, 1, 8], rng, DType.Float64).To(dtype);
        var k = Tensor.RandN([1, 2, 1, 8], rng, DType.Float64).Expand(1, 2, n, 8).Contiguous().To(dtype);
        var v = Tensor.RandN([1, 2, n, 8], rng, DType.Float64).To(dtype);
        var g = Tensor.RandN([1, 2, 1, 8], 5, DType.Float64).To(dtype);
        Tensor[] Grads(AttentionSpec spec, bool reference)
        {
            var ins = new[] { q.Clone().RequireGrad(), k.Clone().RequireGrad(), v.Clone().RequireGrad() };
            var y = reference ? AttentionReference.Compute(ins[0], ins[1], ins[2], spec, n - 1) : Tensor.CausalAttention(ins[0], ins[1], ins[2], spec, n - 1);
            y.Mul(g).Sum().Backward();
            return [ins[0].Grad!, ins[1].Grad!, ins[2].Grad!];
        }
        var fused = Grads(AttentionSpec.Lssar, false);
        var plain = Grads(AttentionSpec.Lssa, false);
        var reference = dtype == DType.Float64 ? Grads(AttentionSpec.Lssar, true) : null;
        double tol = dtype == DType.Float64 ? 1e-12 : 1e-5;
        for (int i = 0; i < 3; i++)
        {
            var f = fused[i].ToDoubleArray(); var l = plain[i].ToDoubleArray();
            for (int t = 0; t < f.Length; t++)
            {
                Assert.True(Math.Abs(f[t]) < 10, $"input {i} element {t}: gradient {f[t]:G6} is not of order one");
                Assert.Equal(l[t], f[t]);
                if (reference is not null) Assert.True(Math.Abs(reference[i].ToDoubleArray()[t] - f[t]) <= tol, $"input {i} element {t}: reference {reference[i].ToDoubleArray()[t]} vs fused {f[t]}");
            }
        }
        var w = Tensor.CausalAttentionWeights(q, k, AttentionSpec.Lssar, n - 1).ToDoubleArray();
        Assert.All(w, x => Assert.Equal(1.0 / n, x, dtype == DType.Float64 ? 14 : 6));
    }

    [Fact]
    public void ReweightingSharpensAboveUniformAndCutsBelow()
    {
        // One row of LSSA weights: keys above the uniform level 1/n gain weight, those below it get exactly zero.
        var (q, k, _) = AttentionTests.Inputs(1, 1, 1, 15, 8, 33);
        var a = Tensor.CausalAttentionWeights(q, k, AttentionSpec.Lssa, 15).ToDoubleArray();
        var w = Tensor.CausalAttentionWeights(q, k, AttentionSpec.Lssar, 15).ToDoubleArray();
        int best = Array.IndexOf(a, a.Max());
        Assert.True(w[best] > a[best]);
        for (int j = 0; j < 16; j++) if (a[j] <= 1.0 / 16) Assert.Equal(0.0, w[j]);
    }

    [Fact]
    public void BadInputsGiveClearErrors()
    {
        var (q, k, v) = AttentionTests.Inputs(1, 2, 4, 0, 8, 1, DType.Float32);
        var e1 = Assert.Throws<ArgumentException>(() => Tensor.CausalAttention(q, k, v, AttentionSpec.Lssa, 1));
        Assert.Contains("causal_attention", e1.Message);
        Assert.Contains("offset 1", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => Tensor.CausalAttention(q, k.Narrow(3, 0, 4), v, AttentionSpec.Softmax));
        Assert.Contains("do not agree", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => Tensor.CausalAttention(q, k, v, new AttentionSpec(AttentionKind.Lssa, true, 0.5)));
        Assert.Contains("power", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => Tensor.CausalAttention(q, k, v.To(DType.Float64), AttentionSpec.Softmax));
        Assert.Contains("dtype", e4.Message);
        var e5 = Assert.Throws<ArgumentException>(() => Tensor.CausalAttention(q, k, v, new AttentionSpec(AttentionKind.Lssa, ScaleDim: 1)));
        Assert.Contains("log(d)", e5.Message);
        Assert.Throws<ArgumentException>(() => Tensor.CausalAttention(q.Reshape(2, 4, 8), k, v, AttentionSpec.Softmax));
        Assert.Throws<FormatException>(() => AttentionSpec.Parse("cosine"));
        Assert.Throws<FormatException>(() => AttentionSpec.Parse("lssa-p3"));
    }

    [Fact]
    public void LabelsRoundTrip()
    {
        foreach (var s in new[] { "softmax", "softmax-r", "lssa", "lssar", "lssar-p3", "softplus-l1", "softplus-l1-r", "ssmax", "ssmax-r-p3",
                     "sigmoid-l1", "sigmoid-l1-r", "softmax-w64", "lssar-p3-w16-alibi", "softmax-alibi", "lssar-nowarm", "lssar-p3-w8-nowarm-alibi" })
            Assert.Equal(s, AttentionSpec.Parse(s).Label);
        Assert.Equal(AttentionSpec.Lssar, AttentionSpec.Lssa.WithReweight(true));
    }

    [Fact]
    public void NonContiguousInputsMatchContiguous()
    {
        // q, k, v as they come out of a [B, T, H, D] projection: transposed views.
        var rng = new Rng(77);
        var x = Tensor.RandN([2, 9, 3, 3, 4], rng, DType.Float64);   // [B, T, {q,k,v}, H, D]
        Tensor Part(int i) => x.Select(2, i).Transpose(1, 2);        // [B, H, T, D] views
        foreach (var spec in new[] { AttentionSpec.Softmax, AttentionSpec.Lssar })
        {
            var y1 = Tensor.CausalAttention(Part(0), Part(1), Part(2), spec);
            var y2 = Tensor.CausalAttention(Part(0).Contiguous(), Part(1).Contiguous(), Part(2).Contiguous(), spec);
            Assert.Equal(y2.ToDoubleArray(), y1.ToDoubleArray());
        }
    }
}
