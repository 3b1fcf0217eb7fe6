namespace Engine;

// The kernel contract of the attention family: what every backend's attention kernels receive (IBackend), and the
// constants they share. AttentionSpec.Family maps a user's choice onto it.

/// <summary>The positive function f of the first attention stage, u_ij = f(s_ij). The values are the CUDA kernel's codes.</summary>
public enum PositiveFunction
{
    /// <summary>f(s) = e^s (Softmax once l1-normalised).</summary>
    Exp = 0,
    /// <summary>f(s) = ln(1 + e^s).</summary>
    Softplus = 1,
    /// <summary>f(s) = σ(s) = 1 / (1 + e^−s).</summary>
    Sigmoid = 2,
}

/// <summary>The factor λ_i of the scores s_ij = λ_i·q̃_i·k̃_j. The values are the CUDA kernel's codes.</summary>
public enum ScoreScale
{
    /// <summary>λ = 1/√d.</summary>
    InverseSqrtDim = 0,
    /// <summary>λ_i = log(d_s)·log(n_i), LSSA's length scale.</summary>
    LogDimLogLength = 1,
    /// <summary>λ_i = log(n_i)/√d, Scalable-Softmax's (the learnable per-head s_h multiplies the queries before the kernel).</summary>
    LogLengthOverSqrtDim = 2,
}

/// <summary>
/// One member of the causal attention family, as the kernels see it. Every variant is the same two-stage computation
/// (Gao &amp; Spratling, arXiv 2501.13428, describe LSSA and LSSAR in these terms):
/// <list type="number">
/// <item>visible keys: query i at absolute position t_i sees keys j with max(0, t_i + 1 − w) ≤ j ≤ t_i (all j ≤ t_i
/// without a window w); n_i is their number;</item>
/// <item>scores s_ij = λ_i·q̃_i·k̃_j − m_h·(t_i − j), where q̃, k̃ are the raw or unit-normalised queries and keys,
/// λ_i is given by <see cref="Scale"/> and the ALiBi slope m_h is 0 unless <see cref="Alibi"/>;</item>
/// <item>first stage a_ij = f(s_ij) / Σ_j f(s_ij) over the visible keys;</item>
/// <item>optional sharpening r_ij = ReLU(n_i·a_ij − o_i)^p, w_ij = r_ij / Σ_j r_ij, with o_i = 0 for rows with
/// n_i ≤ <see cref="WarmRows"/> (3 by default) and 1 after; a row whose r_ij are all zero keeps its first-stage weights;</item>
/// <item>output o_i = Σ_j w_ij v_j.</item>
/// </list>
/// </summary>
/// <param name="Positive">The positive function f.</param>
/// <param name="NormalizeQK">Divide each query and key by its l2 norm (guarded by <see cref="NormEpsilon"/>).</param>
/// <param name="Scale">The score factor λ_i.</param>
/// <param name="HeadDim">The head dimension d.</param>
/// <param name="ScaleDim">d_s in LSSA's length scale.</param>
/// <param name="Power">The sharpening exponent p, or null for no sharpening.</param>
/// <param name="Window">The sliding window w, or null for full causal attention.</param>
/// <param name="Alibi">Add ALiBi's distance bias −m_h·(t_i − j) to the scores.</param>
/// <param name="WarmRows">Rows with at most this many visible keys use the re-weighting offset o = 0 (0: o = 1 on every row).</param>
public sealed record AttentionFamily(PositiveFunction Positive, bool NormalizeQK, ScoreScale Scale, int HeadDim, int ScaleDim, double? Power, int? Window = null, bool Alibi = false, int WarmRows = AttentionFamily.DefaultWarmRows)
{
    /// <summary>‖x‖ is taken as max(‖x‖, ε) when normalising queries and keys, so a zero vector maps to zero instead of NaN.</summary>
    public const double NormEpsilon = 1e-12;

    /// <summary>Rows with n_i ≤ 3 visible keys use the offset o_i = 0 in the re-weighting by default (Gao &amp; Spratling's rule for the first rows).</summary>
    public const int DefaultWarmRows = 3;

