using System.Globalization;
using System.Runtime.Intrinsics;
using System.Text;

namespace Engine.Perf;

/// <summary>One line of the table: what is measured, on how many threads, and how to run it once.</summary>
/// <param name="Key">Matches the peer harness's row name, so peer figures can be looked up (and parsed from its output).</param>
/// <param name="What">The text shown in the table.</param>
/// <param name="Threads">EngineThreads.Count while measuring.</param>
/// <param name="Flops">Floating-point operations per call: the row reports GFLOP/s when positive, ms per call when zero.</param>
/// <param name="Prepare">Allocates the operands and returns the call to time.</param>
/// <param name="PeakIsLimit">Whether the FMA peak on the same thread count is this row's physical limit.</param>
internal sealed record PerfRow(string Key, string What, int Threads, double Flops, Func<Action> Prepare, bool PeakIsLimit = true);

/// <summary>
/// The `table` command: measures every row of <see cref="Rows"/> and prints one Markdown table with Engine's figure,
/// the physical limit (the FMA peak measured in the same run), the peer's figure and the ratios. New rows (attention,
/// training step) are one <see cref="PerfRow"/> each in <see cref="Rows"/> plus, if the peer measures them, a figure in
/// <see cref="PeerFigures"/>.
/// </summary>
internal static class PerfTable
{
    private static IEnumerable<PerfRow> Rows()
    {
        foreach (int th in new[] { 1, 2 })
            yield return Product("square 1024", "SGEMM 1024³", 1024, 1024, 1024, th);
        foreach (int th in new[] { 2, 1 })
        {
            yield return Product("[4096,128]x[128,384]  (QKV)", "[4096,128]·[128,384] (QKV)", 4096, 128, 384, th);
            yield return Product("[4096,128]x[128,128]  (attn proj)", "[4096,128]·[128,128] (attn proj)", 4096, 128, 128, th);
            yield return Product("[4096,128]x[128,512]  (MLP up)", "[4096,128]·[128,512] (MLP up)", 4096, 128, 512, th);
            yield return Product("[4096,512]x[512,128]  (MLP down)", "[4096,512]·[512,128] (MLP down)", 4096, 512, 128, th);
            yield return Product("[4096,128]x[128,65]   (LM head)", "[4096,128]·[128,65] (LM head)", 4096, 128, 65, th);
            yield return Product("[4096,128]^T x[4096,512] (dW, K=4096)", "[4096,128]ᵀ·[4096,512] (dW, K = 4096)", 128, 4096, 512, th, transA: true);
            yield return Product("[4096,512]^T x[4096,128] (dW, K=4096)", "[4096,512]ᵀ·[4096,128] (dW, K = 4096)", 512, 4096, 128, th, transA: true);
            yield return Product("[4096,512]x[128,512]^T (dX)", "[4096,512]·[128,512]ᵀ (dX)", 4096, 512, 128, th, transB: true);
            yield return Product("bmm 32x[256,32]x[32,256] (QK^T)", "32 × [256,32]·[32,256] (QKᵀ)", 256, 32, 256, th, batch: 32);
            yield return Product("bmm 32x[256,256]x[256,32] (AV)", "32 × [256,256]·[256,32] (AV)", 256, 256, 32, th, batch: 32);
        }
    }

    /// <summary>C = A·B through the public Tensor API (allocating the result, like the peer's mm/bmm).</summary>
    private static PerfRow Product(string key, string what, int m, int k, int n, int threads,
        bool transA = false, bool transB = false, int batch = 1) =>
        new(key, what, threads, 2.0 * m * n * k * batch, () =>
        {
            var a = transA ? Tensor.RandN([k, m], 1).T : batch > 1 ? Tensor.RandN([batch, m, k], 1) : Tensor.RandN([m, k], 1);
            var b = transB ? Tensor.RandN([n, k], 2).T : batch > 1 ? Tensor.RandN([batch, k, n], 2) : Tensor.RandN([k, n], 2);
            return () => a.MatMul(b);
        });

