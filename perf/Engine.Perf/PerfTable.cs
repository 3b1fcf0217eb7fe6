using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using System.Text;
using System.Text.Json;

namespace Engine.Perf;

/// <summary>How a row's figure reads.</summary>
internal enum Unit
{
    /// <summary>GFLOP/s from the row's FLOPs and the median time; higher is better.</summary>
    GFlops,
    /// <summary>Milliseconds per call; lower is better.</summary>
    Ms,
    /// <summary>Tokens per second from a row-specific measurement; higher is better.</summary>
    TokensPerSecond,
}

/// <summary>One line of the table: what is measured, on how many threads, and how to run it once.</summary>
/// <param name="Key">The peer harness's row name, so the peer's figure can be looked up in its output (null: no peer figure).</param>
/// <param name="What">The text shown in the table.</param>
/// <param name="Threads">EngineThreads.Count while measuring.</param>
/// <param name="Unit">How the figure reads.</param>
/// <param name="Flops">Floating-point operations per call, for <see cref="Unit.GFlops"/>.</param>
/// <param name="Prepare">Allocates the operands and returns the call to time (for GFLOP/s and ms rows).</param>
/// <param name="PeerColumn">Which figure of the peer's row (3 = the first after the thread count).</param>
/// <param name="Target">The issue's target as Engine's speed over the peer's (≥ this is met), if it sets one.</param>
/// <param name="Measure">For tokens/s rows: measures and returns the figure directly.</param>
internal sealed record PerfRow(string? Key, string What, int Threads, Unit Unit, double Flops, Func<Action>? Prepare,
    int PeerColumn = 3, double? Target = null, Func<double>? Measure = null)
{
    public bool IsRate => Unit != Unit.Ms;
}

/// <summary>
/// The `table` command: measures every row of <see cref="Rows"/> (matrix products, fused attention, the GPT train
/// step, sampling with the KV cache) and prints one Markdown table with Engine's figure, the physical limit (the
/// FMA peak measured in the same run for the products; for the attention and train-step rows, the time their matrix
/// products would take at that peak), the peer's figure, the ratio and the issue's target; then the train step's
/// allocation and memory, each configuration measured in a process of its own.
/// </summary>
internal static class PerfTable
{
    private const string Sdpa = "F.scaled_dot_product_attention(is_causal)";

    private const string TrainStepRow = "GPT train step, ", TrainStepShape = " (4×128, ctx 256, batch 16)";

    /// <summary>Train-step configurations (attention, threads) already run past the JIT's warm-up in this process.</summary>
    private static readonly HashSet<(string, int)> WarmedUp = [];

    /// <summary>Bytes allocated per generated token and the decoder's room per position among them, by context, from the sampling rows.</summary>
    private static readonly Dictionary<int, (double Bytes, double Room)> SamplingBytes = [];

