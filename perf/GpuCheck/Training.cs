using System.Diagnostics;
using Engine.Cuda;

namespace Engine.GpuCheck;

/// <summary>
/// A small next-token MLP built from tensor ops (embedding, two GELU layers, log-softmax, picked log-probabilities),
/// trained with plain SGD. The same code runs on any device, which is the point: the loss curves must agree.
/// </summary>
internal sealed class Mlp
{
    private readonly Tensor[] parameters;
    private readonly Tensor emb, w1, b1, w2, b2, w3;

    public Mlp(int vocab, int dim, int hidden, Device device, ulong seed = 42)
    {
        var rng = new Rng(seed);
        Tensor P(int[] shape, double std) => Tensor.RandN(shape, rng, DType.Float32, 0, std).To(device).RequireGrad();
        emb = P([vocab, dim], 1);
        w1 = P([dim, hidden], 1 / Math.Sqrt(dim));
        b1 = P([hidden], 0.01);
        w2 = P([hidden, hidden], 1 / Math.Sqrt(hidden));
        b2 = P([hidden], 0.01);
        w3 = P([hidden, vocab], 1 / Math.Sqrt(hidden));
        parameters = [emb, w1, b1, w2, b2, w3];
    }

    public long ParameterCount => parameters.Sum(p => (long)p.Count);

    /// <summary>One SGD step on (tokens → targets); returns the loss.</summary>
    public double Step(Tensor tokens, Tensor targets, double lr)
    {
        var x = emb.IndexSelect(0, tokens);
        var h = x.MatMul(w1).Add(b1).Gelu();
        h = h.MatMul(w2).Add(b2).Gelu().Add(h);
        var loss = h.MatMul(w3).LogSoftmax(-1).Gather(1, targets).Mean().Neg();
        double value = loss.Item();
        loss.Backward();
        foreach (var p in parameters)
        {
            p.Backend.AddInPlace(p.Storage, p.Grad!.Contiguous().Storage, -lr);
            p.ZeroGrad();
        }
        return value;
    }

    public static (Tensor tokens, Tensor targets) Batch(int batch, int vocab, Device device, int seed)
    {
        var r = new Random(seed);
        var tokens = Enumerable.Range(0, batch).Select(_ => r.Next(vocab)).ToArray();
        // A learnable rule: the next token is a fixed function of the current one.
        var targets = tokens.Select(t => (t * 7 + 3) % vocab).ToArray();
        return (Tensor.FromArray(tokens, device), Tensor.FromArray(targets, [batch, 1], device));
    }
}

internal static class Training
{
    /// <summary>A few steps on CPU and GPU from the same initial weights; the losses must agree step by step.</summary>
    public static void Agreement(CudaBackend gpu, Report report)
    {
        const int vocab = 64, dim = 32, hidden = 64, batch = 128, steps = 8;
        var losses = new Dictionary<Device, double[]>();
        foreach (var device in new[] { Device.Cpu, gpu.Device })
        {
            var model = new Mlp(vocab, dim, hidden, device);
            var l = new double[steps];
            for (int s = 0; s < steps; s++)
            {
                var (x, y) = Mlp.Batch(batch, vocab, device, s);
                l[s] = model.Step(x, y, 0.5);
            }
            losses[device] = l;
        }
        var c = losses[Device.Cpu]; var g = losses[gpu.Device];
        double worst = c.Zip(g, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(a))).Max();
        report.Add("training", $"MLP {steps} SGD steps f32, CPU vs GPU loss", worst < 1e-3 && g[^1] < g[0],
            $"CPU {c[0]:0.0000}→{c[^1]:0.0000}, GPU {g[0]:0.0000}→{g[^1]:0.0000}, max rel Δ {worst:0.0e+0}");
    }

    /// <summary>Milliseconds per training step of a wider MLP on a device (after warm-up).</summary>
    public static double StepMilliseconds(Device device, int vocab, int dim, int hidden, int batch, int steps, Action sync)
    {
        var model = new Mlp(vocab, dim, hidden, device);
        var (x, y) = Mlp.Batch(batch, vocab, device, 1);
        model.Step(x, y, 0.01);
        sync();
        var sw = Stopwatch.StartNew();
        for (int s = 0; s < steps; s++) model.Step(x, y, 0.01);
        sync();
        return sw.Elapsed.TotalMilliseconds / steps;
    }
}
