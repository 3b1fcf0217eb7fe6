namespace Engine;

/// <summary>The positive function f of the first attention stage, u_ij = f(s_ij).</summary>
public enum PositiveFunction
{
    /// <summary>f(s) = e^s (Softmax once l1-normalised).</summary>
    Exp,
    /// <summary>f(s) = ln(1 + e^s).</summary>
    Softplus,
}

/// <summary>
/// One member of the causal attention family, as the kernels see it. Every variant is the same two-stage computation
/// (Gao &amp; Spratling, arXiv 2501.13428, describe LSSA and LSSAR in these terms):
/// <list type="number">
/// <item>scores s_ij = λ_i · q̃_i·k̃_j, where q̃, k̃ are the raw or unit-normalised queries and keys and λ_i is either
/// 1/√d or the length scale log(d_s)·log(n_i);</item>
/// <item>first stage a_ij = f(s_ij) / Σ_j f(s_ij) over the visible keys j ≤ i (n_i of them);</item>
/// <item>optional sharpening r_ij = ReLU(n_i·a_ij − o_i)^p, w_ij = r_ij / Σ_j r_ij, with o_i = 0 for the first
/// <see cref="WarmRows"/> positions and 1 after; a row whose r_ij are all zero keeps its first-stage weights;</item>
/// <item>output o_i = Σ_j w_ij v_j.</item>
/// </list>
/// </summary>
/// <param name="Positive">The positive function f.</param>
/// <param name="NormalizeQK">Divide each query and key by its l2 norm (guarded by <see cref="NormEpsilon"/>).</param>
/// <param name="LengthScale">λ_i = log(<paramref name="ScaleDim"/>)·log(n_i) instead of 1/√<paramref name="HeadDim"/>.</param>
/// <param name="HeadDim">The head dimension d.</param>
/// <param name="ScaleDim">d_s in the length scale.</param>
/// <param name="Power">The sharpening exponent p, or null for no sharpening.</param>
public sealed record AttentionFamily(PositiveFunction Positive, bool NormalizeQK, bool LengthScale, int HeadDim, int ScaleDim, double? Power)
{
    /// <summary>‖x‖ is taken as max(‖x‖, ε) when normalising queries and keys, so a zero vector maps to zero instead of NaN.</summary>
    public const double NormEpsilon = 1e-12;

    /// <summary>Rows at absolute positions with n_i ≤ 3 use the offset o_i = 0 in the re-weighting, the rest o_i = 1.</summary>
    public const int WarmRows = 3;

    /// <summary>The score scale λ for a row that sees <paramref name="n"/> keys.</summary>
    public double RowScale(int n) => LengthScale ? Math.Log(ScaleDim) * Math.Log(n) : 1 / Math.Sqrt(HeadDim);

    /// <summary>The re-weighting offset o for a row that sees <paramref name="n"/> keys.</summary>
    public static double ReweightOffset(int n) => n <= WarmRows ? 0 : 1;

    /// <summary>The family member computing <paramref name="spec"/> for heads of dimension <paramref name="headDim"/>; validates the spec.</summary>
    public static AttentionFamily Of(AttentionSpec spec, int headDim, string op = "causal_attention")
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (headDim < 1) throw new ArgumentException($"{op}: head dimension must be at least 1, got {headDim}");
        if (spec.Reweight && (!double.IsFinite(spec.Power) || spec.Power < 1))
            throw new ArgumentException($"{op}: re-weighting power must be finite and at least 1, got {spec.Power} ({spec.Label})");
        int scaleDim = spec.ScaleDim ?? headDim;
        if (spec.Kind == AttentionKind.Lssa && scaleDim < 2)
            throw new ArgumentException($"{op}: LSSA needs log(d) > 0, so d (ScaleDim, default the head dimension) must be at least 2; got {scaleDim}");
        double? power = spec.Reweight ? spec.Power : null;
        return spec.Kind switch
        {
            AttentionKind.Softmax => new(PositiveFunction.Exp, false, false, headDim, scaleDim, power),
            AttentionKind.Lssa => new(PositiveFunction.Softplus, true, true, headDim, scaleDim, power),
            AttentionKind.SoftplusL1 => new(PositiveFunction.Softplus, false, false, headDim, scaleDim, power),
            _ => throw new ArgumentException($"{op}: unknown attention kind {spec.Kind}"),
        };
    }
}

/// <summary>Sizes of one causal attention call: q [Batch, Heads, Queries, HeadDim], k and v [Batch, Heads, Keys, HeadDim].</summary>
/// <param name="Batch">B.</param>
/// <param name="Heads">H.</param>
/// <param name="Queries">Tq.</param>
/// <param name="Keys">Tk = QueryOffset + Tq.</param>
/// <param name="HeadDim">D.</param>
/// <param name="QueryOffset">Absolute position of the first query; query i sees keys 0..QueryOffset + i.</param>
public readonly record struct AttentionDims(int Batch, int Heads, int Queries, int Keys, int HeadDim, int QueryOffset)
{
    /// <summary>Number of keys visible from query row <paramref name="i"/> (n_i).</summary>
    public int Visible(int i) => QueryOffset + i + 1;
}
