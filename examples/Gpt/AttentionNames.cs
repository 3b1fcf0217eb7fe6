using System.Globalization;
using Engine;
using Engine.Nn;

namespace Engine.Examples.Gpt;

/// <summary>Command-line names of the attention variants and position encodings: <see cref="AttentionSpec.Parse"/> plus two conveniences.</summary>
internal static class AttentionNames
{
    /// <summary>The names <see cref="Parse"/> accepts.</summary>
    public const string Names = "sliding (Softmax over the last --window keys), " + AttentionSpec.Grammar;

    /// <summary>The names <see cref="ParsePositions"/> accepts.</summary>
    public const string PositionNames = "rope, nope, alibi, learned";

    /// <summary>
    /// A variant name as <see cref="AttentionSpec.Parse"/> reads it, where a re-weighted variant without its own -pP
    /// takes <paramref name="power"/>, and "sliding" is Softmax over the last <paramref name="window"/> keys.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not a variant, or the window is not positive.</exception>
    public static AttentionSpec Parse(string name, double power, int window)
    {
        string n = name.Trim().ToLowerInvariant();
        if (n is "sliding" or "swa")
        {
            if (window < 1) throw new ArgumentException($"--window must be a positive number of keys, got {window}");
            return AttentionSpec.SlidingWindow(window);
        }
        AttentionSpec spec;
        try { spec = AttentionSpec.Parse(n); }
        catch (FormatException e) { throw new ArgumentException($"unknown attention '{name}': {e.Message}", e); }
        if (spec.Alibi) throw new ArgumentException($"attention '{name}': choose ALiBi with --positions alibi, not in the variant name");
        bool ownPower = n.Contains("-p", StringComparison.Ordinal) && spec.Reweight;
        return spec.Reweight && !ownPower ? spec with { Power = power } : spec;
    }

    /// <summary>
    /// The evaluation-time changes a checkpoint-reading command applies to the stored configuration: another
    /// attention with the same weights (null: keep) and RoPE position interpolation by <paramref name="ropeScale"/>
    /// (1: none); null when there is nothing to change.
    /// </summary>
    public static Func<GptConfig, GptConfig>? ForEvaluation(string? inferenceAttention, double power, double ropeScale)
    {
        if (!(ropeScale > 0) || double.IsInfinity(ropeScale)) throw new ArgumentException($"--rope-scale must be a finite number > 0, got {ropeScale}");
        if (inferenceAttention is null && ropeScale == 1) return null;
        return c => c with
        {
            InferenceAttention = inferenceAttention is null ? c.InferenceAttention : Parse(inferenceAttention, power, c.ContextLength),
            InferenceRopeScale = ropeScale,
        };
    }

    /// <summary>rope | nope | alibi | learned.</summary>
    public static PositionEmbedding ParsePositions(string name) => name.Trim().ToLowerInvariant() switch
    {
        "rope" => PositionEmbedding.Rope,
        "nope" or "none" => PositionEmbedding.None,
        "alibi" => PositionEmbedding.Alibi,
        "learned" => PositionEmbedding.Learned,
        _ => throw new ArgumentException($"--positions: unknown position encoding '{name}'; use one of: {PositionNames}"),
    };

    /// <summary>The command-line name of a position encoding.</summary>
    public static string Name(PositionEmbedding positions) => positions switch
    {
        PositionEmbedding.None => "nope",
        _ => positions.ToString().ToLower(CultureInfo.InvariantCulture),
    };
}
