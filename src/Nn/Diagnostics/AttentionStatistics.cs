using Engine.Autograd;

namespace Engine.Nn.Diagnostics;

/// <summary>Settings of <see cref="AttentionStatistics.Measure"/>.</summary>
public sealed record AttentionStatisticsOptions
{
    /// <summary>
    /// Distance from which a key counts as far: key j of query i is far when i − j ≥ FarDistance (usually the training
    /// length L, so far keys are those no training window could pair with the query).
    /// </summary>
    public required int FarDistance { get; init; }

    /// <summary>How many first positions of the window count as the attention sink (4 by default).</summary>
    public int SinkTokens { get; init; } = 4;

    /// <summary>Upper bound on windows × length per forward pass (at least one window per pass).</summary>
    public int MaxBatchTokens { get; init; } = 8192;

    /// <summary>
    /// Upper bound on the attention weights (batch × heads × rows × keys) recomputed at once; with the q and k kept by
    /// the forward, this is what bounds memory for long windows (at least one query row per chunk).
    /// </summary>
    public int MaxChunkElements { get; init; } = 1 << 22;
}

/// <summary>The mean attention statistics of a set of query rows.</summary>
/// <param name="Entropy">Mean entropy −Σ_j w_ij ln w_ij of the rows (nats).</param>
/// <param name="UniformEntropy">Mean ln n_i of the same rows, n_i = i + 1 keys: the entropy of uniform attention.</param>
/// <param name="FarMass">Mean attention mass on keys j with i − j ≥ <see cref="AttentionStatisticsOptions.FarDistance"/>.</param>
/// <param name="SinkMass">Mean attention mass on the first <see cref="AttentionStatisticsOptions.SinkTokens"/> positions of the window.</param>
/// <param name="Rows">Number of (window, row) pairs averaged.</param>
public sealed record AttentionSummary(double Entropy, double UniformEntropy, double FarMass, double SinkMass, long Rows);

/// <summary>
/// Per layer, head and query row: entropy, far mass and sink mass of a model's attention, summed over validation
/// windows of one length. One forward pass per batch of windows runs with
/// <see cref="CausalSelfAttention.CaptureQueriesKeys"/> on; then each layer's weights are recomputed from the kept q
/// and k in chunks of query rows (<see cref="CausalSelfAttention.CapturedWeights"/>), so no [T, T] map per head is
/// held at once and memory stays bounded for long windows.
/// </summary>
public sealed class AttentionStatistics
{
    private readonly double[] entropy, far, sink;   // [layer, head, row], summed over windows

    private AttentionStatistics(int layers, int heads, int length, int windows, AttentionStatisticsOptions options)
    {
        Layers = layers;
        Heads = heads;
        Length = length;
        Windows = windows;
        Options = options;
        entropy = new double[layers * heads * length];
        far = new double[entropy.Length];
        sink = new double[entropy.Length];
    }

    /// <summary>Layers measured.</summary>
    public int Layers { get; }
    /// <summary>Heads per layer.</summary>
    public int Heads { get; }
    /// <summary>Window length (query rows per window).</summary>
    public int Length { get; }
    /// <summary>Windows averaged over.</summary>
    public int Windows { get; }
    /// <summary>The settings used.</summary>
    public AttentionStatisticsOptions Options { get; }

    /// <summary>
    /// Measures <paramref name="model"/> in eval mode (its previous mode is restored) on <paramref name="windows"/>
    /// windows of <paramref name="length"/> tokens tiled back to back from the start of <paramref name="tokens"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The tokens are too few for the windows, or a size or option is not positive.</exception>
    public static AttentionStatistics Measure(Gpt model, int[] tokens, int length, int windows, AttentionStatisticsOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(options);
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, "attention statistics: the window length must be positive");
        if (windows < 1) throw new ArgumentOutOfRangeException(nameof(windows), windows, "attention statistics: the number of windows must be positive");
        if (options.FarDistance < 1) throw new ArgumentException($"attention statistics: the far distance must be positive, got {options.FarDistance}", nameof(options));
        if (options.SinkTokens < 0) throw new ArgumentException($"attention statistics: the sink size must be non-negative, got {options.SinkTokens}", nameof(options));
        if (options.MaxBatchTokens < 1 || options.MaxChunkElements < 1)
            throw new ArgumentException($"attention statistics: the batch token and chunk element budgets must be positive, got {options.MaxBatchTokens} and {options.MaxChunkElements}", nameof(options));
        if ((long)windows * length > tokens.Length)
            throw new ArgumentException($"attention statistics: {tokens.Length} tokens are too few for {windows} windows of {length}");

