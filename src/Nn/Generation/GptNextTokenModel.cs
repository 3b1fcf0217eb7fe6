using Engine.Autograd;

namespace Engine.Nn;

/// <summary>
/// A <see cref="Gpt"/> as an <see cref="INextTokenModel"/>: the prompt is one forward pass of batch 1 into a
/// KV cache, each appended token one step over it (on the CPU through the allocation-free decoder, elsewhere through
/// <see cref="KvCache"/> and the tensor path), all without gradients through the eval-mode forward
/// (dropout off, the inference attention if configured), without changing the model's mode. Memory is that of one
/// sequence. Threading: one instance holds one sequence and is not thread-safe; many instances (one per thread) may
/// share one model.
/// </summary>
public sealed class GptNextTokenModel : INextTokenModel, IDisposable
{
    private readonly Gpt model;
    private ISequenceDecoder? decoder;
    private readonly int[] one = new int[1];   // the appended token's id, reused (an instance is one thread's)
    private bool disposed;

    /// <summary>Wraps <paramref name="model"/> (whose mode is left as it is).</summary>
    public GptNextTokenModel(Gpt model)
    {
        ArgumentNullException.ThrowIfNull(model);
        this.model = model;
    }

    /// <inheritdoc/>
    public double[] Start(IReadOnlyList<int> prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ObjectDisposedException.ThrowIf(disposed, this);
        if (prompt.Count == 0) throw new ArgumentException("gpt next-token model: the prompt is empty", nameof(prompt));
        // A new decoder per sequence: it reads the weights as they are now (they may have been trained or loaded since).
        decoder?.Dispose();
        decoder = null;
        int reserve = prompt.Count + 64;   // grows past this as tokens are appended
        decoder = CpuDecoder.TryCreate(model, reserve) ?? new TextGenerator.TensorDecoder(model, reserve);
        return Step(prompt as int[] ?? prompt.ToArray());
    }

    /// <inheritdoc/>
    public double[] Append(int token)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (decoder is null) throw new InvalidOperationException("gpt next-token model: Append before Start");
        one[0] = token;
        return Step(one);
    }

    private double[] Step(int[] tokens)
    {
        var logits = new double[model.Config.VocabSize];
        using (new NoGrad()) decoder!.Step(tokens, logits);
        return logits;
    }

    /// <summary>Drops the cache.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        decoder?.Dispose();
        decoder = null;
    }
}
