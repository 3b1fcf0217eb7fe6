using System.Buffers;
using Engine.Autograd;

namespace Engine.Nn;

/// <summary>How the next token is drawn from the logits.</summary>
/// <param name="Temperature">Divides the logits before the softmax; 0 means greedy (argmax).</param>
/// <param name="TopK">Keep only the k most likely tokens (null: all).</param>
/// <param name="Seed">Seed of the sampling generator: the same seed gives the same text.</param>
/// <remarks>Immutable, so one instance may be shared by any number of threads.</remarks>
public sealed record SamplingOptions(double Temperature = 1.0, int? TopK = null, ulong Seed = 0);

/// <summary>
/// Autoregressive generation from a <see cref="Gpt"/>: the prompt is run once, then each new token is one forward
/// step of a single position over the <see cref="KvCache"/> (O(T) per token instead of O(T²)).
/// Thread-safe: every call has its own cache and generator; see <see cref="Gpt"/> for what the model requires.
/// </summary>
public static class TextGenerator
{
    /// <summary>
    /// Generates <paramref name="maxNewTokens"/> token ids after <paramref name="prompt"/> (which must not be empty).
    /// Runs the eval-mode forward without recording gradients and never changes the model (not even its mode), so
    /// many threads may generate from one shared model at once. With learned
    /// positions, once the sequence reaches ContextLength the model sees a sliding window of the last ContextLength tokens.
    /// </summary>
    public static int[] Generate(Gpt model, IReadOnlyList<int> prompt, int maxNewTokens, SamplingOptions? options = null)
    {
        options ??= new SamplingOptions();
        if (prompt.Count == 0) throw new ArgumentException("generate: the prompt is empty; give at least one token");
        if (maxNewTokens < 0) throw new ArgumentException($"generate: maxNewTokens must be ≥ 0, got {maxNewTokens}");
        var rng = new Rng(options.Seed);
        using (new NoGrad())
        {
            var sequence = new List<int>((int)Math.Min(Array.MaxLength, (long)prompt.Count + maxNewTokens));
            sequence.AddRange(prompt);
            var generated = new int[maxNewTokens];
            int window = model.Config.PositionEmbedding == PositionEmbedding.Learned ? model.Config.ContextLength : int.MaxValue;
            int start = Math.Max(0, sequence.Count - window);
            // The cache's final length (the last token is sampled, never fed): its buffers are allocated once.
            int length = (int)Math.Min(window, (long)sequence.Count - start + Math.Max(0, maxNewTokens - 1));
            using var decoder = CpuDecoder.TryCreate(model, length) ?? new TensorDecoder(model, length);
            var last = new double[model.Config.VocabSize];
            Span<int> one = stackalloc int[1];
            decoder.Step(sequence.Skip(start).ToArray(), last);
            for (int n = 0; n < maxNewTokens; n++)
            {
                int next = SampleNext(last, options.Temperature, options.TopK, rng);
                generated[n] = next;
                sequence.Add(next);
                if (n == maxNewTokens - 1) break;
                if (decoder.Length + 1 <= window)
                {
                    one[0] = next;
                    decoder.Step(one, last);
                }
                else
                {
                    // A learned position table is full: restart the cache on the last `window` tokens.
                    decoder.Clear();
                    decoder.Step(sequence.Skip(sequence.Count - window).ToArray(), last);
                }
            }
            return generated;
        }
    }

    /// <summary>
    /// The tensor path as an <see cref="ISequenceDecoder"/>: <see cref="Gpt.Forward(Tensor, KvCache?, bool)"/> over a
    /// <see cref="KvCache"/> (any device and dtype). What a step creates is freed when it ends (host arrays back to the
    /// pool, device memory at once); the cache's buffers are not. The caller has turned gradients off.
    /// </summary>
    internal sealed class TensorDecoder : ISequenceDecoder
    {
        private readonly Gpt model;
        private readonly KvCache cache;

        public TensorDecoder(Gpt model, int reserve)
        {
            this.model = model;
            cache = model.CreateCache();
            cache.Reserve(reserve);
        }

        public int Length => cache.Length;

        public void Clear() => cache.Clear();

        public void Step(ReadOnlySpan<int> ids, Span<double> logits)
        {
            using var scope = StorageScope.Begin();
            var all = model.Forward(Tensor.FromArray<int>(ids.ToArray(), [1, ids.Length], model.Device), cache, training: false);
            var row = all.Select(1, ids.Length - 1);   // [1, V]
            switch (row.DType)
            {
                case DType.Float64:
                    row.Backend.ToHost<double>(row.Storage, row.Layout, logits);
                    break;
                case DType.Float32:
                {
                    var values = ArrayPool<float>.Shared.Rent(logits.Length);
                    row.Backend.ToHost<float>(row.Storage, row.Layout, values.AsSpan(0, logits.Length));
                    for (int i = 0; i < logits.Length; i++) logits[i] = values[i];
                    ArrayPool<float>.Shared.Return(values);
                    break;
                }
                default:
                    row.ToDoubleArray().CopyTo(logits);
                    break;
            }
        }

        public void Dispose() => cache.Clear();
    }

    /// <summary>
    /// Draws a token id from one row of logits: greedy when <paramref name="temperature"/> is 0, otherwise a sample
    /// from softmax(logits / temperature) restricted to the <paramref name="topK"/> largest logits (ties broken by
    /// lower id).
    /// </summary>
    public static int SampleNext(ReadOnlySpan<double> logits, double temperature, int? topK, Rng rng)
    {
        if (logits.Length == 0) throw new ArgumentException("sample: no logits");
        if (!(temperature >= 0) || double.IsInfinity(temperature)) throw new ArgumentException($"sample: temperature must be finite and ≥ 0, got {temperature}");
        if (topK is { } k0 && k0 <= 0) throw new ArgumentException($"sample: top-k must be positive, got {k0}");
        foreach (var v in logits)
            if (double.IsNaN(v)) throw new ArgumentException("sample: the logits contain NaN");
        if (temperature == 0)
        {
            // The first of the largest: the lowest id among ties, as the order below has it.
            int best = 0;
            for (int i = 1; i < logits.Length; i++)
                if (logits[i] > logits[best]) best = i;
            return best;
        }
        int n = logits.Length, k = Math.Min(topK ?? n, n);
        var values = ArrayPool<double>.Shared.Rent(n);
        var order = ArrayPool<int>.Shared.Rent(n);
        var weights = ArrayPool<double>.Shared.Rent(k);
        try
        {
            logits.CopyTo(values);
            for (int i = 0; i < n; i++) order[i] = i;
            order.AsSpan(0, n).Sort(new Descending(values));
            double max = values[order[0]];
            double total = 0;
            for (int i = 0; i < k; i++) total += weights[i] = Math.Exp((values[order[i]] - max) / temperature);
            double u = rng.NextDouble() * total;
            for (int i = 0; i < k; i++)
            {
                u -= weights[i];
                if (u < 0) return order[i];
            }
            return order[k - 1];
        }
        finally
        {
            ArrayPool<double>.Shared.Return(values);
            ArrayPool<int>.Shared.Return(order);
            ArrayPool<double>.Shared.Return(weights);
        }
    }

    /// <summary>Ids by decreasing logit, ties by lower id (a total order, so every sort gives the same sequence).</summary>
    private readonly struct Descending(double[] values) : IComparer<int>
    {
        public int Compare(int a, int b) => values[b].CompareTo(values[a]) is var c && c != 0 ? c : a.CompareTo(b);
    }
}
