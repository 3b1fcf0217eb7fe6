namespace Engine.Nn.Tests;

/// <summary>
/// The attention family inside a model: re-weighting applied only at inference (Gao &amp; Spratling, arXiv 2501.13428)
/// leaves training untouched, and the attention kernels' host-copy fallback matches the CPU kernels.
/// </summary>
public class AttentionModelTests
{
    private static Tensor Batch(ulong seed, int b, int t, int vocab)
    {
        var rng = new Rng(seed);
        var ids = new int[b, t];
        for (int i = 0; i < b; i++) for (int j = 0; j < t; j++) ids[i, j] = rng.NextInt(vocab);
        return Tensor.FromArray(ids);
    }

    [Fact]
    public void ReweightingAtInferenceOnlyLeavesTrainingUntouched()
    {
        var config = GptTests.Tiny() with { Attention = AttentionSpec.Lssa };
        var plain = new Gpt(config, seed: 3);
        var evalOnly = new Gpt(config with { InferenceAttention = AttentionSpec.Lssar }, seed: 3);
        var trainedWithIt = new Gpt(config with { Attention = AttentionSpec.Lssar }, seed: 3);
        var x = Batch(1, 3, 8, config.VocabSize);
        var y = Batch(2, 3, 8, config.VocabSize);

        // Training mode: identical losses and identical gradients, bit for bit.
        var l1 = plain.Loss(x, y); l1.Backward();
        var l2 = evalOnly.Loss(x, y); l2.Backward();
        Assert.Equal(l1.Item(), l2.Item());
        var g1 = plain.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad!.ToDoubleArray());
        foreach (var (name, p) in evalOnly.NamedParameters()) Assert.Equal(g1[name], p.Grad!.ToDoubleArray());

        // Eval mode: the re-weighted model computes what an LSSAR model with the same weights computes, not LSSA.
        plain.Eval(); evalOnly.Eval(); trainedWithIt.Eval();
        using var _ = new NoGrad();
        var a = plain.Forward(x).ToDoubleArray();
        var b = evalOnly.Forward(x).ToDoubleArray();
        var c = trainedWithIt.Forward(x).ToDoubleArray();
        Assert.Equal(c, b);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void AttentionFallbackMatchesTheCpuKernel()
    {
        var dev = new HostOnlyBackend();
        IBackend host = dev;
        var cpu = Engine.Cpu.CpuBackend.Instance;
        var rng = new Rng(8);
        var q = Tensor.RandN([2, 2, 5, 4], rng, DType.Float64);
        var k = Tensor.RandN([2, 2, 7, 4], rng, DType.Float64);
        var v = Tensor.RandN([2, 2, 7, 4], rng, DType.Float64);
        var g = Tensor.RandN([2, 2, 5, 4], rng, DType.Float64);
        var dims = new AttentionDims(2, 2, 5, 7, 4, 2);
        var family = AttentionSpec.Lssar.Family(4);
        Storage hq = dev.Upload(q), hk = dev.Upload(k), hv = dev.Upload(v), hg = dev.Upload(g);
        double[] D(Storage s) => new Tensor(s, [s.Length]).ToDoubleArray();

        var y = host.CausalAttentionForward(hq, hk, hv, dims, family);
        Assert.IsType<HostOnlyBackend>(y.Backend, exactMatch: false);
        Assert.Equal(D(cpu.CausalAttentionForward(q.Storage, k.Storage, v.Storage, dims, family)), dev.Download(y));
        var (dq1, dk1, dv1) = host.CausalAttentionBackward(hq, hk, hv, hg, dims, family);
        var (dq2, dk2, dv2) = cpu.CausalAttentionBackward(q.Storage, k.Storage, v.Storage, g.Storage, dims, family);
        Assert.Equal(D(dq2), dev.Download(dq1));
        Assert.Equal(D(dk2), dev.Download(dk1));
        Assert.Equal(D(dv2), dev.Download(dv1));
        Assert.Equal(D(cpu.CausalAttentionWeights(q.Storage, k.Storage, dims, family)), dev.Download(host.CausalAttentionWeights(hq, hk, dims, family)));
    }
}
