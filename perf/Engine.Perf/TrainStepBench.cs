using System.Diagnostics;
using System.Globalization;
using Engine.Nn;

namespace Engine.Perf;

/// <summary>
/// `trainstep [--threads N] [--steps N] [--warm N] [--peer-ms X]`: one GPT training step in the peer harness's
/// configuration (vocab 65, 4 layers, 4 heads, d_model 128, MLP 4× GELU, pre-LayerNorm, learned absolute positions,
/// biases, untied head, context 256, batch 16, AdamW lr 3e-4 wd 0.1 on every parameter, no dropout, no clipping),
/// for Softmax and LSSAR attention. Prints a Markdown table: ms/step (median of the timed steps after warm-up), the
/// forward / backward / optimiser split, tokens/s, process CPU time per step (mean; all threads, so it is less sensitive than wall time to
/// other processes on a loaded machine), GC collections and allocated bytes per step, peak working set.
/// One difference from the peer: Engine's GELU is the tanh approximation, the peer's is exact erf.
/// </summary>
internal static class TrainStepBench
{
    private const int Vocab = 65, Layers = 4, Heads = 4, ModelDim = 128, Context = 256, Batch = 16;

    /// <summary>Per-step figures of one configuration.</summary>
    internal sealed record Result(string Attention, int Threads, long Parameters, double Ms, double FwdMs, double BwdMs, double OptMs,
        double TokensPerSecond, double AllocBytesPerStep, double Gen0PerStep, double Gen1PerStep, double Gen2PerStep,
        double PeakWorkingSetMiB, double CpuMsPerStep, double FirstLoss, double LastLoss, int Steps);

