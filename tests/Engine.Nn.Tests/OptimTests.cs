namespace Engine.Nn.Tests;

public class OptimTests
{
    private static (string, Tensor) P(string name, double[] values) => (name, Tensor.FromArray(values).RequireGrad());

    [Fact]
    public void AdamWMatchesTheFormulaStepByStep()
    {
        var (name, p) = P("w", [1.0, -2.0, 0.5]);
        var opt = new AdamW([new ParamGroup([(name, p)], weightDecay: 0.1)], learningRate: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8);
        double[] x = [1.0, -2.0, 0.5], m = new double[3], v = new double[3];
        var grads = new[] { new[] { 0.3, -1.0, 2.0 }, new[] { -0.1, 0.4, 0.0 }, new[] { 1.5, 0.2, -0.7 } };
        for (int t = 1; t <= 3; t++)
        {
            p.Grad = Tensor.FromArray(grads[t - 1]);
            opt.Step();
            for (int i = 0; i < 3; i++)
            {
                double g = grads[t - 1][i];
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.99 * v[i] + 0.01 * g * g;
                double mh = m[i] / (1 - Math.Pow(0.9, t)), vh = v[i] / (1 - Math.Pow(0.99, t));
                x[i] -= 0.01 * (0.1 * x[i] + mh / (Math.Sqrt(vh) + 1e-8));
            }
            var got = p.ToDoubleArray();
            for (int i = 0; i < 3; i++) Assert.Equal(x[i], got[i], 1e-12);
        }
        Assert.Equal(3, opt.StepCount);
    }

    [Fact]
    public void SgdMomentumMatchesTheFormula()
    {
        var (name, p) = P("w", [1.0, 2.0]);
        var opt = new Sgd([new ParamGroup([(name, p)], weightDecay: 0.5)], learningRate: 0.1, momentum: 0.9);
        double[] x = [1.0, 2.0], buf = new double[2];
        for (int t = 0; t < 3; t++)
        {
            double[] g = [t + 1.0, -t];
            p.Grad = Tensor.FromArray(g);
            opt.Step();
            for (int i = 0; i < 2; i++)
            {
                double d = g[i] + 0.5 * x[i];
                buf[i] = t == 0 ? d : 0.9 * buf[i] + d;
                x[i] -= 0.1 * buf[i];
            }
            Assert.Equal(x, p.ToDoubleArray(), (a, b) => Math.Abs(a - b) < 1e-12);
        }
    }

    [Fact]
    public void DecayGroupsExcludeBiasesNormsAndEmbeddings()
    {
        var model = new Gpt(GptTests.Tiny(tie: false));
        var groups = ParamGroup.DecayAndNoDecay(model, 0.1);
        var decayed = groups[0].Parameters.Select(p => p.Name).ToHashSet();
        Assert.Contains("blocks.0.attn.qkv.weight", decayed);
        Assert.Contains("lm_head.weight", decayed);
        Assert.DoesNotContain("token_embedding.weight", decayed);
        Assert.DoesNotContain("blocks.0.attn.qkv.bias", decayed);
        Assert.DoesNotContain("norm.weight", decayed);
        Assert.Equal(model.NamedParameters().Count(), groups.Sum(g => g.Parameters.Count));
        Assert.Equal(0, groups[1].WeightDecay);
        // Zero gradients: only weight decay moves parameters, and only in the decay group.
        var opt = new AdamW(groups, learningRate: 0.1);
        var before = model.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.ToDoubleArray());
        foreach (var p in model.Parameters()) p.Grad = Tensor.ZerosLike(p);
        opt.Step();
        foreach (var (name, p) in model.NamedParameters())
        {
            bool changed = !before[name].SequenceEqual(p.ToDoubleArray()) ;
            Assert.True(changed == (decayed.Contains(name) && before[name].Any(v => v != 0)), name);
        }
    }

    [Fact]
    public void OptimizerStateDictResumesExactly()
    {
        Tensor Grad(int t) => Tensor.FromArray(new[] { MathF.Sin(t), MathF.Cos(t), t * 0.1f });
        var a = Tensor.FromArray(new[] { 1f, 2f, 3f }).RequireGrad();
        var optA = new AdamW([new ParamGroup([("a", a)], 0.01)], 0.05);
        for (int t = 0; t < 6; t++) { a.Grad = Grad(t); optA.Step(); }

        var b = Tensor.FromArray(new[] { 1f, 2f, 3f }).RequireGrad();
        var optB = new AdamW([new ParamGroup([("a", b)], 0.01)], 0.05);
        for (int t = 0; t < 3; t++) { b.Grad = Grad(t); optB.Step(); }
        var saved = optB.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Clone());
        var savedParam = b.ToArray<float>();
        Assert.Equal(["a.exp_avg", "a.exp_avg_sq", "step"], saved.Keys.Order());

        var c = Tensor.FromArray(savedParam).RequireGrad();
        var optC = new AdamW([new ParamGroup([("a", c)], 0.01)], 0.05);
        optC.LoadStateDict(saved);
        Assert.Equal(3, optC.StepCount);
        for (int t = 3; t < 6; t++) { c.Grad = Grad(t); optC.Step(); }
        Assert.Equal(a.ToArray<float>(), c.ToArray<float>());

        saved.Remove("a.exp_avg");
        var e = Assert.Throws<ArgumentException>(() => optC.LoadStateDict(saved));
        Assert.Contains("a.exp_avg", e.Message);
    }

    [Fact]
    public void WarmupCosineSchedule()
    {
        var s = new WarmupCosineSchedule(1.0, WarmupSteps: 10, TotalSteps: 110, MinLr: 0.1);
        Assert.Equal(0.1, s.At(0), 12);
        Assert.Equal(1.0, s.At(9), 12);
        Assert.Equal(1.0, s.At(10), 12);
        Assert.Equal(0.55, s.At(60), 12);
        Assert.Equal(0.1, s.At(110), 12);
        Assert.Equal(0.1, s.At(500), 12);
        for (int t = 10; t < 110; t++) Assert.True(s.At(t + 1) <= s.At(t));
    }

    [Fact]
    public void ClipGlobalNormScalesAllGradientsTogether()
    {
        var a = Tensor.Zeros([2]).RequireGrad();
        var b = Tensor.Zeros([1]).RequireGrad();
        a.Grad = Tensor.FromArray(new[] { 3f, 0f });
        b.Grad = Tensor.FromArray(new[] { 4f });
        double norm = GradClip.ClipGlobalNorm([a, b], 1.0);
        Assert.Equal(5, norm, 6);
        Assert.Equal(0.6, a.Grad.ToDoubleArray()[0], 5);
        Assert.Equal(0.8, b.Grad.ToDoubleArray()[0], 5);
        Assert.Equal(1.0, GradClip.ClipGlobalNorm([a, b], 10), 5);     // below the limit: unchanged
        Assert.Equal(0.6, a.Grad.ToDoubleArray()[0], 5);
    }
}
