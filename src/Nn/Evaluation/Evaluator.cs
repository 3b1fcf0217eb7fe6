using Engine.Autograd;

namespace Engine.Nn.Evaluation;

/// <summary>
/// Mean next-token cross-entropy (nats per token) of a model on a fixed set of validation windows of one length.
/// <para>
/// The windows tile the first <c>spanTokens</c> tokens of the sequence back to back: window w holds tokens
/// w·L … w·L+L−1 and predicts w·L+1 … w·L+L. With the same span, evaluators of different lengths score exactly the
/// same tokens and differ only in how much context each prediction can see, which is what a length-extrapolation
/// curve should compare (when L does not divide the span, the span is rounded down to a multiple of L).
/// </para>
/// <para>
/// <see cref="EvaluateByPosition(Func{Tensor, Tensor})"/> also returns the loss per window position, from the same pass,
/// and, given the UTF-8 byte length of every token, the bytes of exactly the scored target tokens, for bits per byte.
/// </para>
/// <para>
/// Memory is bounded: windows run in batches of at most <c>maxBatchTokens</c> tokens (at least one window per
/// batch) under <see cref="NoGrad"/>, so no graph or intermediate is kept, and the loss is summed in float64 on the host.
/// </para>
/// <para>Threading: an evaluator is immutable; many threads may evaluate one shared model with it at once.</para>
/// </summary>
public sealed class Evaluator
{
    private readonly int[] tokens;
    private readonly int batchRows;
    private readonly long scoredBytes;

