using System.Globalization;

namespace Engine.Perf;

/// <summary>
/// `elementwise [--threads N]`: the elementwise ops of the train step on its largest activation ([16·256, 512], the
/// MLP's hidden layer), float32, through the public API inside a StorageScope: median ms per call and effective GB/s (bytes read + written);
/// GELU's backward and the MLP's up projection with its bias, fused and composed, for their A/B in one process.
/// </summary>
internal static class ElementwiseBench
{
    public static int Run(string[] args)
    {
        int threads = Args.Int(args, "--threads", Environment.ProcessorCount);
        EngineThreads.Count = threads;
        var x = Tensor.RandN([4096, 512], 1);
        var y = Tensor.RandN([4096, 512], 2);
        var bias = Tensor.RandN([512], 3);
        var h = Tensor.RandN([4096, 128], 4);
        var w = Tensor.RandN([512, 128], 5);
        double mb = x.Count * 4 / 1e6;
        Console.WriteLine($"elementwise ops on [4096, 512] float32; EngineThreads.Count = {threads}; median of 9 samples");
        Console.WriteLine();
        Console.WriteLine("| op | threads | ms | GB/s |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        foreach (var (name, body, traffic) in new (string, Action, double)[]
                 {
                     ("a + b", () => x.Add(y), 3 * mb),
                     ("a + bias (row broadcast)", () => x.Add(bias), 2 * mb),
                     ("a · b", () => x.Mul(y), 3 * mb),
                     ("gelu(a)", () => x.Gelu(), 2 * mb),
                     ("gelu backward b ⊙ gelu′(a), one pass (the autograd's)", () => Tensor.GeluBackward(x, y), 3 * mb),
                     ("gelu backward b ⊙ gelu′(a), two passes (gelu′, then the product)", () => y.Mul(x.UnaryRaw(UnaryOp.GeluGrad, "gelu")), 5 * mb),
                     ("softplus(a)", () => x.Softplus(), 2 * mb),
                     ("linear h·Wᵀ + bias (h [4096, 128]), the bias inside the product (the Linear layer's)", () => h.MatMulBias(w.T, bias), 1.25 * mb),
                     ("linear h·Wᵀ + bias, the product then the bias add", () => h.MatMul(w.T).Add(bias), 3.25 * mb),
                     ("a^3", () => x.PowScalar(3), 2 * mb),
                     ("exp(a)", () => x.Exp(), 2 * mb),
                 })
        {
            // Each call in a StorageScope, as a training step runs: results go back to the pool, so the rows time the
            // kernels rather than the page faults of fresh arrays.
            double s = Timing.TimeIt(() =>
            {
                using var scope = StorageScope.Begin();
                body();
            }, 9, 0.1);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {threads} | {s * 1e3:F2} | {traffic / 1e3 / s:F1} |"));
        }
        return 0;
    }
}
