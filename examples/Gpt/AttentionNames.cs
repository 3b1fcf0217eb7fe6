using Engine;

namespace Engine.Examples.Gpt;

/// <summary>Command-line names of the attention variants.</summary>
internal static class AttentionNames
{
    /// <summary>The names <see cref="Parse"/> accepts.</summary>
    public const string Names = "softmax, lssa, lssar, softplus-l1, softmax-r, softplus-l1-r";

    /// <summary>
    /// softmax | lssa | lssar (LSSA with re-weighting) | softplus-l1 (softplus + l1, no length scale) |
    /// softmax-r / softplus-l1-r (with re-weighting); <paramref name="power"/> is p of the re-weighting.
    /// </summary>
    public static AttentionSpec Parse(string name, double power)
    {
        var spec = name.Trim().ToLowerInvariant() switch
        {
            "softmax" => AttentionSpec.Softmax,
            "lssa" => AttentionSpec.Lssa,
            "lssar" => AttentionSpec.Lssar,
            "softplus-l1" => new AttentionSpec(AttentionKind.SoftplusL1),
            "softmax-r" => new AttentionSpec(AttentionKind.Softmax, Reweight: true),
            "softplus-l1-r" => new AttentionSpec(AttentionKind.SoftplusL1, Reweight: true),
            _ => throw new ArgumentException($"unknown attention '{name}'; use one of: {Names}"),
        };
        return spec.Reweight ? spec with { Power = power } : spec;
    }
}
