using Engine.Cuda.Tests.Emulation;

namespace Engine.Cuda.Tests;

/// <summary>
/// Tensors on the emulated device through the public API: the same model code trains on it and on the CPU, and
/// autograd (which only sees the backend through <see cref="IBackend"/>) works unchanged.
/// </summary>
public class EmulatedTrainingTests
{
    private static Device Dev
    {
        get
        {
            _ = HostEmulator.Registered;
            return HostEmulator.Device;
        }
    }

    /// <summary>
    /// A small next-token model: embedding lookup, a GELU MLP with a normalisation built from Mean/Variance, a skip
    /// connection through Concat, masked logits, log-softmax and the picked log-probabilities. SGD in place.
    /// </summary>
    private static (double[] losses, double[][] parameters) Train(Device device, DType dtype, int steps)
    {
        const int vocab = 11, dim = 6, hidden = 12, batch = 10;
        var rng = new Rng(7);
        Tensor Param(int[] shape, double std) => Tensor.RandN(shape, rng, dtype, 0, std).To(device).RequireGrad();
        var emb = Param([vocab, dim], 1);
        var w1 = Param([2 * dim, hidden], 0.3);
        var b1 = Param([hidden], 0.1);
        var w2 = Param([hidden, vocab], 0.3);
        var ps = new[] { emb, w1, b1, w2 };
        var tokens = Tensor.FromArray(Enumerable.Range(0, batch).Select(i => (i * 7 + 3) % vocab).ToArray(), device);
        var targets = Tensor.FromArray(Enumerable.Range(0, batch).Select(i => (i * 5 + 1) % (vocab - 1)).ToArray(), [batch, 1], device);
        var mask = Tensor.FromDoubles(Enumerable.Range(0, vocab).Select(v => v == vocab - 1 ? 1.0 : 0.0).ToArray(), [1, vocab], dtype, device);
        var losses = new double[steps];
        for (int s = 0; s < steps; s++)
        {
            var x = emb.IndexSelect(0, tokens);                                     // [batch, dim]
            var centred = x.Sub(x.Mean(1, keepDim: true)).Div(x.Variance(1, keepDim: true).AddScalar(1e-5).Sqrt());
            var h = Tensor.Concat([x, centred], 1).MatMul(w1).Add(b1).Gelu();        // [batch, hidden]
            var logits = h.MatMul(w2).MaskedFill(mask, -1e9);                        // [batch, vocab]
            var logp = logits.LogSoftmax(-1);
            var loss = logp.Gather(1, targets).Mean().Neg();
            losses[s] = loss.Item();
            loss.Backward();
            foreach (var p in ps)
            {
                p.Backend.AddInPlace(p.Storage, p.Grad!.Contiguous().Storage, -0.5);
                p.ZeroGrad();
            }
        }
        return (losses, ps.Select(p => p.To(Device.Cpu).ToDoubleArray()).ToArray());
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void TrainingStepsMatchTheCpu(DType dtype)
    {
        var cpu = Train(Device.Cpu, dtype, 4);
        var gpu = Train(Dev, dtype, 4);
        TestData.Close(cpu.losses, gpu.losses, dtype, "losses", scale: 10);
        Assert.True(gpu.losses[^1] < gpu.losses[0], $"loss should fall: {string.Join(", ", gpu.losses)}");
        for (int i = 0; i < cpu.parameters.Length; i++) TestData.Close(cpu.parameters[i], gpu.parameters[i], dtype, $"parameter {i}", scale: 10);
    }

    [Fact]
    public void GradientsOfBroadcastingAndViewOpsMatchTheCpu()
    {
        Tensor[] Run(Device d)
        {
            var a = Tensor.RandN([2, 3, 4], 11UL, DType.Float64).To(d).RequireGrad();
            var b = Tensor.RandN([4], 12UL, DType.Float64).To(d).RequireGrad();
            var c = Tensor.RandN([3, 1], 13UL, DType.Float64).To(d).RequireGrad();
            var y = a.Transpose(0, 2).Mul(c.Transpose(0, 1).Unsqueeze(0).Transpose(1, 2))        // [4,3,2] * [1,3,1]
                .Add(b.Reshape(4, 1, 1)).Relu().Abs().Softplus().Tanh()
                .Sum(1).Max(1).Sigmoid().Sum();
            var z = a.Narrow(1, 1, 2).MatMul(a.Transpose(1, 2).Narrow(1, 0, 4)).Exp().Mean();     // batched matmul of views
            var w = Tensor.Where(a.Gt(0), a, a.MulScalar(0.1)).Max().Add(a.Min());
            y.Add(z).Add(w).Backward();
            return [y.Detach(), a.Grad!, b.Grad!, c.Grad!];
        }
        var cpu = Run(Device.Cpu);
        var gpu = Run(Dev);
        for (int i = 0; i < cpu.Length; i++)
            TestData.Close(cpu[i].ToDoubleArray(), gpu[i].To(Device.Cpu).ToDoubleArray(), DType.Float64, $"tensor {i}", scale: 100);
    }

    [Fact]
    public void MixingDevicesIsAClearError()
    {
        var a = Tensor.Ones([2]).To(Dev);
        var e = Assert.Throws<ArgumentException>(() => a.Add(Tensor.Ones([2])));
        Assert.Contains("different devices", e.Message);
        Assert.Contains("cuda:63", e.Message);
        Assert.Contains("cpu", e.Message);
    }

    [Fact]
    public void GradientsFlowBackAcrossTheDeviceBoundary()
    {
        var x = Tensor.FromArray(new[] { 1.0, -2.0, 3.0 }).RequireGrad();
        x.To(Dev).Square().Sum().Backward();
        Assert.Equal(Device.Cpu, x.Grad!.Device);
        Assert.Equal([2.0, -4.0, 6.0], x.Grad.ToDoubleArray());
    }

    [Theory]
    [InlineData(Engine.Nn.NormKind.LayerNorm, false)]
    [InlineData(Engine.Nn.NormKind.RMSNorm, true)]
    public void GptAdamWStepsMatchTheCpu(Engine.Nn.NormKind norm, bool lssar)
    {
        var config = new Engine.Nn.GptConfig
        {
            VocabSize = 13, ContextLength = 6, Layers = 1, Heads = 2, ModelDim = 8, Norm = norm,
            Attention = lssar ? AttentionSpec.Lssar : AttentionSpec.Softmax,
        };
        double[] Run(Device d)
        {
            var model = new Engine.Nn.Gpt(config, seed: 5);
            model.To(d);
            var opt = new Engine.Nn.AdamW(model, learningRate: 1e-2);
            var seq = Enumerable.Range(0, 2 * 7).Select(i => (i * 5 + 2) % 13).ToArray();
            var all = Tensor.FromArray<int>(seq, [2, 7], d);
            var x = all.Narrow(1, 0, 6).Contiguous();
            var y = all.Narrow(1, 1, 6).Contiguous();
            var losses = new double[2];
            for (int s = 0; s < losses.Length; s++)
            {
                var loss = model.Loss(x, y);
                losses[s] = loss.Item();
                opt.ZeroGrad();
                loss.Backward();
                opt.Step();
            }
            return losses;
        }
        var cpu = Run(Device.Cpu);
        var gpu = Run(Dev);
        TestData.Close(cpu, gpu, DType.Float32, "GPT losses", scale: 20);
    }
}