    private static IEnumerable<PerfRow> Rows(bool quick)
    {
        foreach (int th in new[] { 1, 2 })
            yield return Product("square 1024", "SGEMM 1024³", 1024, 1024, 1024, th, th == 2 ? 1.3 : null);
        foreach (int th in new[] { 2, 1 })
        {
            yield return Product("[4096,128]x[128,384]  (QKV)", "[4096,128]·[128,384] (QKV)", 4096, 128, 384, th, 1.0);
            yield return Product("[4096,128]x[128,128]  (attn proj)", "[4096,128]·[128,128] (attn proj)", 4096, 128, 128, th, 1.0);
            yield return Product("[4096,128]x[128,512]  (MLP up)", "[4096,128]·[128,512] (MLP up)", 4096, 128, 512, th, 1.0);
            yield return Product("[4096,512]x[512,128]  (MLP down)", "[4096,512]·[512,128] (MLP down)", 4096, 512, 128, th, 1.0);
            yield return Product("[4096,128]x[128,65]   (LM head)", "[4096,128]·[128,65] (LM head)", 4096, 128, 65, th, 1.0);
            yield return Product("[4096,128]^T x[4096,512] (dW, K=4096)", "[4096,128]ᵀ·[4096,512] (dW, K = 4096)", 128, 4096, 512, th, 1.0, transA: true);
            yield return Product(null, "[4096,512]ᵀ·[4096,128] (dW, K = 4096)", 512, 4096, 128, th, null, transA: true);
            yield return Product(null, "[4096,512]·[128,512]ᵀ (dX)", 4096, 512, 128, th, null, transB: true);
            yield return Product("bmm 32x[256,32]x[32,256] (QK^T)", "32 × [256,32]·[32,256] (QKᵀ)", 256, 32, 256, th, 1.0, batch: 32);
            yield return Product("bmm 32x[256,256]x[256,32] (AV)", "32 × [256,256]·[256,32] (AV)", 256, 256, 32, th, 1.0, batch: 32);
        }
        if (quick) yield break;
        foreach (int th in new[] { 2, 1 })
            foreach (var (label, spec) in new[] { ("Softmax", AttentionSpec.Softmax), ("LSSAR", AttentionSpec.Lssar) })
            {
                // fused attention against libtorch's SDPA: forward ≤ 1.0× its time, forward + backward ≤ 0.8×
                var inputs = new Lazy<AttentionBench.Inputs>(() => new AttentionBench.Inputs());
                double pairs = AttentionBench.CausalProductFlops(AttentionBench.B * AttentionBench.H, AttentionBench.T, AttentionBench.D);
                yield return new PerfRow(Sdpa, $"attention {label} forward (B8 H4 T256 d32)", th, Unit.Ms, 2 * pairs,
                    () => { var x = inputs.Value; return () => x.Forward(spec); }, PeerColumn: 3, Target: 1.0);
                yield return new PerfRow(Sdpa, $"attention {label} forward + backward", th, Unit.Ms, 6 * pairs,
                    () => { var x = inputs.Value; return () => x.ForwardBackward(spec); }, PeerColumn: 4, Target: 1 / 0.8);
            }
        foreach (int th in new[] { 2, 1 })
            foreach (var (label, spec) in new[] { ("Softmax", AttentionSpec.Softmax), ("LSSAR", AttentionSpec.Lssar) })
                // the peer's GPT with SDPA; target: Engine's step ≤ 0.6× its time
                yield return new PerfRow("F.scaled_dot_product_attention", $"{TrainStepRow}{label}{TrainStepShape}", th, Unit.Ms, TrainStepBench.ProductFlops(),
                    () =>
                    {
                        var loop = new TrainStepBench.TrainLoop(spec);
                        // once per configuration and process: past the tiered JIT's promotions (see TrainStepBench.SteadyWarmUp)
                        if (WarmedUp.Add((label, th)))
                            for (int i = 0; i < TrainStepBench.SteadyWarmUp; i++) loop.Step();
                        return () => loop.Step();
                    }, PeerColumn: 4, Target: 1 / 0.6);
        foreach (int context in new[] { 256, 1024 })
            yield return new PerfRow(null, $"sampling with the KV cache at context {context} (same model, greedy)", 2, Unit.TokensPerSecond, 0, null,
                Measure: () =>
                {
                    using var trace = TrainStepBench.TraceAllocations ? new AllocationTrace() : null;
                    trace?.Start();
                    var (seconds, bytes) = SamplingBench.Measure(context);
                    trace?.Stop();
                    trace?.Print(Console.Error, 10 * SamplingBench.Tokens);
                    double room = SamplingBench.RoomBytesPerToken(context);
                    Console.Error.WriteLine($"  sampling at {context}: {bytes:F0} B allocated per token, {bytes - room:F0} B beyond the decoder's room for it");
                    SamplingBytes[context] = (bytes, room);   // the last repeat's, printed under the table
                    return 1 / seconds;
                });
    }

    /// <summary>C = A·B through the public Tensor API (a new result per call, like the peer's mm/bmm).</summary>
    private static PerfRow Product(string? key, string what, int m, int k, int n, int threads, double? target,
        bool transA = false, bool transB = false, int batch = 1) =>
        new(key, what, threads, Unit.GFlops, 2.0 * m * n * k * batch, () =>
        {
            var a = transA ? Tensor.RandN([k, m], 1).T : batch > 1 ? Tensor.RandN([batch, m, k], 1) : Tensor.RandN([m, k], 1);
            var b = transB ? Tensor.RandN([n, k], 2).T : batch > 1 ? Tensor.RandN([batch, k, n], 2) : Tensor.RandN([k, n], 2);
            // In a StorageScope, as a training step runs it: the result's array goes back to the pool and the next
            // call reuses it (libtorch's allocator keeps freed blocks too; a fresh array each call would measure the
            // operating system's page faults rather than the product).
            return () =>
            {
                using var scope = StorageScope.Begin();
                a.MatMul(b);
            };
        }, Target: target);