        var config = model.Config;
        var stats = new AttentionStatistics(config.Layers, config.Heads, length, windows, options);
        int batchRows = Math.Max(1, Math.Min(windows, options.MaxBatchTokens / length));
        bool wasTraining = model.Training;
        model.Eval();
        model.CaptureQueriesKeys(true);
        try
        {
            using var _ = new NoGrad();
            for (int first = 0; first < windows; first += batchRows)
            {
                int rows = Math.Min(batchRows, windows - first);
                var x = new int[rows * length];
                Array.Copy(tokens, first * length, x, 0, x.Length);
                model.Forward(Tensor.FromArray<int>(x, [rows, length], model.Device));
                for (int layer = 0; layer < config.Layers; layer++) stats.Accumulate(layer, model.Blocks[layer].Attention, rows);
            }
        }
        finally
        {
            model.CaptureQueriesKeys(false);
            model.Train(wasTraining);
        }
        return stats;
    }

    private void Accumulate(int layer, CausalSelfAttention attention, int batch)
    {
        int h = Heads, t = Length, farDistance = Options.FarDistance, sinkTokens = Options.SinkTokens;
        int chunk = (int)Math.Clamp(Options.MaxChunkElements / ((long)batch * h * t), 1, t);
        for (int rowStart = 0; rowStart < t; rowStart += chunk)
        {
            int rows = Math.Min(chunk, t - rowStart), keys = rowStart + rows;
            var w = attention.CapturedWeights(rowStart, rows).ToDoubleArray();   // [B, H, rows, keys]
            for (int b = 0; b < batch; b++)
                for (int head = 0; head < h; head++)
                    for (int r = 0; r < rows; r++)
                    {
                        int i = rowStart + r;
                        var row = w.AsSpan(((b * h + head) * rows + r) * keys, i + 1);
                        double e = 0, f = 0, s = 0;
                        for (int j = 0; j < row.Length; j++)
                        {
                            double p = row[j];
                            if (p > 0) e -= p * Math.Log(p);
                            if (i - j >= farDistance) f += p;
                            if (j < sinkTokens) s += p;
                        }
                        int at = (layer * h + head) * t + i;
                        entropy[at] += e;
                        far[at] += f;
                        sink[at] += s;
                    }
        }
    }

    /// <summary>
    /// The means over all windows and the query rows [<paramref name="rowFrom"/>, <paramref name="rowTo"/>) of one
    /// head (rowTo −1: to the end of the window).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The layer, head or rows are out of range.</exception>
    public AttentionSummary Summary(int layer, int head, int rowFrom = 0, int rowTo = -1)
    {
        if ((uint)layer >= (uint)Layers) throw new ArgumentOutOfRangeException(nameof(layer), layer, $"attention statistics: layer must be in 0..{Layers - 1}");
        if ((uint)head >= (uint)Heads) throw new ArgumentOutOfRangeException(nameof(head), head, $"attention statistics: head must be in 0..{Heads - 1}");
        if (rowTo < 0) rowTo = Length;
        if (rowFrom < 0 || rowTo > Length || rowTo <= rowFrom)
            throw new ArgumentOutOfRangeException(nameof(rowFrom), $"attention statistics: rows {rowFrom}..{rowTo - 1} are not a non-empty range inside the window of {Length}");
        double e = 0, f = 0, s = 0, u = 0;
        int start = (layer * Heads + head) * Length;
        for (int i = rowFrom; i < rowTo; i++)
        {
            e += entropy[start + i];
            f += far[start + i];
            s += sink[start + i];
            u += Math.Log(i + 1);
        }
        long n = (long)Windows * (rowTo - rowFrom);
        return new AttentionSummary(e / n, u / (rowTo - rowFrom), f / n, s / n, n);
    }

    /// <summary>The mean over the heads of <paramref name="layer"/> of <see cref="Summary"/> over the whole window.</summary>
    public AttentionSummary LayerSummary(int layer)
    {
        var heads = Enumerable.Range(0, Heads).Select(h => Summary(layer, h)).ToArray();
        return new AttentionSummary(heads.Average(x => x.Entropy), heads[0].UniformEntropy, heads.Average(x => x.FarMass),
            heads.Average(x => x.SinkMass), heads.Sum(x => x.Rows));
    }
}
