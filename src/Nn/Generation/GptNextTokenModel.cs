using Engine.Autograd;

namespace Engine.Nn;

/// <summary>
/// A <see cref="Gpt"/> as an <see cref="INextTokenModel"/>: the prompt is one forward pass of batch 1 into a
/// <see cref="KvCache"/>, each appended token one step over it, all without gradients through the eval-mode forward
/// (dropout off, the inference attention if configured), without changing the model's mode. Memory is that of one
/// sequence. Threading: one instance holds one sequence and is not thread-safe; many instances (one per thread) may
/// share one model.
/// </summary>
public sealed class GptNextTokenModel : INextTokenModel, IDisposable
{
    private readonly Gpt model;
    private readonly KvCache cache;
    private readonly int[] one = new int[1];   // the appended token's id, reused (an instance is one thread's)
    private bool started, disposed;

    /// <summary>Wraps <paramref name="model"/> (whose mode is left as it is).</summary>
    public GptNextTokenModel(Gpt model)
    {
        ArgumentNullException.ThrowIfNull(model);
        this.model = model;
        cache = model.CreateCache();
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
        one[0] = token;
        return Step(one);
    }

    private double[] Step(int[] tokens) => TextGenerator.Step(model, cache, tokens);

    /// <summary>Drops the cache.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        cache.Clear();
    }
}
