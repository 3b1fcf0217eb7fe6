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
/// <param name="Power">The exponent p of the re-weighting (15 by default; 3 is the other studied value).</param>
/// <param name="ScaleDim">d in log(d) for LSSA; null means the head dimension.</param>
public sealed record AttentionSpec(AttentionKind Kind = AttentionKind.Softmax, bool Reweight = false, double Power = 15, int? ScaleDim = null)
{
    /// <summary>Softmax attention.</summary>
    public static AttentionSpec Softmax { get; } = new();
    /// <summary>LSSA.</summary>
    public static AttentionSpec Lssa { get; } = new(AttentionKind.Lssa);
    /// <summary>LSSAR: LSSA with re-weighting, p = 15.</summary>
    public static AttentionSpec Lssar { get; } = new(AttentionKind.Lssa, Reweight: true);

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
}