    public static int Run(string[] args)
    {
        int threads = Args.Int(args, "--threads", Environment.ProcessorCount);
        int steps = Args.Int(args, "--steps", 15);
        int warm = Args.Int(args, "--warm", SteadyWarmUp);
        double? peerMs = Args.Double(args, "--peer-ms");
        TraceAllocations = args.Contains("--trace-alloc");
        EngineThreads.Count = threads;
        bool json = args.Contains("--json");   // one "json {...}" line per configuration, for the table command
        if (!json)
        {
            Console.WriteLine($"GPT train step: vocab {Vocab}, {Layers} layers, {Heads} heads, d_model {ModelDim}, MLP 4x GELU (tanh approximation), " +
                              $"pre-LayerNorm, learned positions, biases, untied head, ctx {Context}, batch {Batch}, AdamW(lr 3e-4, wd 0.1); " +
                              $"EngineThreads.Count = {threads}, {warm} warm-up + {steps} timed steps, medians");
            Console.WriteLine();
            Console.WriteLine("| attention | threads | params | ms/step | CPU ms/step | fwd ms | bwd ms | AdamW ms | tokens/s | alloc MB/step | gen0/gen1/gen2 per step | peak working set MiB | loss first→last | peer ms/step | Engine / peer |");
            Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: |");
        }
        string? only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
        foreach (var (label, spec) in new[] { ("Softmax", AttentionSpec.Softmax), ("LSSAR", AttentionSpec.Lssar) })
        {
            if (only is not null && !label.Equals(only, StringComparison.OrdinalIgnoreCase)) continue;
            var r = Measure(label, spec, threads, steps, warm);
            if (json)
            {
                Console.WriteLine("json " + System.Text.Json.JsonSerializer.Serialize(r));
                continue;
            }
            string peer = peerMs is double p && label == "Softmax" ? p.ToString("F1", CultureInfo.InvariantCulture) : "—";
            string ratio = peerMs is double q && label == "Softmax" ? (r.Ms / q).ToString("F2", CultureInfo.InvariantCulture) : "—";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Attention} | {r.Threads} | {r.Parameters} | {r.Ms:F1} | {r.CpuMsPerStep:F0} | {r.FwdMs:F1} | {r.BwdMs:F1} | {r.OptMs:F1} | {r.TokensPerSecond:F0} | " +
                $"{r.AllocBytesPerStep / 1e6:F1} | {r.Gen0PerStep:F2}/{r.Gen1PerStep:F2}/{r.Gen2PerStep:F2} | {r.PeakWorkingSetMiB:F0} | {r.FirstLoss:F3}→{r.LastLoss:F3} ({r.Steps} steps) | {peer} | {ratio} |"));
        }
        return 0;
    }

    /// <summary>
    /// Floating-point operations of one step's matrix products, the least any implementation must do: per layer the
    /// qkv, output, MLP-up and MLP-down products, and the LM head, each once forward and twice backward (the input's
    /// and the weight's gradient); causal attention's QKᵀ and weights·V over the T(T+1)/2 visible pairs of each
    /// head forward, and four such products backward (dV, d(weights), dQ, dK), with no recomputation counted.
    /// Nothing else (norms, GELU, the row maps, the loss, the optimiser) is in it: the step can take no less than
    /// this over the FMA peak.
    /// </summary>
    public static double ProductFlops()
    {
        double tokens = (double)Batch * Context, c = ModelDim, mlp = 4 * c;
        double dense = 2 * tokens * (c * 3 * c + c * c + 2 * c * mlp) * Layers + 2 * tokens * c * Vocab;
        double attention = 6 * Layers * AttentionBench.CausalProductFlops(Batch * Heads, Context, ModelDim / Heads);
        return 3 * dense + attention;
    }

    /// <summary>The peer's model configuration in Engine's terms.</summary>
    public static GptConfig Config(AttentionSpec attention) => new()
    {
        VocabSize = Vocab, ContextLength = Context, Layers = Layers, Heads = Heads, ModelDim = ModelDim, MlpRatio = 4,
        Attention = attention, Norm = NormKind.LayerNorm, Bias = true, PositionEmbedding = PositionEmbedding.Learned,
        TieEmbeddings = false, Dropout = 0,
    };

    /// <summary>A deterministic synthetic character stream (the peer's repeated sentence), as token ids.</summary>
    public static int[] Corpus()
    {
        const string text = "the quick brown fox jumps over the lazy dog; PACK MY BOX WITH FIVE DOZEN LIQUOR JUGS! 0123456789\n";
        return text.Select(ch => ch % Vocab).ToArray();
    }

    /// <summary>One model + optimiser + batch source, stepped by <see cref="Step"/>.</summary>
    internal sealed class TrainLoop
    {
        private readonly int[] ids = Corpus();
        private readonly Random rng = new(1234);
        private readonly int[] xb = new int[Batch * Context], yb = new int[Batch * Context];

        public TrainLoop(AttentionSpec spec)
        {
            Model = new Gpt(Config(spec), seed: 1337);
            Model.Train();
            Optimizer = new AdamW(Model, learningRate: 3e-4, weightDecay: 0.1);
        }

        public Gpt Model { get; }
        public AdamW Optimizer { get; }

        /// <summary>One step; returns the loss and the three phase times in seconds.</summary>
        public (double Loss, double Fwd, double Bwd, double Opt) Step()
        {
            // As Engine.Nn's Trainer does: what the step creates is freed when it ends (host arrays go back to the pool).
            using var scope = StorageScope.Begin();
            for (int b = 0; b < Batch; b++)
            {
                int off = rng.Next(ids.Length);
                for (int t = 0; t < Context; t++)
                {
                    xb[b * Context + t] = ids[(off + t) % ids.Length];
                    yb[b * Context + t] = ids[(off + t + 1) % ids.Length];
                }
            }
            var x = Tensor.FromArray<int>(xb, [Batch, Context]);
            var y = Tensor.FromArray<int>(yb, [Batch, Context]);
            long t0 = Stopwatch.GetTimestamp();
            var loss = Model.Loss(x, y);
            double lossValue = loss.Item();
            long t1 = Stopwatch.GetTimestamp();
            Optimizer.ZeroGrad();
            loss.Backward();
            long t2 = Stopwatch.GetTimestamp();
            Optimizer.Step();
            Optimizer.ZeroGrad();
            long t3 = Stopwatch.GetTimestamp();
            double f = Stopwatch.Frequency;
            return (lossValue, (t1 - t0) / f, (t2 - t1) / f, (t3 - t2) / f);
        }
    }

    /// <summary>`--trace-alloc`: print what the timed steps' allocations are made of (to stderr).</summary>
    public static bool TraceAllocations { get; set; }

    /// <summary>
    /// Warm-up steps before a step is timed as training sees it: methods that run once or twice a step (the loss, the
    /// optimiser, the drivers around the kernels) start as unoptimised tier-0 code and are recompiled after 30 calls,
    /// so the first 30-odd steps are slower (measured on an Intel Xeon, family 6 model 207, 2 threads, Softmax: 295 ms
    /// per step after 5 warm-up steps, 268 after 40). A training run takes thousands of steps; the peer has no JIT.
    /// </summary>
    public const int SteadyWarmUp = 40;

    /// <summary>
    /// The step time of <paramref name="spec"/> over that of <paramref name="baseline"/>, with the two models' steps
    /// alternating so that both see the same state of the machine (on a shared VM its speed drifts over seconds, more
    /// than the difference between the two): each configuration is warmed up, then the median over
    /// <paramref name="pairs"/> pairs of the ratio of one step of each.
    /// </summary>
    public static double InterleavedRatio(AttentionSpec spec, AttentionSpec baseline, int pairs)
    {
        var loops = new[] { new TrainLoop(spec), new TrainLoop(baseline) };
        foreach (var loop in loops)
            for (int i = 0; i < 3; i++) loop.Step();   // the process is past the JIT's warm-up (see SteadyWarmUp); this fills the pools
        var ratios = new List<double>(pairs);
        for (int i = 0; i < pairs; i++)
        {
            // the order alternates too, so neither always runs first after the other
            double t0 = Time(loops[i % 2]), t1 = Time(loops[1 - i % 2]);
            ratios.Add(i % 2 == 0 ? t0 / t1 : t1 / t0);
        }
        return Timing.Median(ratios);

        static double Time(TrainLoop loop)
        {
            long t = Stopwatch.GetTimestamp();
            loop.Step();
            return Stopwatch.GetElapsedTime(t).TotalSeconds;
        }
    }

    public static Result Measure(string label, AttentionSpec spec, int threads, int steps, int warm)
    {
        EngineThreads.Count = threads;
        var s = new TrainLoop(spec);
        double first = double.NaN, last = double.NaN;
        for (int i = 0; i < warm; i++)
        {
            var w = s.Step();
            if (i == 0) first = w.Loss;
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var tot = new List<double>(); var tf = new List<double>(); var tb = new List<double>(); var to = new List<double>();
        using var trace = TraceAllocations ? new AllocationTrace() : null;
        trace?.Start();
        long alloc0 = GC.GetTotalAllocatedBytes(precise: true);
        long miss0 = Engine.Cpu.CpuArrayPool.NewBytesOnThisThread;
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
        for (int i = 0; i < steps; i++)
        {
            var r = s.Step();
            last = r.Loss;
            if (warm == 0 && i == 0) first = r.Loss;
            tot.Add(r.Fwd + r.Bwd + r.Opt); tf.Add(r.Fwd); tb.Add(r.Bwd); to.Add(r.Opt);
        }
        long alloc = GC.GetTotalAllocatedBytes(precise: true) - alloc0;
        trace?.Stop();
        trace?.Print(Console.Error, steps);
        if (TraceAllocations) Console.Error.WriteLine($"  pool misses {(Engine.Cpu.CpuArrayPool.NewBytesOnThisThread - miss0) / 1e6 / steps:F1} MB/step");
        double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMilliseconds / steps;
        double n = steps;
        double ms = Timing.Median(tot) * 1e3;
        using var proc = Process.GetCurrentProcess();
        proc.Refresh();
        return new Result(label, threads, s.Model.Parameters().Sum(p => (long)p.Count), ms, Timing.Median(tf) * 1e3, Timing.Median(tb) * 1e3,
            Timing.Median(to) * 1e3, Batch * Context / (ms / 1e3), alloc / n,
            (GC.CollectionCount(0) - g0) / n, (GC.CollectionCount(1) - g1) / n, (GC.CollectionCount(2) - g2) / n,
            proc.PeakWorkingSet64 / (1024.0 * 1024.0), cpuMs, first, last, warm + steps);
    }
}

/// <summary>Tiny command-line option reader for the benchmark commands.</summary>
internal static class Args
{
    public static int Int(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    public static double? Double(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : null;
    }

    public static string? Value(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
