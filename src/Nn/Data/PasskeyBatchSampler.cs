using System.Globalization;

namespace Engine.Nn.Data;

/// <summary>
/// Training batches with passkey prompts mixed in: each batch of the wrapped <see cref="BatchSampler"/> has about
/// <see cref="Fraction"/> of its rows (⌊f·B⌋, plus one with probability f·B − ⌊f·B⌋, at random rows) replaced by a
/// passkey window of exactly T tokens: a prompt of T − 4 tokens with a random key, filler offset and depth, followed
/// by the five answer digits, shifted by one for the targets like any other row. By default the loss is next-token over
/// the whole window (the filler is corpus text; the key's digits in the statement are unpredictable, the answer's are
/// not); with <see cref="AnswerOnly"/> every target of a passkey row but the five answer digits is
/// <see cref="IgnoreTarget"/>, which the batch names as its ignore index, so those rows train retrieval alone.
/// <para>
/// The passkey rows of batch n come from a generator seeded by (seed, n) alone, so the state is the wrapped
/// sampler's (<see cref="SamplerState"/>, with the batch count) and exact resume still holds.
/// </para>
/// </summary>
public sealed class PasskeyBatchSampler : IBatchSource
{
    private readonly BatchSampler inner;
    private readonly PasskeyPrompts prompts;
    private readonly ulong seed;
    private readonly int promptLength;

    /// <summary>Mixes passkey windows built by <paramref name="prompts"/> into the batches of <paramref name="inner"/>.</summary>
    /// <param name="inner">The corpus windows.</param>
    /// <param name="prompts">The prompt builder (its filler should be training text).</param>
    /// <param name="fraction">Fraction of rows that are passkey windows, in [0, 1].</param>
    /// <param name="seed">Seed of the passkey rows (combined with each batch's index).</param>
    /// <param name="answerOnly">Score only the answer digits of passkey rows (see <see cref="AnswerOnly"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">The fraction is outside [0, 1], or the context is too short for a prompt.</exception>
    public PasskeyBatchSampler(BatchSampler inner, PasskeyPrompts prompts, double fraction, ulong seed, bool answerOnly = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(prompts);
        if (!(fraction >= 0 && fraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, $"passkey sampler: fraction {fraction.ToString(CultureInfo.InvariantCulture)} is outside [0, 1] (the share of rows that are passkey windows)");
        this.inner = inner;
        this.prompts = prompts;
        this.seed = seed;
        Fraction = fraction;
        AnswerOnly = answerOnly;
        promptLength = fraction > 0 ? prompts.PromptLengthForWindow(inner.Context) : 0;
    }

    /// <summary>The target of passkey-row positions that are not scored when <see cref="AnswerOnly"/> is set.</summary>
    public const int IgnoreTarget = -1;

    /// <summary>Fraction of rows replaced by passkey windows (in expectation).</summary>
    public double Fraction { get; }

    /// <summary>True when only the answer digits of passkey rows are scored; corpus rows are always scored in full.</summary>
    public bool AnswerOnly { get; }
    /// <inheritdoc/>
    public int BatchSize => inner.BatchSize;
    /// <inheritdoc/>
    public int Context => inner.Context;
    /// <inheritdoc/>
    public long Batches => inner.Batches;
    /// <inheritdoc/>
    public SamplerState State => inner.State;

    /// <inheritdoc/>
    public void Restore(SamplerState state) => inner.Restore(state);

    /// <inheritdoc/>
    public Batch Next()
    {
        long index = inner.Batches;
        var (x, y) = inner.NextArrays();
        int b = BatchSize, t = Context;
        if (Fraction > 0)
        {
            var rng = new Rng(seed ^ ((ulong)(index + 1) * 0x9E3779B97F4A7C15UL));
            double expected = Fraction * b;
            int rows = (int)Math.Floor(expected);
            if (rows < b && rng.NextDouble() < expected - rows) rows++;
            // A partial Fisher–Yates shuffle picks which rows.
            var order = Enumerable.Range(0, b).ToArray();
            for (int i = 0; i < rows; i++)
            {
                int j = i + rng.NextInt(b - i);
                (order[i], order[j]) = (order[j], order[i]);
                var sequence = prompts.Build(promptLength, rng).Sequence();   // T + 1 tokens
                Array.Copy(sequence, 0, x, order[i] * t, t);
                Array.Copy(sequence, 1, y, order[i] * t, t);
                if (AnswerOnly) Array.Fill(y, IgnoreTarget, order[i] * t, t - PasskeyPrompts.KeyDigits);
            }
        }
        return new Batch(Tensor.FromArray<int>(x, [b, t]), Tensor.FromArray<int>(y, [b, t]), AnswerOnly ? IgnoreTarget : null);
    }
}
