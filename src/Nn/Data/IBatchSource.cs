namespace Engine.Nn.Data;

/// <summary>
/// Where a <see cref="Training.Trainer"/> gets its batches: a seeded stream whose <see cref="State"/> can be saved in
/// a checkpoint and restored, so a resumed run draws exactly the batches the uninterrupted run would.
/// <see cref="BatchSampler"/> is the default; <see cref="PasskeyBatchSampler"/> mixes passkey prompts into it.
/// </summary>
public interface IBatchSource
{
    /// <summary>Rows per batch (B).</summary>
    int BatchSize { get; }
    /// <summary>Window length (T).</summary>
    int Context { get; }
    /// <summary>Number of batches drawn so far.</summary>
    long Batches { get; }
    /// <summary>The current state (a copy), enough to continue the same stream.</summary>
    SamplerState State { get; }
    /// <summary>Restores a state saved by <see cref="State"/>.</summary>
    void Restore(SamplerState state);
    /// <summary>Draws the next batch: inputs and targets [B, T], int32.</summary>
    Batch Next();
}
