using Engine.Autograd;

namespace Engine.Tests;

/// <summary>
/// The causal attention family (Softmax, LSSA, LSSAR and the ablations; Gao &amp; Spratling, arXiv 2501.13428):
/// fused kernel (Tensor.CausalAttention, CausalAttentionNode) against the composed AttentionReference and against
/// finite differences.
/// </summary>
public class AttentionTests
{
    public static readonly TheoryData<string> Variants = new()
    {
        "softmax", "softmax-r", "lssa", "lssar", "lssar-p3", "lssar-p2.5", "softplus-l1", "softplus-l1-r",
        "ssmax", "ssmax-r", "sigmoid-l1", "sigmoid-l1-r", "softmax-w3", "lssar-w4", "softmax-alibi", "lssar-alibi", "ssmax-w5-alibi", "lssar-nowarm", "softmax-r-w3-nowarm",
    };

    internal static (Tensor q, Tensor k, Tensor v) Inputs(int b, int h, int tq, int offset, int d, ulong seed, DType dtype = DType.Float64, double scale = 1)
    {
        var rng = new Rng(seed);
        var q = Tensor.RandN([b, h, tq, d], rng, dtype, 0, scale);
        var k = Tensor.RandN([b, h, offset + tq, d], rng, dtype, 0, scale);
        var v = Tensor.RandN([b, h, offset + tq, d], rng, dtype);
        return (q, k, v);
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tol, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ToDoubleArray();
        var a = actual.ToDoubleArray();
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= tol * (1 + Math.Abs(e[i])), $"{what}: element {i}: expected {e[i]:G17}, got {a[i]:G17}");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void FusedMatchesReferenceValuesAndGradients(string variant)
    {
        var spec = AttentionSpec.Parse(variant);
        // (B, H, Tq, offset, D): rows 1–3, a ragged last block, a cache offset, an odd head size, longer rows, and head
        // size 32 with offsets that put a backward block's first row inside a group of eight keys (the 512-bit
        // transposed products' partial groups) and a second backward block.
        foreach (var (b, h, tq, off, d) in new[] { (1, 1, 3, 0, 4), (2, 3, 7, 0, 5), (1, 2, 6, 5, 8), (1, 1, 37, 0, 16), (2, 1, 9, 40, 3), (1, 1, 30, 5, 32), (1, 1, 70, 3, 32) })
        {
            var (q0, k0, v0) = Inputs(b, h, tq, off, d, (ulong)(tq * 31 + off + d));
            var fusedIn = new[] { q0.Clone().RequireGrad(), k0.Clone().RequireGrad(), v0.Clone().RequireGrad() };
            var refIn = new[] { q0.Clone().RequireGrad(), k0.Clone().RequireGrad(), v0.Clone().RequireGrad() };
            var yf = Tensor.CausalAttention(fusedIn[0], fusedIn[1], fusedIn[2], spec, off);
            var yr = AttentionReference.Compute(refIn[0], refIn[1], refIn[2], spec, off);
            string at = $"{variant} B{b} H{h} Tq{tq} off{off} D{d}";
            AssertClose(yr, yf, 1e-10, at + " output");
            var w = Tensor.RandN(yf.Shape, 99, DType.Float64);
            yf.Mul(w).Sum().Backward();
            yr.Mul(w).Sum().Backward();
            string[] names = ["dq", "dk", "dv"];
            for (int i = 0; i < 3; i++) AssertClose(refIn[i].Grad!, fusedIn[i].Grad!, 1e-8, $"{at} {names[i]}");
        }
    }

