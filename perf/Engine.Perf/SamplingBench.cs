using Engine.Nn;

namespace Engine.Perf;

/// <summary>
/// Generation with the KV cache through the public <see cref="TextGenerator.Generate"/>: the peer configuration's
/// 4-layer model (learned positions for 1024 tokens, Softmax attention, float32), a prompt that fills the cache to
/// the given context, then greedy tokens. Per-token figures are the difference between generating
/// <see cref="Tokens"/> tokens and one token after the same prompt, so the prompt's forward cancels out.
/// </summary>
internal static class SamplingBench
{
    public const int Tokens = 33;

    /// <summary>
    /// The KV cache's memory for one more token (its keys and values in every layer, float32): a generation makes its
    /// cache for its final length when it starts, so this much of the per-token difference is the cache, not the steps.
    /// </summary>
    public static double CacheBytesPerToken => 2.0 * Model.Config.Layers * Model.Config.ModelDim * sizeof(float);

    private static Gpt? model;

    private static Gpt Model => model ??= new Gpt(TrainStepBench.Config(AttentionSpec.Softmax) with { ContextLength = 1024 }, seed: 1337);

    /// <summary>A prompt of <paramref name="length"/> ids from the benchmark corpus.</summary>
    private static int[] Prompt(int length)
    {
        var ids = TrainStepBench.Corpus();
        return Enumerable.Range(0, length).Select(i => ids[i % ids.Length]).ToArray();
    }

    /// <summary>Seconds per token and bytes allocated per token with the cache holding about <paramref name="context"/> positions.</summary>
    public static (double SecondsPerToken, double BytesPerToken) Measure(int context, int samples = 5)
    {
        var prompt = Prompt(context - Tokens);
        var greedy = new SamplingOptions(Temperature: 0);
        var m = Model;
        double Run(int n, out long bytes)
        {
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            TextGenerator.Generate(m, prompt, n, greedy);
            double s = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
            bytes = GC.GetAllocatedBytesForCurrentThread() - a0;
            return s;
        }
        Run(Tokens, out _);   // warm-up
        var perToken = new List<double>();
        var bytesPerToken = new List<double>();
        for (int i = 0; i < samples; i++)
        {
            double all = Run(Tokens, out long bAll), one = Run(1, out long bOne);
            perToken.Add((all - one) / (Tokens - 1));
            bytesPerToken.Add((bAll - bOne) / (double)(Tokens - 1));
        }
        return (Timing.Median(perToken), Timing.Median(bytesPerToken));
    }
}
