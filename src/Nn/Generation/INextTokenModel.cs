namespace Engine.Nn;

/// <summary>
/// A causal language model seen one step at a time, as probes that decode a few tokens need it: read a prompt,
/// then append tokens one by one, getting the next-token logits after each. <see cref="GptNextTokenModel"/> runs a
/// <see cref="Gpt"/> over a KV cache; <see cref="NextTokenModel.FromFunction"/> wraps any tokens → logits function.
/// Threading: an instance holds one sequence and is not thread-safe; use one per thread.
/// </summary>
public interface INextTokenModel
{
    /// <summary>Forgets the previous sequence, reads <paramref name="prompt"/> and returns the logits [V] of the token after it.</summary>
    double[] Start(IReadOnlyList<int> prompt);

    /// <summary>Appends <paramref name="token"/> to the sequence and returns the logits [V] of the token after it.</summary>
    double[] Append(int token);
}

/// <summary>Adapters to <see cref="INextTokenModel"/>.</summary>
public static class NextTokenModel
{
    /// <summary>
    /// A model from a stateless function of the whole sequence so far to the next token's logits (simple but
    /// O(T) per call; for tests and oracles).
    /// </summary>
    public static INextTokenModel FromFunction(Func<IReadOnlyList<int>, double[]> nextLogits)
    {
        ArgumentNullException.ThrowIfNull(nextLogits);
        return new FunctionModel(nextLogits);
    }

    private sealed class FunctionModel(Func<IReadOnlyList<int>, double[]> next) : INextTokenModel
    {
        private readonly List<int> sequence = [];

        public double[] Start(IReadOnlyList<int> prompt)
        {
            ArgumentNullException.ThrowIfNull(prompt);
            if (prompt.Count == 0) throw new ArgumentException("next-token model: the prompt is empty", nameof(prompt));
            sequence.Clear();
            sequence.AddRange(prompt);
            return next(sequence);
        }

        public double[] Append(int token)
        {
            if (sequence.Count == 0) throw new InvalidOperationException("next-token model: Append before Start");
            sequence.Add(token);
            return next(sequence);
        }
    }
}