    /// <summary>
    /// The float32 kernel (its own exp and ln(1 + t), rows processed in full vectors plus a masked or padded last
    /// one) agrees with the float64 kernel, which matches the reference above: outputs and gradients, for rows of
    /// every length from 1 to 41 keys, so every remainder modulo the vector widths is exercised.
    /// </summary>
    [Theory]
    [MemberData(nameof(Variants))]
    public void Float32MatchesFloat64AtEveryRowLength(string variant)
    {
        var spec = AttentionSpec.Parse(variant);
        var (q0, k0, v0) = Inputs(2, 2, 41, 0, 8, 4242);
        var w = Tensor.RandN(q0.Shape, 7, DType.Float64);
        Tensor[] Run(DType dtype)
        {
            var inputs = new[] { q0.To(dtype).Clone().RequireGrad(), k0.To(dtype).Clone().RequireGrad(), v0.To(dtype).Clone().RequireGrad() };
            var y = Tensor.CausalAttention(inputs[0], inputs[1], inputs[2], spec);
            y.Mul(w.To(dtype)).Sum().Backward();
            return [y, inputs[0].Grad!, inputs[1].Grad!, inputs[2].Grad!];
        }
        var r64 = Run(DType.Float64);
        var r32 = Run(DType.Float32);
        // float32 rounding (~1e-7 per score) grows through the row sums and, for the re-weighted members, the p-th power.
        double tol = spec.Reweight ? 2e-3 : 2e-4;
        string[] names = ["output", "dq", "dk", "dv"];
        for (int i = 0; i < 4; i++)
        {
            var a = r32[i].ToDoubleArray();
            Assert.All(a, x => Assert.True(double.IsFinite(x), $"{variant} {names[i]}: {x}"));
            AssertClose(r64[i], r32[i], tol, $"{variant} float32 {names[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void FusedWeightsMatchReferenceWeights(string variant)
    {
        var spec = AttentionSpec.Parse(variant);
        var (q, k, _) = Inputs(2, 2, 11, 3, 6, 5);
        var wf = Tensor.CausalAttentionWeights(q, k, spec, 3);
        AssertClose(AttentionReference.Weights(q, k, spec, 3), wf, 1e-10, variant);
        var rows = wf.Sum(-1).ToDoubleArray();
        Assert.All(rows, s => Assert.Equal(1.0, s, 12));
    }

    [Theory]
    [MemberData(nameof(Variants))]
    [CoversNode(typeof(CausalAttentionNode))]
    public void FusedGradCheck(string variant)
    {
        var spec = AttentionSpec.Parse(variant);
        foreach (var (b, h, tq, off, d) in new[] { (1, 2, 3, 0, 3), (2, 1, 6, 2, 4), (1, 1, 9, 0, 5) })
        {
            var (q, k, v) = Inputs(b, h, tq, off, d, (ulong)(100 + tq + off));
            GradCheck.Check(x => Tensor.CausalAttention(x[0], x[1], x[2], spec, off),
                [q.RequireGrad(), k.RequireGrad(), v.RequireGrad()], eps: 1e-6, atol: 1e-6, rtol: 1e-4);
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void ReferenceGradCheck(string variant)
    {
        var spec = AttentionSpec.Parse(variant);
        var (q, k, v) = Inputs(1, 2, 5, 2, 4, 7);
        GradCheck.Check(x => AttentionReference.Compute(x[0], x[1], x[2], spec, 2),
            [q.RequireGrad(), k.RequireGrad(), v.RequireGrad()], eps: 1e-6, atol: 1e-6, rtol: 1e-4);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void LongRowsGradCheckDirectional(string variant)
    {
        var spec = AttentionSpec.Parse(variant);
        var (q, k, v) = Inputs(1, 2, 70, 60, 8, 11);
        GradCheck.CheckDirectional(x => Tensor.CausalAttention(x[0], x[1], x[2], spec, 60),
            [q.RequireGrad(), k.RequireGrad(), v.RequireGrad()], directions: 3, eps: 1e-6, atol: 1e-6, rtol: 1e-5);
    }

    [Fact]
    public void SoftplusL1WithEveryScoreNegativeIsStableAndDifferentiable()
    {
        // q_i ≈ u and k_j ≈ −u: every score in every row is negative, so the kernel takes its shifted path.
        var rng = new Rng(3);
        var u = Tensor.RandN([1, 1, 1, 6], rng, DType.Float64);
        var q = u.Expand(1, 2, 5, 6).Add(Tensor.RandN([1, 2, 5, 6], rng, DType.Float64, 0, 0.1)).Contiguous();
        var k = u.Neg().Expand(1, 2, 5, 6).Add(Tensor.RandN([1, 2, 5, 6], rng, DType.Float64, 0, 0.1)).Contiguous();
        var v = Tensor.RandN([1, 2, 5, 6], rng, DType.Float64);
        foreach (var spec in new[] { AttentionSpec.SoftplusL1, AttentionSpec.SoftplusL1 with { Reweight = true } })
        {
            AssertClose(AttentionReference.Compute(q, k, v, spec), Tensor.CausalAttention(q, k, v, spec), 1e-10, spec.Label);
            GradCheck.Check(x => Tensor.CausalAttention(x[0], x[1], x[2], spec),
                [q.Clone().RequireGrad(), k.Clone().RequireGrad(), v.Clone().RequireGrad()], atol: 1e-6, rtol: 1e-4);
        }
        // Far below the underflow of softplus: weights tend to softmax(s), and stay exactly normalised.
        var big = q.MulScalar(100);
        var w = Tensor.CausalAttentionWeights(big.To(DType.Float32), k.To(DType.Float32), AttentionSpec.SoftplusL1);
        var expected = AttentionReference.Weights(big, k, AttentionSpec.Softmax).MulScalar(1).ToDoubleArray();
        var s = big.MatMul(k.Transpose(-1, -2)).MulScalar(1 / Math.Sqrt(6)).ToDoubleArray();
        Assert.True(s.Where((x, i) => i % 5 <= i / 5 % 5).All(x => x < -120), "scores should be far below float32 softplus underflow");
        var got = w.ToDoubleArray();
        for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(got[i] - expected[i]) < 1e-5, $"weight {i}: {got[i]} vs softmax limit {expected[i]}");
    }

    [Fact]
    public void ZeroQueryAndKeyVectorsStayFinite()
    {
        var (q, k, v) = Inputs(1, 1, 5, 0, 4, 21);
        var qd = q.ToDoubleArray(); var kd = k.ToDoubleArray();
        for (int t = 0; t < 4; t++) { qd[2 * 4 + t] = 0; kd[1 * 4 + t] = 0; }
        var qz = Tensor.FromDoubles(qd, [1, 1, 5, 4], DType.Float64).RequireGrad();
        var kz = Tensor.FromDoubles(kd, [1, 1, 5, 4], DType.Float64).RequireGrad();
        var vr = v.RequireGrad();
        foreach (var spec in new[] { AttentionSpec.Lssa, AttentionSpec.Lssar })
        {
            var y = Tensor.CausalAttention(qz, kz, vr, spec);
            AssertClose(AttentionReference.Compute(qz, kz, vr, spec), y, 1e-10, spec.Label);
            y.Sum().Backward();
            Assert.All(qz.Grad!.ToDoubleArray(), g => Assert.True(double.IsFinite(g)));
            Assert.All(kz.Grad!.ToDoubleArray(), g => Assert.True(double.IsFinite(g)));
            qz.ZeroGrad(); kz.ZeroGrad(); vr.ZeroGrad();
        }
    }
}
