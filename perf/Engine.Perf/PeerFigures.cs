using System.Globalization;

namespace Engine.Perf;

/// <summary>
/// The peer's figures (libtorch through TorchSharp-cpu, the harness in ../shared/peers/torchsharp), keyed by the
/// harness's row name and thread count. <see cref="Recorded"/> holds figures measured on the reference machine
/// (see <see cref="Provenance"/>); <c>table --peer FILE</c> uses a fresh run of the harness instead.
/// </summary>
internal static class PeerFigures
{
    public const string Provenance = "not yet recorded";

    public static readonly Dictionary<(string Key, int Threads), double> Recorded = new();

    /// <summary>Per row, the median over several runs of the harness.</summary>
    public static Dictionary<(string Key, int Threads), double> Median(IEnumerable<Dictionary<(string Key, int Threads), double>> runs)
    {
        var all = runs.ToList();
        return all.SelectMany(r => r.Keys).Distinct()
            .ToDictionary(key => key, key => Timing.Median(all.Where(r => r.ContainsKey(key)).Select(r => r[key]).ToList()));
    }

    /// <summary>Reads the `matmul` section of the harness's output: "| name | threads | mm GFLOP/s | ... |" lines.</summary>
    public static Dictionary<(string Key, int Threads), double> Parse(string text)
    {
        var result = new Dictionary<(string, int), double>();
        foreach (var line in text.Split('\n'))
        {
            var cells = line.Split('|', StringSplitOptions.TrimEntries);
            if (cells.Length < 5 || !int.TryParse(cells[2], out int threads)) continue;
            if (double.TryParse(cells[3], NumberStyles.Float, CultureInfo.InvariantCulture, out double gflops))
                result[(cells[1], threads)] = gflops;
        }
        return result;
    }
}