    /// <summary>
    /// Options: <c>--quick</c> (3 shorter samples), <c>--rows TEXT</c> (only rows whose text contains TEXT),
    /// <c>--repeat N</c> (measure everything N times; each figure is the median over the repeats),
    /// <c>--between CMD</c> (run CMD with bash before each repeat, with RUN set to the repeat's index: the peer
    /// harness, so that both are measured alternately in one window), <c>--peer FILE[,FILE...]</c> (outputs of the
    /// peer harness's <c>matmul</c> command, read after the repeats; the median over the files is used).
    /// </summary>
    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        string? filter = Option(args, "--rows");
        int repeat = int.Parse(Option(args, "--repeat") ?? "1", CultureInfo.InvariantCulture);
        string? between = Option(args, "--between");
        int samples = quick ? 3 : 7;
        double minSample = quick ? 0.05 : 0.1;
        var rows = Rows().Where(r => filter is null || r.What.Contains(filter, StringComparison.OrdinalIgnoreCase)).ToList();

        var peakRuns = new Dictionary<int, List<double>> { [1] = [], [2] = [] };
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
                    var body = row.Prepare();
                    double sec = Timing.TimeIt(body, samples, minSample);
                    rowRuns[i].Add(row.Flops > 0 ? row.Flops / sec / 1e9 : sec * 1e3);
                    Console.Error.WriteLine($"  [{run}] {row.What}, {row.Threads} thread(s): {rowRuns[i][^1]:F2}");
                }
            }
        }
        finally { EngineThreads.Count = saved; }

        string? peerFiles = Option(args, "--peer");
        var peer = peerFiles is null ? PeerFigures.Recorded : PeerFigures.Median(peerFiles.Split(',').Select(f => PeerFigures.Parse(File.ReadAllText(f))));
        string peerLabel = peerFiles is null ? PeerFigures.Provenance : $"median of {peerFiles.Split(',').Length} run(s) of the peer harness's `matmul`, alternating with Engine's";

        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine($"Engine performance table: {Environment.ProcessorCount} logical CPUs, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}, " +
                      $"Vector512 {(Vector512.IsHardwareAccelerated ? "accelerated" : "not accelerated")}, float32; each figure the median of {samples} samples" +
                      (repeat > 1 ? $", then the median over {repeat} repeats." : "."));
        sb.AppendLine();
        sb.AppendLine("| what (float32) | threads | Engine | physical limit | libtorch | Engine / limit | Engine / libtorch |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        var peak = peakRuns.ToDictionary(kv => kv.Key, kv => Timing.Median(kv.Value));
        string peakWhat = $"FMA peak ({(Vector512.IsHardwareAccelerated ? "Vector512" : "Vector256")}.FusedMultiplyAdd, 12 accumulators)";
        foreach (int th in new[] { 1, 2 })
            sb.AppendLine(inv, $"| {peakWhat} | {th} | {peak[th]:F0} GFLOP/s | — | — | — | — |");
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            double value = Timing.Median(rowRuns[i]);
            bool rate = row.Flops > 0;
            string unit = rate ? "GFLOP/s" : "ms";
            double? limit = rate && row.PeakIsLimit ? peak[row.Threads] : null;
            double? p = peer.TryGetValue((row.Key, row.Threads), out var pv) ? pv : null;
            string Fmt(double? v) => v is double d ? d.ToString(rate ? "F0" : "F2", inv) + " " + unit : "—";
            string ratioPeer = p is double pp ? (rate ? value / pp : pp / value).ToString("F2", inv) + "×" : "—";
            string ratioLimit = limit is double l ? (value / l * 100).ToString("F0", inv) + " %" : "—";
            sb.AppendLine($"| {row.What} | {row.Threads} | {Fmt(value)} | {Fmt(limit)} | {Fmt(p)} | {ratioLimit} | {ratioPeer} |");
        }
        sb.AppendLine();
        sb.AppendLine($"libtorch: {peerLabel}. Ratios over libtorch are Engine's GFLOP/s over libtorch's (for times, libtorch's over Engine's): above 1 means Engine is faster.");
        Console.WriteLine(sb.ToString());
        return 0;
    }

    private static void RunBetween(string command, int run)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("bash", ["-c", command]) { UseShellExecute = false };
        psi.Environment["RUN"] = run.ToString(CultureInfo.InvariantCulture);
        using var proc = System.Diagnostics.Process.Start(psi) ?? throw new InvalidOperationException($"could not start: {command}");
        proc.WaitForExit();
        if (proc.ExitCode != 0) throw new InvalidOperationException($"`{command}` exited with {proc.ExitCode}");
    }

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
