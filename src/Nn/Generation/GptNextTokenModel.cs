using Engine.Autograd;

namespace Engine.Nn;

/// <summary>
/// A <see cref="Gpt"/> as an <see cref="INextTokenModel"/>: the prompt is one forward pass of batch 1 into a
/// <see cref="KvCache"/>, each appended token one step over it, all without gradients and in eval mode (dropout off,
/// the inference attention if configured). Memory is that of one sequence. Dispose to restore the model's mode.
/// </summary>
public sealed class GptNextTokenModel : INextTokenModel, IDisposable
{
    private readonly Gpt model;
    private readonly KvCache cache;
    private readonly bool wasTraining;
    private bool started, disposed;

    /// <summary>Wraps <paramref name="model"/>, switching it to eval mode until <see cref="Dispose"/>.</summary>
    public GptNextTokenModel(Gpt model)
    {
        ArgumentNullException.ThrowIfNull(model);
        this.model = model;
        cache = model.CreateCache();
        wasTraining = model.Training;
        model.Eval();
    }

    /// <inheritdoc/>
    public double[] Start(IReadOnlyList<int> prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ObjectDisposedException.ThrowIf(disposed, this);
        if (prompt.Count == 0) throw new ArgumentException("gpt next-token model: the prompt is empty", nameof(prompt));
        cache.Clear();
        started = true;
        return Step(prompt as int[] ?? prompt.ToArray());
    }

    /// <inheritdoc/>
    public double[] Append(int token)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (!started) throw new InvalidOperationException("gpt next-token model: Append before Start");
        return Step([token]);
    }

    private double[] Step(int[] tokens)
    {
        using var _ = new NoGrad();
        var logits = model.Forward(Tensor.FromArray<int>(tokens, [1, tokens.Length]), cache);
        return logits.Select(1, tokens.Length - 1).Reshape(-1).ToDoubleArray();
    }

    /// <summary>Restores the model's training mode and drops the cache.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        cache.Clear();
        model.Train(wasTraining);
    }
}
