using System.Globalization;

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
    /// <summary>
    /// Scalable-Softmax (SSMax, Nakanishi, arXiv 2501.19399): softmax of s_h·log(n_i)·q_i·k_j/√d, with s_h a learnable
    /// scalar per head passed to the op as its head scale (1 when none is given).
    /// </summary>
    SsMax,
    /// <summary>
    /// Ablation of the positive function (Gao &amp; Spratling): LSSA with the sigmoid in place of Softplus,
    /// a_ij = σ(c_ij) / Σ_j σ(c_ij) with c_ij = log(d)·log(n_i)·q̂_i·k̂_j.
    /// </summary>
    SigmoidL1,
}

/// <summary>
/// Which causal attention to compute. <see cref="Reweight"/> adds the second stage of LSSAR:
/// r_ij = ReLU(n_i·a_ij − o_i)^p, w_ij = r_ij / Σ_j r_ij. <see cref="Window"/> limits every query to its last w keys
/// (sliding-window attention); <see cref="Alibi"/> adds ALiBi's linear distance bias to the scores.
/// </summary>
/// <param name="Kind">The first stage.</param>
/// <param name="Reweight">Apply the power-law re-weighting after the first stage.</param>
/// <param name="Power">The exponent p of the re-weighting (15 by default; 3 is the other studied value). Must be finite and ≥ 1.</param>
/// <param name="ScaleDim">d in log(d) for LSSA; null means the head dimension. Must be ≥ 2 so that log(d) &gt; 0.</param>
/// <param name="Window">Query i sees only keys j with i − w &lt; j ≤ i (n_i = min(w, i + 1)); null: every key j ≤ i.</param>
/// <param name="Alibi">Add −m_h·(i − j) to every score before the positive function (Press et al. 2022, slopes m_h per head).</param>
/// <param name="WarmRowOffset">
/// Gao &amp; Spratling's rule for the first rows of the re-weighting: rows with n_i ≤ 3 use the offset o = 0 (true, the
/// default), or every row uses o = 1 (false; label suffix "-nowarm"), the ablation the study measures.
/// </param>
public sealed record AttentionSpec(AttentionKind Kind = AttentionKind.Softmax, bool Reweight = false, double Power = 15, int? ScaleDim = null, int? Window = null, bool Alibi = false, bool WarmRowOffset = true)
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
    /// <summary>Scalable-Softmax.</summary>
    public static AttentionSpec SsMax { get; } = new(AttentionKind.SsMax);
    /// <summary>Ablation: sigmoid + l1 normalisation with LSSA's QK normalisation and length scale.</summary>
    public static AttentionSpec SigmoidL1 { get; } = new(AttentionKind.SigmoidL1);

    /// <summary>Softmax over the last <paramref name="window"/> keys of every query: the control whose loss cannot grow with length.</summary>
    public static AttentionSpec SlidingWindow(int window) => new(AttentionKind.Softmax, Window: window);

    private static readonly (AttentionKind Kind, string Name)[] KindNames =
    [
        (AttentionKind.Softmax, "softmax"), (AttentionKind.Lssa, "lssa"), (AttentionKind.SoftplusL1, "softplus-l1"),
        (AttentionKind.SsMax, "ssmax"), (AttentionKind.SigmoidL1, "sigmoid-l1"),
    ];

    /// <summary>The variant names <see cref="Parse"/> accepts, with the suffixes it reads.</summary>
    public const string Grammar = "softmax, softmax-r, lssa, lssar, softplus-l1, softplus-l1-r, ssmax, ssmax-r, sigmoid-l1, sigmoid-l1-r, " +
        "each optionally followed by -pP (re-weighting power other than 15), -wW (sliding window of W keys), -nowarm " +
        "(re-weighting offset 1 on the first rows too) and -alibi";

    /// <summary>
    /// Short name used in logs and result tables: the kind ("softmax", "lssa" and "lssar" for LSSA with re-weighting,
    /// "softplus-l1", "ssmax", "sigmoid-l1"), "-r" for re-weighting on the other kinds, "-pP" for a power other than
    /// 15, "-wW" for a window and "-alibi".
    /// </summary>
    public string Label
    {
        get
        {
            string name = KindNames.First(k => k.Kind == Kind).Name;
            string label = Kind == AttentionKind.Lssa && Reweight ? "lssar" : Reweight ? name + "-r" : name;
            if (Reweight && Power != 15) label += "-p" + Power.ToString("G", CultureInfo.InvariantCulture);
            if (Window is int w) label += "-w" + w.ToString(CultureInfo.InvariantCulture);
            if (Reweight && !WarmRowOffset) label += "-nowarm";
            if (Alibi) label += "-alibi";
            return label;
        }
    }

    /// <summary>The family member computing this spec for heads of dimension <paramref name="headDim"/>; validates the spec (errors name <paramref name="op"/>).</summary>
    public AttentionFamily Family(int headDim, string op = "causal_attention")
    {
        var spec = this;
        if (headDim < 1) throw new ArgumentException($"{op}: head dimension must be at least 1, got {headDim}");
        if (spec.Reweight && (!double.IsFinite(spec.Power) || spec.Power < 1))
            throw new ArgumentException($"{op}: re-weighting power must be finite and at least 1, got {spec.Power} ({spec.Label})");
        if (spec.Window is int w && w < 1)
            throw new ArgumentException($"{op}: the sliding window must be at least 1 key, got {w}");
        int scaleDim = spec.ScaleDim ?? headDim;
        if (spec.Kind is AttentionKind.Lssa or AttentionKind.SigmoidL1 && scaleDim < 2)
            throw new ArgumentException($"{op}: {spec.Label} needs log(d) > 0, so d (ScaleDim, default the head dimension) must be at least 2; got {scaleDim}");
        double? power = spec.Reweight ? spec.Power : null;
        int warmRows = spec.WarmRowOffset ? AttentionFamily.DefaultWarmRows : 0;
        return spec.Kind switch
        {
            AttentionKind.Softmax => new(PositiveFunction.Exp, false, ScoreScale.InverseSqrtDim, headDim, scaleDim, power, spec.Window, spec.Alibi, warmRows),
            AttentionKind.Lssa => new(PositiveFunction.Softplus, true, ScoreScale.LogDimLogLength, headDim, scaleDim, power, spec.Window, spec.Alibi, warmRows),
            AttentionKind.SoftplusL1 => new(PositiveFunction.Softplus, false, ScoreScale.InverseSqrtDim, headDim, scaleDim, power, spec.Window, spec.Alibi, warmRows),
            AttentionKind.SsMax => new(PositiveFunction.Exp, false, ScoreScale.LogLengthOverSqrtDim, headDim, scaleDim, power, spec.Window, spec.Alibi, warmRows),
            AttentionKind.SigmoidL1 => new(PositiveFunction.Sigmoid, true, ScoreScale.LogDimLogLength, headDim, scaleDim, power, spec.Window, spec.Alibi, warmRows),
            _ => throw new ArgumentException($"{op}: unknown attention kind {spec.Kind}"),
        };
    }

    /// <summary>This spec with the re-weighting switched on or off (for re-weighting applied only at evaluation).</summary>
    public AttentionSpec WithReweight(bool reweight) => this with { Reweight = reweight };

    /// <summary>Parses a label as written by <see cref="Label"/> (see <see cref="Grammar"/>), e.g. "lssar-p3", "softmax-w64", "ssmax-alibi".</summary>
    /// <exception cref="FormatException">The label names no variant, or a suffix is malformed or does not apply.</exception>
    public static AttentionSpec Parse(string label)
    {
        ArgumentNullException.ThrowIfNull(label);
        string s = label.Trim().ToLowerInvariant();
        bool alibi = false;
        int? window = null;
        double power = 15;
        bool warm = true;
        if (s.EndsWith("-alibi", StringComparison.Ordinal)) { alibi = true; s = s[..^"-alibi".Length]; }
        if (s.EndsWith("-nowarm", StringComparison.Ordinal)) { warm = false; s = s[..^"-nowarm".Length]; }
        int at = s.LastIndexOf("-w", StringComparison.Ordinal);
        if (at > 0 && at + 2 < s.Length && char.IsDigit(s[at + 2]))
        {
            if (!int.TryParse(s[(at + 2)..], NumberStyles.None, CultureInfo.InvariantCulture, out int w) || w < 1)
                throw new FormatException($"attention: cannot read the window in '{label}'; expected -wW with W a positive integer");
            window = w;
            s = s[..at];
        }
        at = s.LastIndexOf("-p", StringComparison.Ordinal);
        if (at > 0 && at + 2 < s.Length && char.IsDigit(s[at + 2]))
        {
            if (!double.TryParse(s[(at + 2)..], NumberStyles.Float, CultureInfo.InvariantCulture, out power))
                throw new FormatException($"attention: cannot read the power in '{label}'");
            s = s[..at];
        }
        bool reweight = false;
        AttentionKind? kind = null;
        if (s == "lssar") { kind = AttentionKind.Lssa; reweight = true; }
        else
        {
            if (s.EndsWith("-r", StringComparison.Ordinal) && s != "lssa-r") { reweight = true; s = s[..^2]; }
            foreach (var (k, name) in KindNames)
                if (name == s) kind = k;
        }
        if (kind is null)
            throw new FormatException($"attention: unknown variant '{label}'; expected {Grammar}");
        if (power != 15 && !reweight)
            throw new FormatException($"attention: '{label}' sets a power but has no re-weighting");
        if (!warm && !reweight)
            throw new FormatException($"attention: '{label}' changes the re-weighting's first-row offset but has no re-weighting");
        return new AttentionSpec(kind.Value, reweight, power, null, window, alibi, warm);
    }
}
