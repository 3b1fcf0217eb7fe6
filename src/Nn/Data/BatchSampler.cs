namespace Engine.Nn.Data;

/// <summary>One training batch: input tokens and the same windows shifted by one (the next-token targets).</summary>
/// <param name="Inputs">Token ids [B, T], int32.</param>
/// <param name="Targets">Token ids [B, T], int32: <c>Targets[b, t] = Inputs[b, t + 1]</c> within the corpus.</param>
/// <param name="IgnoreIndex">A target value that is not scored (passed to the cross-entropy), or null when every target counts.</param>
public sealed record Batch(Tensor Inputs, Tensor Targets, int? IgnoreIndex = null);

/// <summary>The state of a <see cref="BatchSampler"/>, enough to continue the exact same stream of batches.</summary>
/// <param name="Rng">The generator's four state words.</param>
/// <param name="Batches">How many batches were drawn so far.</param>
public sealed record SamplerState(ulong[] Rng, long Batches);

/// <summary>
/// Draws batches of random windows from a token sequence: each of the B rows starts at a uniformly random offset s
/// in [0, N − T − 1] and holds tokens s … s+T−1, with targets s+1 … s+T. Seeded with <see cref="Engine.Rng"/>; its
/// <see cref="State"/> can be saved and restored, so a resumed run draws exactly the batches the uninterrupted run would.
/// </summary>
public sealed class BatchSampler : IBatchSource
{
    private readonly int[] tokens;
    private readonly Rng rng;

    /// <summary>A sampler over <paramref name="tokens"/>.</summary>
    /// <exception cref="ArgumentException">The sequence is too short for one window of <paramref name="context"/> + 1 tokens, or a size is not positive.</exception>
    public BatchSampler(int[] tokens, int batchSize, int context, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "sampler: batch size must be positive");
        if (context < 1) throw new ArgumentOutOfRangeException(nameof(context), context, "sampler: context must be positive");
        if (tokens.Length < context + 1)
            throw new ArgumentException($"sampler: {tokens.Length} tokens are too few for a window of context {context} plus its target (need {context + 1})");
        this.tokens = tokens;
        BatchSize = batchSize;
        Context = context;
        rng = new Rng(seed);
    }

    /// <summary>Rows per batch (B).</summary>
    public int BatchSize { get; }
    /// <summary>Window length (T).</summary>
    public int Context { get; }
    /// <summary>Number of batches drawn so far.</summary>
    public long Batches { get; private set; }

    /// <summary>The current state (a copy).</summary>
    public SamplerState State => new(rng.State, Batches);

    /// <summary>Restores a state saved by <see cref="State"/>.</summary>
    public void Restore(SamplerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Batches < 0) throw new ArgumentOutOfRangeException(nameof(state), state.Batches, "sampler: batch count must not be negative");
        rng.State = state.Rng;
        Batches = state.Batches;
    }

    /// <summary>Draws the next batch.</summary>
    public Batch Next()
    {
        var (x, y) = NextArrays();
        return new Batch(Tensor.FromArray<int>(x, [BatchSize, Context]), Tensor.FromArray<int>(y, [BatchSize, Context]));
    }

    /// <summary>The next batch as row-major [B, T] arrays (inputs, targets), for samplers that edit rows.</summary>
    internal (int[] Inputs, int[] Targets) NextArrays()
    {
        int b = BatchSize, t = Context;
        var x = new int[b * t];
        var y = new int[b * t];
        for (int row = 0; row < b; row++)
        {
            int start = rng.NextInt(tokens.Length - t);
            Array.Copy(tokens, start, x, row * t, t);
            Array.Copy(tokens, start + 1, y, row * t, t);
        }
        Batches++;
        return (x, y);
    }
}
