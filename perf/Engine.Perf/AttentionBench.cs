using System.Globalization;
using Engine.Autograd;

namespace Engine.Perf;

/// <summary>
/// `attention [--threads N] [--peer-ms X] [--only softmax|lssar|composed] [--forward-only] [--spin S]`: causal attention forward and forward+backward through
/// <see cref="Tensor.CausalAttention"/>, B=8, H=4, T=256, d_head=32, float32, Softmax and LSSAR (Gao &amp; Spratling,
/// arXiv 2501.13428). The backward takes a fixed random upstream gradient, as the peer harness does. Timed like the
/// peer (<see cref="Timing.TimeIt"/>: warm-up, calibrated repeats, median of samples). A third row times the composed
/// reference (<see cref="AttentionReference"/>: batched matmuls, mask, softmax), the peer's "manual" variant.
/// <c>--only</c> and <c>--forward-only</c> narrow the run to one row or to the forward, for profiling one kernel;
/// <c>--spin S</c> runs each row's calls for S seconds before timing them, so a sampling profiler sees mostly the
/// kernel's optimised code rather than start-up and the JIT's first tiers.
/// </summary>
internal static class AttentionBench
{
    public const int B = 8, H = 4, T = 256, D = 32;

    /// <summary>
    /// Floating-point operations of one causal [T, D]·[D, T] (or weights·values) product over <paramref name="heads"/>
    /// heads, counting only the T(T+1)/2 visible pairs: the forward is two of them, forward and backward six.
    /// </summary>
    public static double CausalProductFlops(int heads, int t, int d) => 2.0 * heads * (t * (t + 1.0) / 2) * d;

    /// <summary>Inputs with gradients and a fixed upstream gradient.</summary>
    internal sealed class Inputs
    {
        public Inputs()
        {
            var rng = new Rng(0);
            Q = Tensor.RandN([B, H, T, D], rng).RequireGrad();
            K = Tensor.RandN([B, H, T, D], rng).RequireGrad();
            V = Tensor.RandN([B, H, T, D], rng).RequireGrad();
            Dy = Tensor.RandN([B, H, T, D], rng);
        }

        public Tensor Q { get; }
        public Tensor K { get; }
        public Tensor V { get; }
        public Tensor Dy { get; }

        // Each call in a StorageScope, as the trainer runs its steps: results go back to the pool when it ends.
        public void Forward(AttentionSpec spec, bool composed = false)
        {
            using var scope = StorageScope.Begin();
            using (new NoGrad())
            {
                if (composed) AttentionReference.Compute(Q, K, V, spec);
                else Tensor.CausalAttention(Q, K, V, spec);
            }
        }

        public void ForwardBackward(AttentionSpec spec, bool composed = false)
        {
            using var scope = StorageScope.Begin();
            var y = composed ? AttentionReference.Compute(Q, K, V, spec) : Tensor.CausalAttention(Q, K, V, spec);
            y.Backward(Dy);
            Q.ZeroGrad(); K.ZeroGrad(); V.ZeroGrad();
        }
    }

    public static int Run(string[] args)
    {
        int threads = Args.Int(args, "--threads", Environment.ProcessorCount);
        double? peerMs = Args.Double(args, "--peer-ms");
        string? only = Args.Value(args, "--only");
        bool forwardOnly = args.Contains("--forward-only");
        double spin = Args.Double(args, "--spin") ?? 0;
        if (!(spin >= 0 && spin <= 3600))
            throw new ArgumentException($"attention: --spin must be between 0 and 3600 seconds; got {spin}");
        string[] names = ["softmax", "lssar", "composed"];
        if (only is not null && !names.Contains(only))
            throw new ArgumentException($"attention: --only must be one of {string.Join(", ", names)}; got '{only}'");
        EngineThreads.Count = threads;
        var inputs = new Inputs();
        Console.WriteLine($"causal attention B={B} H={H} T={T} d_head={D}, float32, Tensor.CausalAttention; EngineThreads.Count = {threads}; median of 9 samples");
        Console.WriteLine();
        Console.WriteLine("| attention | threads | fwd ms | fwd+bwd ms | alloc MB per fwd+bwd | peer fwd+bwd ms (sdpa) | Engine / peer |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (name, label, spec, composed) in new[]
                 {
                     ("softmax", "Softmax (fused)", AttentionSpec.Softmax, false), ("lssar", "LSSAR (fused)", AttentionSpec.Lssar, false),
                     ("composed", "Softmax (composed: batched matmul, mask, softmax)", AttentionSpec.Softmax, true),
                 })
        {
            if (only is not null && name != only) continue;
            for (var clock = System.Diagnostics.Stopwatch.StartNew(); clock.Elapsed.TotalSeconds < spin;)
                if (forwardOnly) inputs.Forward(spec, composed);
                else inputs.ForwardBackward(spec, composed);
            double fwd = Timing.TimeIt(() => inputs.Forward(spec, composed), 9, 0.2);
            if (forwardOnly)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {label} | {threads} | {fwd * 1e3:F2} | — | — | — | — |"));
                continue;
            }
            double fb = Timing.TimeIt(() => inputs.ForwardBackward(spec, composed), 9, 0.2);
            long a0 = GC.GetTotalAllocatedBytes(precise: true);
            inputs.ForwardBackward(spec, composed);
            long alloc = GC.GetTotalAllocatedBytes(precise: true) - a0;
            string peer = peerMs is double p ? p.ToString("F2", CultureInfo.InvariantCulture) : "—";
            string ratio = peerMs is double q ? (fb * 1e3 / q).ToString("F2", CultureInfo.InvariantCulture) : "—";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {label} | {threads} | {fwd * 1e3:F2} | {fb * 1e3:F2} | {alloc / 1e6:F1} | {peer} | {ratio} |"));
        }
        return 0;
    }
}
