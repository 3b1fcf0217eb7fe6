using System.Globalization;

namespace Engine.Perf;

/// <summary>
/// The peer's figures (libtorch through TorchSharp-cpu, the harness in ../shared/peers/torchsharp), keyed by the
/// harness's row name and thread count. <see cref="Recorded"/> holds figures measured on the reference machine
/// (see <see cref="Provenance"/>); <c>table --peer FILE</c> uses a fresh run of the harness instead.
/// </summary>
internal static class PeerFigures
{
    public const string Provenance =
        "recorded figures (mm, allocating) from one run of the peer harness's `matmul` on the reference machine at a load " +
        "average near 1 (the quietest run available; its 2-thread figures swing by ±40 % between runs, see its README); " +
        "`perf/compare.sh` measures it afresh, alternating with Engine";

    /// <summary>GFLOP/s of libtorch's mm/bmm per (harness row, threads), from the run described by <see cref="Provenance"/>.</summary>
    public static readonly Dictionary<(string Key, int Threads, int Column), double> Recorded = new Dictionary<(string Key, int Threads), double>
    {
        [("square 1024", 2)] = 74.8,
        [("square 1024", 1)] = 124.3,
        [("[4096,128]x[128,384]  (QKV)", 2)] = 48.5,
        [("[4096,128]x[128,384]  (QKV)", 1)] = 142.4,
        [("[4096,128]x[128,128]  (attn proj)", 2)] = 18.5,
        [("[4096,128]x[128,128]  (attn proj)", 1)] = 126.7,
        [("[4096,128]x[128,512]  (MLP up)", 2)] = 230.1,
        [("[4096,128]x[128,512]  (MLP up)", 1)] = 132.1,
        [("[4096,512]x[512,128]  (MLP down)", 2)] = 193.7,
        [("[4096,512]x[512,128]  (MLP down)", 1)] = 107.8,
        [("[4096,128]x[128,65]   (LM head)", 2)] = 142.6,
        [("[4096,128]x[128,65]   (LM head)", 1)] = 100.6,
        [("[4096,128]^T x[4096,512] (dW, K=4096)", 2)] = 219.3,
        [("[4096,128]^T x[4096,512] (dW, K=4096)", 1)] = 118.6,
        [("bmm 32x[256,32]x[32,256] (QK^T)", 2)] = 124.3,
        [("bmm 32x[256,32]x[32,256] (QK^T)", 1)] = 106.7,
        [("bmm 32x[256,256]x[256,32] (AV)", 2)] = 164.0,
        [("bmm 32x[256,256]x[256,32] (AV)", 1)] = 123.2,
    }.ToDictionary(kv => (kv.Key.Key, kv.Key.Threads, 3), kv => kv.Value);

    /// <summary>Per cell, the median over several runs of the harness.</summary>
    public static Dictionary<(string Key, int Threads, int Column), double> Median(IEnumerable<Dictionary<(string Key, int Threads, int Column), double>> runs)
    {
        var all = runs.ToList();
        return all.SelectMany(r => r.Keys).Distinct()
            .ToDictionary(key => key, key => Timing.Median(all.Where(r => r.ContainsKey(key)).Select(r => r[key]).ToList()));
    }

    /// <summary>
    /// Reads every table row of the harness's output ("| name | threads | figure | figure | ... |", as its matmul,
    /// attn and gpt commands print them): each numeric cell keyed by row name, thread count and column (3 = the first
    /// figure after the thread count).
    /// </summary>
    public static Dictionary<(string Key, int Threads, int Column), double> Parse(string text)
    {
        var result = new Dictionary<(string, int, int), double>();
        foreach (var line in text.Split('\n'))
        {
            var cells = line.Split('|', StringSplitOptions.TrimEntries);
            if (cells.Length < 5 || !int.TryParse(cells[2], out int threads)) continue;
            for (int c = 3; c < cells.Length; c++)
                if (double.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                    result[(cells[1], threads, c)] = value;
        }
        return result;
    }
}