    /// <summary>
    /// Options: <c>--quick</c> (matrix products only, 3 shorter samples), <c>--rows TEXT</c> (only rows whose text
    /// contains TEXT), <c>--repeat N</c> (measure everything N times; each figure is the median over the repeats),
    /// <c>--between CMD</c> (run CMD with bash before each repeat, with RUN set to the repeat's index: the peer
    /// harness, so that both are measured alternately in one window), <c>--peer FILE[,FILE...]</c> (outputs of the
    /// peer harness, read after the repeats; the median over the files is used), <c>--no-memory</c> (skip the
    /// allocation table).
    /// </summary>
    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        TrainStepBench.TraceAllocations = args.Contains("--trace-alloc");
        string? filter = Option(args, "--rows");
        int repeat = int.Parse(Option(args, "--repeat") ?? "1", CultureInfo.InvariantCulture);
        string? between = Option(args, "--between");
        int samples = quick ? 3 : 7;
        double minSample = quick ? 0.05 : 0.1;
        var rows = Rows(quick).Where(r => filter is null || r.What.Contains(filter, StringComparison.OrdinalIgnoreCase)).ToList();

        var peakRuns = new Dictionary<int, List<double>> { [1] = [], [2] = [] };
        var pairedRatios = new Dictionary<int, List<double>> { [1] = [], [2] = [] };
        var rowRuns = rows.Select(_ => new List<double>()).ToList();
        int saved = EngineThreads.Count;
        try
        {
            for (int run = 0; run < repeat; run++)
            {
                if (between is not null) RunBetween(between, run);
                foreach (int th in new[] { 1, 2 })
                {
                    peakRuns[th].Add(FmaPeak.GFlops(th));
                    Console.Error.WriteLine($"  [{run}] fma peak, {th} thread(s): {peakRuns[th][^1]:F1} GFLOP/s");
                }
                for (int i = 0; i < rows.Count; i++)
                {
                    var row = rows[i];
                    EngineThreads.Count = row.Threads;
                    double value;
                    if (row.Measure is not null) value = row.Measure();
                    else
                    {
                        var body = row.Prepare!();
                        double sec = Timing.TimeIt(body, samples, minSample);
                        value = row.Unit == Unit.GFlops ? row.Flops / sec / 1e9 : sec * 1e3;
                    }
                    rowRuns[i].Add(value);
                    Console.Error.WriteLine($"  [{run}] {row.What}, {row.Threads} thread(s): {value:F2}");
                }
                foreach (int th in new[] { 2, 1 })
                    if (rows.Any(r => r.Threads == th && r.What.StartsWith(TrainStepRow, StringComparison.Ordinal)))
                    {
                        EngineThreads.Count = th;
                        double ratio = TrainStepBench.InterleavedRatio(AttentionSpec.Lssar, AttentionSpec.Softmax, pairs: samples);
                        pairedRatios[th].Add(ratio);
                        Console.Error.WriteLine($"  [{run}] LSSAR's train step over Softmax's, interleaved, {th} thread(s): {ratio:F3}");
                    }
            }
        }
        finally { EngineThreads.Count = saved; }

