namespace Engine.Nn.Tests;

/// <summary>Each fused op against its composed reference (values and gradients) and against finite differences.</summary>
public class FusedOpTests
{
    private static Tensor R(int[] shape, ulong seed, DType dtype = DType.Float64, double std = 1) =>
        Tensor.RandN(shape, new Rng(seed), dtype, 0, std).RequireGrad();

    private static void Close(Tensor expected, Tensor actual, double tol, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ToDoubleArray(); var a = actual.ToDoubleArray();
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= tol * (1 + Math.Abs(e[i])), $"{what}[{i}]: expected {e[i]}, got {a[i]}");
    }

    /// <summary>Values and the gradient of Σ w ⊙ f(inputs) for every input agree between fused and reference.</summary>
    private static void FusedMatchesReference(Func<Tensor[], Tensor> fused, Func<Tensor[], Tensor> reference, Tensor[] inputs, double tol)
    {
        foreach (var t in inputs) t.ZeroGrad();
        var yf = fused(inputs);
        var w = Tensor.RandN(yf.Shape, 99, yf.DType);
        yf.Mul(w).Sum().Backward();
        var gf = inputs.Select(t => t.Grad).ToArray();
        foreach (var t in inputs) t.ZeroGrad();
        var yr = reference(inputs);
        yr.Mul(w).Sum().Backward();
        Close(yr, yf, tol, "value");
        for (int i = 0; i < inputs.Length; i++)
            if (inputs[i].RequiresGrad) Close(inputs[i].Grad!, gf[i]!, tol, $"grad of input {i}");
    }

    [Theory]
    [InlineData(DType.Float64, 1e-10)]
    [InlineData(DType.Float32, 1e-4)]
    public void LayerNormMatchesReference(DType dtype, double tol)
    {
        Tensor x = R([3, 4, 10], 1, dtype, 3), w = R([10], 2, dtype), b = R([10], 3, dtype);
        FusedMatchesReference(t => t[0].LayerNorm(t[1], t[2]), t => NormReference.LayerNorm(t[0], t[1], t[2]), [x, w, b], tol);
        FusedMatchesReference(t => t[0].LayerNorm(), t => NormReference.LayerNorm(t[0]), [x], tol);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NormBackwardOverSeveralRowBlocksMatchesReferenceAndNotTheThreadCount(bool rms)
    {
        // 150 rows: three of the backward's blocks of weight and bias sums, the last one partial; 133 columns: whole
        // vectors of every width and a tail.
        Tensor Norm(Tensor[] t) => rms ? t[0].RMSNorm(t[1]) : t[0].LayerNorm(t[1], t[2]);
        Tensor Reference(Tensor[] t) => rms ? NormReference.RMSNorm(t[0], t[1]) : NormReference.LayerNorm(t[0], t[1], t[2]);
        foreach (var (dtype, tol) in new[] { (DType.Float64, 1e-10), (DType.Float32, 1e-4) })
        {
            Tensor x = R([150, 133], 6, dtype, 2), w = R([133], 7, dtype), b = R([133], 8, dtype);
            FusedMatchesReference(Norm, Reference, rms ? [x, w] : [x, w, b], tol);
            FusedMatchesReference(t => rms ? t[0].RMSNorm() : t[0].LayerNorm(), t => rms ? NormReference.RMSNorm(t[0]) : NormReference.LayerNorm(t[0]), [x], tol);
        }
        int saved = EngineThreads.Count;
        try
        {
            float[][] Grads(int threads)
            {
                EngineThreads.Count = threads;
                Tensor x = R([150, 133], 6, DType.Float32, 2), w = R([133], 7, DType.Float32), b = R([133], 8, DType.Float32);
                Norm([x, w, b]).Mul(Tensor.RandN([150, 133], 99, DType.Float32)).Sum().Backward();
                return [x.Grad!.ToArray<float>(), w.Grad!.ToArray<float>(), .. rms ? Array.Empty<float[]>() : [b.Grad!.ToArray<float>()]];
            }
            var one = Grads(1);
            var two = Grads(2);
            for (int i = 0; i < one.Length; i++) Assert.Equal(one[i], two[i]);
        }
        finally { EngineThreads.Count = saved; }
    }

    [Theory]
    [InlineData(DType.Float64, 1e-10)]
    [InlineData(DType.Float32, 1e-4)]
    public void RMSNormMatchesReference(DType dtype, double tol)
    {
        Tensor x = R([5, 12], 4, dtype, 2), w = R([12], 5, dtype);
        FusedMatchesReference(t => t[0].RMSNorm(t[1]), t => NormReference.RMSNorm(t[0], t[1]), [x, w], tol);
        FusedMatchesReference(t => t[0].RMSNorm(), t => NormReference.RMSNorm(t[0]), [x], tol);
    }

    [Fact]
    public void NormsPassGradCheck()
    {
        Tensor x = R([2, 3, 6], 6, std: 2), w = R([6], 7), b = R([6], 8);
        GradCheck.Check(t => t[0].LayerNorm(t[1], t[2], 1e-5), [x, w, b]);
        GradCheck.Check(t => t[0].RMSNorm(t[1], 1e-5), [x, w]);
        // A non-contiguous input (transposed view) takes the same path.
        var xt = R([6, 4], 9);
        GradCheck.Check(t => t[0].T.LayerNorm(), [xt]);
    }

    [Fact]
    public void NormsStayFiniteOnExtremeInputs()
    {
        var big = Tensor.FromArray(new float[] { 1e30f, -1e30f, 3e29f, 0, 1e30f, 1e30f, 1e30f, 1e30f }, [2, 4]).RequireGrad();
        var y = big.LayerNorm(eps: 1e-5);
        y.Mul(Tensor.RandN([2, 4], 1)).Sum().Backward();
        Assert.All(y.ToDoubleArray(), v => Assert.True(double.IsFinite(v)));
        Assert.All(big.Grad!.ToDoubleArray(), v => Assert.True(double.IsFinite(v)));
        var zeros = Tensor.Zeros([3, 5]).RequireGrad();     // constant rows: variance 0, eps keeps it finite
        var z = zeros.RMSNorm(Tensor.Ones([5]));
        z.Sum().Backward();
        Assert.All(z.ToDoubleArray(), v => Assert.Equal(0, v));
        Assert.All(zeros.Grad!.ToDoubleArray(), v => Assert.True(double.IsFinite(v)));
        var tiny = Tensor.FromArray(new float[] { 1e-30f, -1e-30f, 2e-30f, 0 }, [1, 4]);
        Assert.All(tiny.RMSNorm(eps: 1e-6).ToDoubleArray(), v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void NormErrorsNameTheOpAndShapes()
    {
        var x = Tensor.Zeros([2, 6]);
        var e = Assert.Throws<ArgumentException>(() => x.LayerNorm(Tensor.Ones([5])));
        Assert.Contains("layer_norm", e.Message);
        Assert.Contains("[6]", e.Message);
        Assert.Throws<ArgumentException>(() => x.RMSNorm(Tensor.Ones([6], DType.Float64)));
        Assert.Throws<ArgumentException>(() => x.LayerNorm(eps: -1));
        Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 3], DType.Int32).LayerNorm());
    }

    [Theory]
    [InlineData(DType.Float64, 1e-10)]
    [InlineData(DType.Float32, 1e-4)]
    public void CrossEntropyMatchesReference(DType dtype, double tol)
    {
        var logits = R([2, 5, 9], 10, dtype, 3);
        var targets = Tensor.FromArray(new[] { 1, 8, 0, 4, 4, 2, -100, 7, 3, -100 }, [2, 5]);
        FusedMatchesReference(t => Tensor.CrossEntropy(t[0], targets, -100), t => CrossEntropyReference.Compute(t[0], targets, -100), [logits], tol);
        var flat = R([4, 9], 11, dtype);
        var t2 = Tensor.FromArray(new[] { 0, 8, 3, 3 });
        FusedMatchesReference(t => Tensor.CrossEntropy(t[0], t2), t => CrossEntropyReference.Compute(t[0], t2), [flat], tol);
    }

    [Fact]
    public void CrossEntropyPassesGradCheckAndKnownValue()
    {
        var logits = R([3, 4, 5], 12, std: 2);
        var targets = Tensor.FromArray(new[] { 1, 4, 0, 2, -1, 3, 0, 0, 4, 2, 1, -1 }, [3, 4]);
        GradCheck.Check(t => Tensor.CrossEntropy(t[0], targets, ignoreIndex: -1), [logits]);
        // Uniform logits: the loss is ln(classes).
        var uniform = Tensor.Zeros([2, 6]);
        Assert.Equal(Math.Log(6), Tensor.CrossEntropy(uniform, Tensor.FromArray(new[] { 0, 5 })).Item(), 1e-6);
    }

    [Fact]
    public void CrossEntropyStaysFiniteOnExtremeLogits()
    {
        var logits = Tensor.FromArray(new float[] { 1e30f, -1e30f, 0, 80, -80, 3e4f }, [2, 3]).RequireGrad();
        var loss = Tensor.CrossEntropy(logits, Tensor.FromArray(new[] { 1, 2 }));
        loss.Backward();
        Assert.True(double.IsFinite(loss.Item()));
        Assert.All(logits.Grad!.ToDoubleArray(), v => Assert.True(double.IsFinite(v)));
        Assert.Equal(1.0, loss.Item() / 1e30, 1e-6);   // row 0: lse ≈ 1e30 and the target logit is −1e30, so 2e30; row 1: ≈ 0; the mean is 1e30
    }

    [Fact]
    public void CrossEntropyErrorsAreClear()
    {
        var logits = Tensor.Zeros([2, 4]);
        var e = Assert.Throws<ArgumentException>(() => Tensor.CrossEntropy(logits, Tensor.FromArray(new[] { 1, 4 })));
        Assert.Contains("target 4", e.Message);
        Assert.Contains("[0, 4)", e.Message);
        e = Assert.Throws<ArgumentException>(() => Tensor.CrossEntropy(logits, Tensor.FromArray(new[] { -1, -1 }), -1));
        Assert.Contains("ignore index", e.Message);
        Assert.Throws<ArgumentException>(() => Tensor.CrossEntropy(logits, Tensor.FromArray(new[] { 1, int.MinValue })));
        Assert.Throws<ArgumentException>(() => Tensor.CrossEntropy(logits, Tensor.FromArray(new[] { 1, -1 })));
        Assert.Throws<ArgumentException>(() => Tensor.CrossEntropy(logits, Tensor.FromArray(new[] { 1, 2, 3 })));
        Assert.Throws<ArgumentException>(() => Tensor.CrossEntropy(logits, Tensor.Zeros([2])));
    }

    [Theory]
    [InlineData(DType.Float64, 1e-10)]
    [InlineData(DType.Float32, 1e-5)]
    public void RopeMatchesReference(DType dtype, double tol)
    {
        var x = R([2, 3, 5, 8], 13, dtype);
        var (cos, sin) = Tensor.RopeTables(4, 5, 8, 10000, dtype);
        FusedMatchesReference(t => Tensor.Rope(t[0], cos, sin), t => RopeReference.Compute(t[0], cos, sin), [x], tol);
    }

    [Fact]
    public void RopePassesGradCheckAndPreservesNorms()
    {
        var x = R([2, 4, 6], 14);
        var (cos, sin) = Tensor.RopeTables(100, 4, 6, 500, DType.Float64);
        GradCheck.Check(t => Tensor.Rope(t[0], cos, sin), [x]);
        var y = Tensor.Rope(x, cos, sin);
        Close(x.Square().Sum(-1), y.Square().Sum(-1), 1e-12, "row norm");
        Assert.Throws<ArgumentException>(() => Tensor.Rope(Tensor.Zeros([2, 5]), cos, sin));
        Assert.Throws<ArgumentException>(() => Tensor.RopeTables(0, 4, 5));
    }

    [Fact]
    public void FallbackKernelsMatchTheCpuKernels()
    {
        var dev = new HostOnlyBackend();
        IBackend host = dev;
        var cpu = Engine.Cpu.CpuBackend.Instance;
        var x = Tensor.RandN([4, 6], 15, DType.Float64);
        var w = Tensor.RandN([6], 16, DType.Float64);
        var t = Tensor.FromArray(new[] { 0, 5, 2, 1 });
        var (cos, sin) = Tensor.RopeTables(0, 4, 6, dtype: DType.Float64);
        Storage hx = dev.Upload(x), hw = dev.Upload(w), ht = dev.Upload(t), hcos = dev.Upload(cos), hsin = dev.Upload(sin);
        double[] D(Storage s) => s.Backend is HostOnlyBackend ? dev.Download(s) : new Tensor(s, [s.Length]).ToDoubleArray();

        var (y1, m1, r1) = host.NormForward(hx, hw, null, 4, 6, 1e-5, false);
        var (y2, m2, r2) = cpu.NormForward(x.Storage, w.Storage, null, 4, 6, 1e-5, false);
        Assert.IsNotType<Engine.Cpu.CpuStorage<double>>(y1);
        Assert.Equal(D(y2), D(y1));
        var (dx1, dw1, _) = host.NormBackward(hx, hw, false, m1, r1, y1, 4, 6, false);
        var (dx2, dw2, _) = cpu.NormBackward(x.Storage, w.Storage, false, m2, r2, y2, 4, 6, false);
        Assert.Equal(D(dx2), D(dx1));
        Assert.Equal(D(dw2!), D(dw1!));

        var (l1, lse1, c1) = host.CrossEntropyForward(hx, ht, 4, 6, -1);
        var (l2, lse2, c2) = cpu.CrossEntropyForward(x.Storage, t.Storage, 4, 6, -1);
        Assert.Equal(c2, c1);
        Assert.Equal(D(l2), D(l1));
        Assert.Equal(D(cpu.CrossEntropyBackward(x.Storage, t.Storage, lse2, 4, 6, -1, 0.25)), D(host.CrossEntropyBackward(hx, ht, lse1, 4, 6, -1, 0.25)));
        Assert.Equal(D(cpu.Rope(x.Storage, cos.Storage, sin.Storage, 1, 4, 6, false)), D(host.Rope(hx, hcos, hsin, 1, 4, 6, false)));

        // In-place optimiser steps through the fallback write back into the device storages.
        var g = Tensor.RandN([4, 6], 17, DType.Float64);
        Tensor p = x.Clone(), m = Tensor.Zeros([4, 6], DType.Float64), v = Tensor.Zeros([4, 6], DType.Float64);
        Storage hp = dev.Upload(x), hm = dev.Upload(m), hv = dev.Upload(v), hg = dev.Upload(g);
        host.AdamWStep(hp, hg, hm, hv, 0.1, 0.9, 0.99, 1e-8, 0.01, 1);
        cpu.AdamWStep(p.Storage, g.Storage, m.Storage, v.Storage, 0.1, 0.9, 0.99, 1e-8, 0.01, 1);
        Assert.Equal(p.ToDoubleArray(), dev.Download(hp));
        Assert.Equal(v.ToDoubleArray(), dev.Download(hv));
        Assert.NotEqual(x.ToDoubleArray(), dev.Download(hp));
        Storage hp2 = dev.Upload(x), hbuf = dev.Upload(Tensor.Zeros([4, 6], DType.Float64));
        Tensor p2 = x.Clone(), buf = Tensor.Zeros([4, 6], DType.Float64);
        host.SgdStep(hp2, hg, hbuf, 0.1, 0.9, 0.01, false, true);
        cpu.SgdStep(p2.Storage, g.Storage, buf.Storage, 0.1, 0.9, 0.01, false, true);
        Assert.Equal(p2.ToDoubleArray(), dev.Download(hp2));
        Assert.Equal(buf.ToDoubleArray(), dev.Download(hbuf));
    }
}
