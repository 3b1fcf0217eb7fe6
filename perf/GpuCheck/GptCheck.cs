using System.Diagnostics;
using Engine.Cuda;
using Engine.Nn;

namespace Engine.GpuCheck;

/// <summary>
/// The GPT of Engine.Nn on both devices: a few AdamW steps from the same initial weights must give the same losses
/// (softmax attention and LSSAR, the Softplus attention with re-weighting of Gao &amp; Spratling, arXiv 2501.13428),
/// and the time of one training step of a larger configuration.
/// </summary>
internal static class GptCheck
{
    internal static (Tensor inputs, Tensor targets) Batch(int batch, int time, int vocab, Device device, int seed)
    {
        var r = new Random(seed);
        var seq = new int[batch * (time + 1)];
        for (int b = 0; b < batch; b++)
        {
            // A learnable pattern: runs of ascending tokens from a random start.
            int start = r.Next(vocab);
            for (int t = 0; t <= time; t++) seq[b * (time + 1) + t] = (start + t) % vocab;
        }
        var all = Tensor.FromArray<int>(seq, [batch, time + 1], device);
        return (all.Narrow(1, 0, time).Contiguous(), all.Narrow(1, 1, time).Contiguous());
    }

    private static double[] Train(GptConfig config, Device device, int steps, int batch)
    {
        var model = new Gpt(config, seed: 3);
        model.To(device);
        var opt = new AdamW(model, learningRate: 3e-3, weightDecay: 0.01);
        var losses = new double[steps];
        for (int s = 0; s < steps; s++)
        {
            var (x, y) = Batch(batch, config.ContextLength, config.VocabSize, device, s);
            var loss = model.Loss(x, y);
            losses[s] = loss.Item();
            opt.ZeroGrad();
            loss.Backward();
            opt.Step();
        }
        return losses;
    }

    public static void Agreement(CudaBackend gpu, Report report)
    {
        foreach (var (label, spec) in new[] { ("softmax", AttentionSpec.Softmax), ("LSSAR", AttentionSpec.Lssar) })
        {
            var config = new GptConfig { VocabSize = 48, ContextLength = 32, Layers = 2, Heads = 2, ModelDim = 32, Attention = spec };
            const int steps = 6, batch = 8;
            var c = Train(config, Device.Cpu, steps, batch);
            var g = Train(config, gpu.Device, steps, batch);
            double worst = c.Zip(g, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(a))).Max();
            report.Add("training", $"GPT {label} attention, {steps} AdamW steps f32, CPU vs GPU loss", worst < 2e-3 && g[^1] < g[0],
                $"CPU {c[0]:0.0000}→{c[^1]:0.0000}, GPU {g[0]:0.0000}→{g[^1]:0.0000}, max rel Δ {worst:0.0e+0}");
        }
    }

    public static void StepTime(CudaBackend gpu, Report report)
    {
        var config = new GptConfig { VocabSize = 256, ContextLength = 256, Layers = 6, Heads = 8, ModelDim = 512, Attention = AttentionSpec.Softmax };
        const int batch = 16;
        var model = new Gpt(config, seed: 1);
        model.To(gpu.Device);
        var opt = new AdamW(model, learningRate: 1e-3);
        var (x, y) = Batch(batch, config.ContextLength, config.VocabSize, gpu.Device, 1);
        void Step()
        {
            var loss = model.Loss(x, y);
            opt.ZeroGrad();
            loss.Backward();
            opt.Step();
        }
        Step();
        gpu.Synchronize();
        const int steps = 5;
        var sw = Stopwatch.StartNew();
        for (int s = 0; s < steps; s++) Step();
        gpu.Synchronize();
        double ms = sw.Elapsed.TotalMilliseconds / steps;
        report.Add("throughput", $"GPT train step ({model.ParameterCount / 1e6:0.0} M params, {config.Layers}×{config.ModelDim}, batch {batch}×{config.ContextLength}), GPU", null,
            $"{ms:0.0} ms/step, {batch * config.ContextLength / (ms / 1e3):0} tokens/s");
    }
}