    /// <summary>An evaluator over <paramref name="tokens"/> (usually the validation part of a dataset).</summary>
    /// <param name="tokens">The token sequence.</param>
    /// <param name="length">Window length L (the evaluation context).</param>
    /// <param name="spanTokens">How many tokens to score at most (rounded down to a multiple of L).</param>
    /// <param name="maxBatchTokens">Upper bound on B·L per forward pass.</param>
    /// <param name="tokenBytes">
    /// The UTF-8 bytes behind each token, aligned with <paramref name="tokens"/> (e.g. <see cref="Data.TextDataset.ValidationBytes"/>),
    /// for <see cref="EvaluationResult.BitsPerByte"/>; null leaves the byte count unknown.
    /// </param>
    /// <exception cref="ArgumentException">The sequence is too short for one window, a size is not positive, or the byte lengths do not match the tokens.</exception>
    public Evaluator(int[] tokens, int length, int spanTokens = 16384, int maxBatchTokens = 8192, int[]? tokenBytes = null)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, "evaluator: length must be positive");
        if (spanTokens < 1) throw new ArgumentOutOfRangeException(nameof(spanTokens), spanTokens, "evaluator: span must be positive");
        if (maxBatchTokens < 1) throw new ArgumentOutOfRangeException(nameof(maxBatchTokens), maxBatchTokens, "evaluator: batch token budget must be positive");
        int usable = Math.Min(spanTokens, tokens.Length - 1);
        Windows = usable / length;
        if (Windows == 0)
            throw new ArgumentException($"evaluator: {tokens.Length} tokens (span {spanTokens}) are too few for one window of length {length} plus its target (need {length + 1})");
        this.tokens = tokens;
        Length = length;
        batchRows = Math.Max(1, Math.Min(Windows, maxBatchTokens / length));
        if (tokenBytes is not null)
        {
            if (tokenBytes.Length != tokens.Length)
                throw new ArgumentException($"evaluator: {tokenBytes.Length} byte lengths for {tokens.Length} tokens", nameof(tokenBytes));
            // The targets are tokens 1 … Windows·L: exactly those bytes are predicted.
            for (long i = 1; i <= ScoredTokens; i++)
            {
                if (tokenBytes[i] < 0) throw new ArgumentException($"evaluator: token {i} has a negative byte length {tokenBytes[i]}", nameof(tokenBytes));
                scoredBytes += tokenBytes[i];
            }
        }
    }

    /// <summary>Window length.</summary>
    public int Length { get; }
    /// <summary>Number of windows.</summary>
    public int Windows { get; }
    /// <summary>Number of scored predictions (<see cref="Windows"/> · <see cref="Length"/>).</summary>
    public long ScoredTokens => (long)Windows * Length;
    /// <summary>Windows per forward pass.</summary>
    public int BatchRows => batchRows;
    /// <summary>UTF-8 bytes behind the scored target tokens (0 when no byte lengths were given).</summary>
    public long ScoredBytes => scoredBytes;

    /// <summary>
    /// Mean cross-entropy of <paramref name="forward"/>, a function from token ids [B, T] (int32) to logits [B, T, V].
    /// </summary>
    /// <exception cref="ArgumentException">The logits have the wrong shape, too small a vocabulary, or a non-finite value.</exception>
    public double Evaluate(Func<Tensor, Tensor> forward) => EvaluateByPosition(forward).MeanLoss;

    /// <summary>
    /// Mean cross-entropy of a model's eval-mode forward (dropout off, the inference attention if configured); the
    /// model (and its mode) is not changed.
    /// </summary>
    public double Evaluate(Gpt model) => EvaluateByPosition(model).MeanLoss;

    /// <summary>
    /// One pass of <paramref name="forward"/> (token ids [B, T] → logits [B, T, V]) returning the mean loss and the
    /// loss summed per window position (see <see cref="EvaluationResult"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The logits have the wrong shape, too small a vocabulary, or a non-finite value.</exception>
    public EvaluationResult EvaluateByPosition(Func<Tensor, Tensor> forward) => EvaluateByPosition(forward, freePerBatch: false);

    /// <param name="forward">The model's forward pass.</param>
    /// <param name="freePerBatch">
    /// Free every storage a batch created once its losses are summed (a <see cref="StorageScope"/> per batch), so
    /// device memory stays flat over a long evaluation; only for a forward known to keep nothing it creates (the
    /// model's own, whose caches are made under <see cref="StorageScope.Suspend"/>).
    /// </param>
    private EvaluationResult EvaluateByPosition(Func<Tensor, Tensor> forward, bool freePerBatch)
    {
        ArgumentNullException.ThrowIfNull(forward);
        using var _ = new NoGrad();
        var sums = new double[Length];
        for (int first = 0; first < Windows; first += batchRows)
        {
            using var scope = freePerBatch ? StorageScope.Begin() : null;
            int rows = Math.Min(batchRows, Windows - first);
            var x = new int[rows * Length];
            Array.Copy(tokens, first * Length, x, 0, rows * Length);
            var logits = forward(Tensor.FromArray<int>(x, [rows, Length]));
            AddNegLogLikelihood(logits, rows, first * Length + 1, sums);
        }
        double total = 0;
        foreach (var s in sums) total += s;
        var counts = new long[Length];
        Array.Fill(counts, Windows);
        return new EvaluationResult(total / ScoredTokens, sums, counts, scoredBytes);
    }

    /// <summary>
    /// <see cref="EvaluateByPosition(Func{Tensor, Tensor})"/> of a model's eval-mode forward; the model (and its mode) is not changed.
    /// </summary>
    public EvaluationResult EvaluateByPosition(Gpt model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var device = model.Device;
        return EvaluateByPosition(x => model.Forward(x.To(device), null, training: false), freePerBatch: true);
    }

    private void AddNegLogLikelihood(Tensor logits, int rows, int targetStart, double[] positionSums)
    {
        if (logits.Rank != 3 || logits.Dim(0) != rows || logits.Dim(1) != Length)
            throw new ArgumentException($"evaluator: forward returned logits of shape [{string.Join(", ", logits.Shape)}], expected [{rows}, {Length}, vocab]");
        int v = logits.Dim(2);
        if (logits.Device != Device.Cpu)
        {
            AddNegLogLikelihoodOnDevice(logits, rows, targetStart, positionSums);
            return;
        }
        var values = logits.ToDoubleArray();
        for (int i = 0; i < rows * Length; i++)
        {
            int target = tokens[targetStart + i];
            if ((uint)target >= (uint)v)
                throw new ArgumentException($"evaluator: target token {target} is outside the model's vocabulary of {v}");
            var row = values.AsSpan(i * v, v);
            double max = double.NegativeInfinity;
            foreach (var z in row) max = Math.Max(max, z);
            if (!double.IsFinite(max)) throw new ArgumentException($"evaluator: non-finite logits at window position {i}");
            double s = 0;
            foreach (var z in row) s += Math.Exp(z - max);
            positionSums[i % Length] += max + Math.Log(s) - row[target];
        }
    }

    /// <summary>
    /// The same sums for logits on a device: log-softmax and the target's entry are taken there (in the logits'
    /// dtype), so only rows·L numbers come back instead of the [rows, L, V] logits.
    /// </summary>
    private void AddNegLogLikelihoodOnDevice(Tensor logits, int rows, int targetStart, double[] positionSums)
    {
        int v = logits.Dim(2);
        var targets = new int[rows * Length];
        Array.Copy(tokens, targetStart, targets, 0, targets.Length);
        foreach (int target in targets)
            if ((uint)target >= (uint)v)
                throw new ArgumentException($"evaluator: target token {target} is outside the model's vocabulary of {v}");
        var picked = logits.LogSoftmax(-1).Gather(2, Tensor.FromArray<int>(targets, [rows, Length, 1], logits.Device));
        var values = picked.ToDoubleArray();
        for (int i = 0; i < values.Length; i++)
        {
            if (!double.IsFinite(values[i])) throw new ArgumentException($"evaluator: non-finite logits at window position {i}");
            positionSums[i % Length] -= values[i];
        }
    }
}
