namespace Engine.Nn.Evaluation;

/// <summary>
/// One evaluation pass of an <see cref="Evaluator"/>: the mean loss and, for every position p of the window
/// (0 … <see cref="Length"/> − 1), the summed loss and the number of predictions made at p, so that loss can be read
/// as a function of how much context a prediction had.
/// <para>
/// Under causal attention the prediction at position p of a window sees only positions 0 … p, so the positions below
/// the training length L of a long window see exactly the context they see in a window of length L: a rise of the loss
/// at positions ≥ L (and not below) is the failure to extrapolate, separated from any other effect of the long window.
/// </para>
/// </summary>
/// <param name="MeanLoss">Mean cross-entropy over all scored predictions (nats per token).</param>
/// <param name="PositionLossSums">Summed cross-entropy of the predictions at each window position, length <see cref="Length"/>.</param>
/// <param name="PositionTokens">Number of predictions at each window position (the number of windows), length <see cref="Length"/>.</param>
/// <param name="ScoredBytes">
/// UTF-8 bytes of the text behind the scored target tokens, or 0 when the evaluator was given no byte lengths
/// (then <see cref="BitsPerByte"/> is NaN).
/// </param>
public sealed record EvaluationResult(double MeanLoss, double[] PositionLossSums, long[] PositionTokens, long ScoredBytes = 0)
{
    /// <summary>Window length (number of positions).</summary>
    public int Length => PositionLossSums.Length;

    /// <summary>Summed cross-entropy of all scored predictions (nats).</summary>
    public double TotalLoss
    {
        get
        {
            double total = 0;
            foreach (var s in PositionLossSums) total += s;
            return total;
        }
    }

    /// <summary>
    /// Bits per byte: <see cref="TotalLoss"/> / (ln 2 · <see cref="ScoredBytes"/>), comparable across tokenizers (for
    /// a char tokenizer on ASCII text it is <see cref="MeanLoss"/> / ln 2); NaN when the byte count is unknown.
    /// </summary>
    public double BitsPerByte => ScoredBytes > 0 ? TotalLoss / (Math.Log(2) * ScoredBytes) : double.NaN;

    /// <summary>
    /// The mean loss over the positions [from, to) of each boundary pair: <paramref name="boundaries"/> b0 &lt; b1 &lt; …
    /// give the bins [b0, b1), [b1, b2), …; bins are clipped to the window and empty ones are dropped.
    /// </summary>
    /// <exception cref="ArgumentException">The boundaries are fewer than two, negative or not increasing.</exception>
    public IReadOnlyList<PositionBin> Bin(IReadOnlyList<int> boundaries)
    {
        ArgumentNullException.ThrowIfNull(boundaries);
        if (boundaries.Count < 2) throw new ArgumentException($"position bins: need at least two boundaries, got {boundaries.Count}", nameof(boundaries));
        var bins = new List<PositionBin>();
        for (int i = 0; i + 1 < boundaries.Count; i++)
        {
            int from = boundaries[i], to = boundaries[i + 1];
            if (from < 0 || to <= from)
                throw new ArgumentException($"position bins: boundaries must be non-negative and increasing, got {from} then {to}", nameof(boundaries));
            from = Math.Min(from, Length);
            to = Math.Min(to, Length);
            if (to <= from) continue;
            double sum = 0;
            long tokens = 0;
            for (int p = from; p < to; p++) { sum += PositionLossSums[p]; tokens += PositionTokens[p]; }
            bins.Add(new PositionBin(from, to, tokens, tokens == 0 ? double.NaN : sum / tokens));
        }
        return bins;
    }

    /// <summary>
    /// The doubling buckets [0, L), [L, 2L), [2L, 4L), [4L, 8L), … up to the window length (the last one clipped),
    /// for training length <paramref name="trainLength"/> = L.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="trainLength"/> is not positive.</exception>
    public IReadOnlyList<PositionBin> Buckets(int trainLength)
    {
        if (trainLength < 1) throw new ArgumentOutOfRangeException(nameof(trainLength), trainLength, "position buckets: the training length must be positive");
        var bounds = new List<int> { 0 };
        for (long b = trainLength; ; b *= 2)
        {
            bounds.Add((int)Math.Min(b, Length));
            if (b >= Length) break;
        }
        return Bin(bounds);
    }

    /// <summary>
    /// The fine curve: consecutive bins of <paramref name="width"/> positions, [0, w), [w, 2w), … (the last one clipped).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="width"/> is not positive.</exception>
    public IReadOnlyList<PositionBin> Curve(int width)
    {
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "position curve: the bin width must be positive");
        var bounds = new List<int>();
        for (long b = 0; b < Length; b += width) bounds.Add((int)b);
        bounds.Add(Length);
        return Bin(bounds);
    }

    /// <summary>The bin width of the fine curve for training length L: L/4 positions (at least 1).</summary>
    public static int CurveWidth(int trainLength) => Math.Max(1, trainLength / 4);
}

/// <summary>The mean loss of the predictions at window positions [<paramref name="From"/>, <paramref name="To"/>).</summary>
/// <param name="From">First position (inclusive).</param>
/// <param name="To">Last position (exclusive).</param>
/// <param name="Tokens">Predictions in the bin.</param>
/// <param name="MeanLoss">Their mean cross-entropy (nats per token).</param>
public sealed record PositionBin(int From, int To, long Tokens, double MeanLoss);
