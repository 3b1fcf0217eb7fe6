using System.Security.Cryptography;
using System.Text;

namespace Engine.Cuda.Runtime;

/// <summary>
/// The CUDA C sources embedded in this assembly: one <c>.cu</c> file per op family plus the shared headers
/// <c>common.cuh</c> and <c>attention.cuh</c> (what the two attention families share).
/// </summary>
public static class KernelSources
{
    /// <summary>The op families, each one source file (<c>family.cu</c>).</summary>
    public static IReadOnlyList<string> Families { get; } = ["elementwise", "reduce", "softmax", "indexing", "fused", "attention", "attention_tiled", "convert"];

    /// <summary>Headers the sources include, by include name.</summary>
    public static IReadOnlyList<string> Headers { get; } = ["common.cuh", "attention.cuh"];

    private static readonly Dictionary<string, string> Cache = new();

    /// <summary>The text of an embedded source or header, e.g. <c>Read("softmax.cu")</c>.</summary>
    public static string Read(string fileName)
    {
        lock (Cache)
        {
            if (Cache.TryGetValue(fileName, out var text)) return text;
            using var stream = typeof(KernelSources).Assembly.GetManifestResourceStream("Engine.Cuda.Kernels." + fileName)
                ?? throw new ArgumentException($"no embedded kernel source named '{fileName}'");
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return Cache[fileName] = reader.ReadToEnd();
        }
    }

    /// <summary>SHA-256 (hex, first 16 digits) of a family's source and every header: the disk cache key.</summary>
    public static string Hash(string family)
    {
        var all = new StringBuilder(Read(family + ".cu"));
        foreach (var h in Headers) all.Append('\0').Append(h).Append('\0').Append(Read(h));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(all.ToString())))[..16].ToLowerInvariant();
    }
}