    /// <summary>The score scale λ for a row that sees <paramref name="n"/> keys.</summary>
    public double RowScale(int n) => Scale switch
    {
        ScoreScale.LogDimLogLength => Math.Log(ScaleDim) * Math.Log(n),
        ScoreScale.LogLengthOverSqrtDim => Math.Log(n) / Math.Sqrt(HeadDim),
        _ => 1 / Math.Sqrt(HeadDim),
    };

    /// <summary>The first key a query sees when it sees keys up to <paramref name="end"/> − 1 (its absolute position + 1).</summary>
    public int FirstKey(int end) => Window is int w && end > w ? end - w : 0;

    /// <summary>The re-weighting offset o for a row that sees <paramref name="n"/> keys.</summary>
    public double ReweightOffset(int n) => n <= WarmRows ? 0 : 1;

    /// <summary>
    /// ALiBi's slope m_h of head <paramref name="head"/> (0-based) of <paramref name="heads"/> (Press et al., 2022):
    /// the geometric sequence 2^(−8/n'), 2^(−16/n'), … for the largest power of two n' ≤ heads, and for the remaining
    /// heads every other slope of the sequence for 2n'. Zero when the family has no ALiBi.
    /// </summary>
    public double AlibiSlope(int head, int heads)
    {
        if (!Alibi) return 0;
        int pow2 = 1 << (int)Math.Floor(Math.Log2(heads));
        return head < pow2 ? Math.Pow(2, -8.0 * (head + 1) / pow2) : Math.Pow(2, -8.0 * (2 * (head - pow2) + 1) / (2 * pow2));
    }

    /// <summary>
    /// The re-weighting treats a row as degenerate (keeps its first-stage weights) when max x = n·max a − o is at most
    /// this tolerance: c·n·ε with c = <see cref="TieFactor"/> and ε the dtype's machine epsilon. A row that is uniform
    /// in exact arithmetic (identical keys) has max x of a few rounding errors of n·a, positive or negative by the last
    /// ulp; without the tolerance its branch, and a gradient of order 1/max x ≈ 10¹², would hang on that ulp.
    /// </summary>
    public static double DegenerateTolerance(int n, DType dtype) => TieFactor * n * MachineEpsilon(dtype);

    /// <summary>c in <see cref="DegenerateTolerance"/>.</summary>
    public const double TieFactor = 4;

    /// <summary>The gap between 1 and the next representable number: 2^−23 for float32, 2^−52 for float64.</summary>
    public static double MachineEpsilon(DType dtype) => dtype == DType.Float32 ? Math.ScaleB(1, -23) : Math.ScaleB(1, -52);

    /// <summary>The smallest positive normal number of a float dtype (2^−126 for float32, 2^−1022 for float64).</summary>
    public static double MinNormal(DType dtype) => dtype == DType.Float32 ? Math.ScaleB(1, -126) : Math.ScaleB(1, -1022);

    /// <summary>ln of <see cref="MinNormal"/>: exp arguments below it are clamped there (the result would be subnormal, slow on x86, and negligible).</summary>
    public static double LogMinNormal(DType dtype) => Math.Log(MinNormal(dtype));

    /// <summary>
    /// The smallest y in [0, 1] whose p-th power is still a normal number (with a 1 % margin): the re-weighting counts
    /// smaller y as 0, since their powers are below 10⁻³⁸ of the row's largest term.
    /// </summary>
    public static double PowerCutoff(double p, DType dtype) => Math.Exp(LogMinNormal(dtype) / p) * 1.01;
}

/// <summary>Sizes of one causal attention call: q [Batch, Heads, Queries, HeadDim], k and v [Batch, Heads, Keys, HeadDim].</summary>
/// <param name="Batch">B.</param>
/// <param name="Heads">H.</param>
/// <param name="Queries">Tq.</param>
/// <param name="Keys">Tk = QueryOffset + Tq.</param>
/// <param name="HeadDim">D.</param>
/// <param name="QueryOffset">Absolute position of the first query; query i sees keys up to QueryOffset + i.</param>
public readonly record struct AttentionDims(int Batch, int Heads, int Queries, int Keys, int HeadDim, int QueryOffset)
{
    /// <summary>One past the last key visible from query row <paramref name="i"/> (QueryOffset + i + 1; n_i without a window).</summary>
    public int Visible(int i) => QueryOffset + i + 1;
}
