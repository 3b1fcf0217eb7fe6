namespace Engine;

/// <summary>The positive function and normalisation of the first attention stage.</summary>
public enum AttentionKind
{
    /// <summary>a_ij = exp(s_ij) / Σ_j exp(s_ij), s_ij = q_i·k_j / √d (the baseline).</summary>
    Softmax,
    /// <summary>
    /// Length-scaled Softplus attention (LSSA, Gao &amp; Spratling, arXiv 2501.13428): unit-normalised q and k,
    /// c_ij = log(d)·log(n_i)·q̂_i·k̂_j, a_ij = softplus(c_ij) / Σ_j softplus(c_ij).
    /// </summary>
    Lssa,
    /// <summary>Ablation: softplus of the plain scaled scores q_i·k_j/√d, l1-normalised (no QK normalisation, no length scale).</summary>
    SoftplusL1,
}

/// <summary>
/// Which causal attention to compute. <see cref="Reweight"/> adds the second stage of LSSAR:
/// r_ij = ReLU(n_i·a_ij − o_i)^p, w_ij = r_ij / Σ_j r_ij.
/// </summary>
/// <param name="Kind">The first stage.</param>
/// <param name="Reweight">Apply the power-law re-weighting after the first stage.</param>
/// <param name="Power">The exponent p of the re-weighting (15 by default; 3 is the other studied value). Must be finite and ≥ 1.</param>
/// <param name="ScaleDim">d in log(d) for LSSA; null means the head dimension. Must be ≥ 2 so that log(d) &gt; 0.</param>
public sealed record AttentionSpec(AttentionKind Kind = AttentionKind.Softmax, bool Reweight = false, double Power = 15, int? ScaleDim = null)
{
    /// <summary>Softmax attention.</summary>
    public static AttentionSpec Softmax { get; } = new();
    /// <summary>LSSA.</summary>
    public static AttentionSpec Lssa { get; } = new(AttentionKind.Lssa);
    /// <summary>LSSAR: LSSA with re-weighting, p = 15.</summary>
    public static AttentionSpec Lssar { get; } = new(AttentionKind.Lssa, Reweight: true);
    /// <summary>Ablation: Softplus + l1 normalisation of the plain scaled scores.</summary>
    public static AttentionSpec SoftplusL1 { get; } = new(AttentionKind.SoftplusL1);
    /// <summary>Ablation: Softmax followed by the re-weighting, p = 15.</summary>
    public static AttentionSpec SoftmaxReweighted { get; } = new(AttentionKind.Softmax, Reweight: true);

    /// <summary>Short name used in logs and result tables ("softmax", "lssa", "lssar", "softplus-l1", "softmax-r").</summary>
    public string Label => (Kind, Reweight) switch
    {
        (AttentionKind.Softmax, false) => "softmax",
        (AttentionKind.Softmax, true) => "softmax-r",
        (AttentionKind.Lssa, false) => "lssa",
        (AttentionKind.Lssa, true) => "lssar",
        (AttentionKind.SoftplusL1, false) => "softplus-l1",
        _ => "softplus-l1-r",
    } + (Reweight && Power != 15 ? $"-p{Power:G}" : "");

    /// <summary>This spec with the re-weighting switched on or off (for re-weighting applied only at evaluation).</summary>
    public AttentionSpec WithReweight(bool reweight) => this with { Reweight = reweight };

    /// <summary>
    /// Parses a label as written by <see cref="Label"/> ("softmax", "softmax-r", "lssa", "lssar", "softplus-l1",
    /// "softplus-l1-r", each optionally followed by "-pP" for a power other than 15, e.g. "lssar-p3").
    /// </summary>
    public static AttentionSpec Parse(string label)
    {
        ArgumentNullException.ThrowIfNull(label);
        string s = label.Trim().ToLowerInvariant();
        double power = 15;
        int pAt = s.LastIndexOf("-p", StringComparison.Ordinal);
        if (pAt > 0 && pAt + 2 < s.Length && char.IsDigit(s[pAt + 2]))
        {
            if (!double.TryParse(s[(pAt + 2)..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out power))
                throw new FormatException($"attention: cannot read the power in '{label}'");
            s = s[..pAt];
        }
        AttentionSpec spec = s switch
        {
            "softmax" => Softmax,
            "softmax-r" => SoftmaxReweighted,
            "lssa" => Lssa,
            "lssar" => Lssar,
            "softplus-l1" => SoftplusL1,
            "softplus-l1-r" => SoftplusL1 with { Reweight = true },
            _ => throw new FormatException($"attention: unknown variant '{label}'; expected softmax, softmax-r, lssa, lssar, softplus-l1 or softplus-l1-r (optionally with -pP)"),
        };
        if (power != 15 && !spec.Reweight)
            throw new FormatException($"attention: '{label}' sets a power but has no re-weighting");
        return spec with { Power = power };
    }
}