        string? peerFiles = Option(args, "--peer");
        var peer = peerFiles is null ? PeerFigures.Recorded : PeerFigures.Median(peerFiles.Split(',').Select(f => PeerFigures.Parse(File.ReadAllText(f))));
        string peerLabel = peerFiles is null ? PeerFigures.Provenance : $"median of {peerFiles.Split(',').Length} run(s) of the peer harness (`matmul`, `attn`, `gpt`), alternating with Engine's";

        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine($"Engine performance table: {Cpu()}, {Environment.ProcessorCount} logical CPUs, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}, " +
                      $"kernels {Isa()}, float32; each figure the median of {samples} samples" +
                      (repeat > 1 ? $", then the median over {repeat} repeats." : "."));
        sb.AppendLine();
        sb.AppendLine("| what (float32) | threads | Engine | physical limit | libtorch | Engine / limit | Engine vs libtorch | target | met |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |");
        var peak = peakRuns.ToDictionary(kv => kv.Key, kv => Timing.Median(kv.Value));
        string peakWhat = $"FMA peak ({(Vector512.IsHardwareAccelerated ? "Vector512" : "Vector256")}.FusedMultiplyAdd, 12 accumulators)";
        foreach (int th in new[] { 1, 2 })
            sb.AppendLine(inv, $"| {peakWhat} | {th} | {peak[th]:F0} GFLOP/s | — | — | — | — | — | |");
        var medians = new Dictionary<(string What, int Threads), double>();
        // products: the FMA peak; timed rows: their matrix products' least time at that peak (ms)
        double? Limit(PerfRow row) => row.Unit == Unit.GFlops ? peak[row.Threads] : row.Unit == Unit.Ms && row.Flops > 0 ? row.Flops / peak[row.Threads] / 1e6 : null;
        double? Peer(PerfRow row) => row.Key is not null && peer.TryGetValue((row.Key, row.Threads, row.PeerColumn), out var pv) ? pv : null;
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            double value = Timing.Median(rowRuns[i]);
            medians[(row.What, row.Threads)] = value;
            string unit = row.Unit switch { Unit.GFlops => "GFLOP/s", Unit.Ms => "ms", _ => "tokens/s" };
            double? limit = Limit(row), p = Peer(row);
            string Fmt(double? v) => v is double d ? d.ToString(row.Unit == Unit.Ms ? (d < 100 ? "F2" : "F1") : "F0", inv) + " " + unit : "—";
            double? speed = p is double pp ? (row.IsRate ? value / pp : pp / value) : null;
            string ratioPeer = speed is double r ? r.ToString("F2", inv) + "×" : "—";
            string ratioLimit = limit is double l ? ((row.IsRate ? value / l : l / value) * 100).ToString("F0", inv) + " %" : "—";
            string target = row.Target is double t ? "≥ " + t.ToString("F2", inv) + "×" : "—";
            string met = row.Target is double t2 && speed is double r2 ? (r2 >= t2 ? "yes" : "no") : "";
            sb.AppendLine($"| {row.What} | {row.Threads} | {Fmt(value)} | {Fmt(limit)} | {Fmt(p)} | {ratioLimit} | {ratioPeer} | {target} | {met} |");
        }
        sb.AppendLine();
        sb.AppendLine($"libtorch: {peerLabel}. \"Engine vs libtorch\" is Engine's speed over libtorch's (GFLOP/s or tokens/s over " +
                      "theirs; for times, their ms over Engine's): above 1 means Engine is faster. Targets are the performance issue's, " +
                      "in the same terms (a time ≤ 0.6× libtorch's is a ratio ≥ 1.67×). Attention rows compare with libtorch's " +
                      "scaled_dot_product_attention; the train step with the peer's GPT using it. For the timed rows the physical " +
                      "limit is the time their matrix products alone would take at the FMA peak (the least FLOPs: causal pairs " +
                      "only, nothing recomputed; norms, GELU, the attention row maps, the loss and the optimiser not counted), and " +
                      "\"Engine / limit\" that time over Engine's.");
        foreach (var step in rows.Where(r => r.What == $"{TrainStepRow}Softmax{TrainStepShape}").OrderByDescending(r => r.Threads))
        {
            if (Peer(step) is not double peerMs || Limit(step) is not double boundMs) continue;
            double targetMs = peerMs / step.Target!.Value;
            sb.AppendLine(inv, $"Train step, {step.Threads} thread(s): the target (≤ {1 / step.Target.Value:F1}× libtorch's {peerMs:F1} ms) is {targetMs:F1} ms; its matrix products ({step.Flops / 1e9:F1} GFLOP) take {boundMs:F1} ms at this run's FMA peak, {boundMs / targetMs * 100:F0} % of it, leaving {targetMs - boundMs:F1} ms for everything else even with every product at the peak.");
        }
        foreach (int th in new[] { 2, 1 })
        {
            var ratios = pairedRatios[th];
            if (ratios.Count == 0) continue;
            string rowsRatio = medians.TryGetValue(($"{TrainStepRow}LSSAR{TrainStepShape}", th), out var b) && medians.TryGetValue(($"{TrainStepRow}Softmax{TrainStepShape}", th), out var a)
                ? string.Create(inv, $"; the rows above, timed one after the other, give {b / a:F3}") : "";
            sb.AppendLine(inv, $"LSSAR's train step over Softmax's, {th} thread(s): {Timing.Median(ratios):F3} (target ≤ 1.05; the two models' steps alternating, the median of {samples} pairs' ratios{(repeat > 1 ? $", then over {repeat} repeats" : "")}{rowsRatio}).");
        }
        foreach (var (context, (bytes, room)) in SamplingBytes.OrderBy(kv => kv.Key))
            sb.AppendLine(inv, $"Sampling at context {context} allocates {bytes / 1e3:F1} kB per token: {room / 1e3:F1} kB is the room the decoder makes for each position when the generation starts (KV cache, transposed keys, score rows; measured by making decoders of the two generations' lengths), {bytes - room:F0} B is beyond it (target: allocation-free).");
        if (!quick && !args.Contains("--no-memory") && filter is null) sb.Append(MemoryTable());
        Console.WriteLine(sb.ToString());
        return 0;
    }

    /// <summary>The train step's allocation and memory over 100 steps after warm-up, each configuration in its own process.</summary>
    private static string MemoryTable()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine("Allocation and memory of the GPT train step (2 threads; 10 warm-up steps, then 100 measured; each configuration in a process of its own, so the peak is its alone):");
        sb.AppendLine();
        sb.AppendLine("| attention | ms/step | allocated per step | gen0 / gen1 / gen2 collections in 100 steps | peak working set | target |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: | --- |");
        foreach (var label in new[] { "Softmax", "LSSAR" })
        {
            var r = Child(label);
            sb.AppendLine(inv, $"| {label} | {r.Ms:F1} | {r.AllocBytesPerStep / 1e6:F2} MB | {r.Gen0PerStep * 100:F0} / {r.Gen1PerStep * 100:F0} / {r.Gen2PerStep * 100:F0} | {r.PeakWorkingSetMiB:F0} MiB | ≤ 1 MB, no gen-2, peak ≤ 658 MiB |");
        }
        sb.AppendLine();
        sb.AppendLine("Before this work (the issue's figures, Softmax): 717 MB per step, 4.5 / 3.9 / 3.7 collections per step, 1,315 MiB peak working set.");
        return sb.ToString();
    }

    private static TrainStepBench.Result Child(string attention)
    {
        string self = Environment.ProcessPath ?? "dotnet";
        var psi = new ProcessStartInfo(self) { UseShellExecute = false, RedirectStandardOutput = true };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(PerfTable).Assembly.Location);
        foreach (var a in new[] { "trainstep", "--threads", "2", "--warm", "10", "--steps", "100", "--only", attention, "--json" }) psi.ArgumentList.Add(a);
        using var proc = Process.Start(psi) ?? throw new InvalidOperationException("could not start the train-step child process");
        string output = proc.StandardOutput.ReadToEnd();
        proc.WaitForExit();
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("json ", StringComparison.Ordinal))
                   ?? throw new InvalidOperationException($"the train-step child process (exit {proc.ExitCode}) printed no result: {output}");
        return JsonSerializer.Deserialize<TrainStepBench.Result>(line[5..])!;
    }

    /// <summary>The processor's model name (from /proc/cpuinfo where there is one).</summary>
    internal static string Cpu()
    {
        try
        {
            var lines = File.ReadAllLines("/proc/cpuinfo");
            string Field(string name) => lines.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
            return $"{Field("model name")} (family {Field("cpu family")} model {Field("model\t")})";
        }
        catch (IOException) { return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString(); }
    }

    /// <summary>Which SIMD paths the runtime accelerates here.</summary>
    internal static string Isa() =>
        Vector512.IsHardwareAccelerated ? "Vector512 (AVX-512)" : Vector256.IsHardwareAccelerated ? "Vector256 (AVX2)" : Vector128.IsHardwareAccelerated ? "Vector128" : "scalar";

    private static void RunBetween(string command, int run)
    {
        var psi = new ProcessStartInfo("bash", ["-c", command]) { UseShellExecute = false };
        psi.Environment["RUN"] = run.ToString(CultureInfo.InvariantCulture);
        using var proc = Process.Start(psi) ?? throw new InvalidOperationException($"could not start: {command}");
        proc.WaitForExit();
        if (proc.ExitCode != 0) throw new InvalidOperationException($"`{command}` exited with {proc.ExitCode}");
    }

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
