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
    /// Bytes the decoder makes per position of its capacity when a generation starts (its KV cache's keys and values,
    /// its attention's transposed keys and score rows), measured for the two generations <see cref="Measure"/>
    /// compares at <paramref name="context"/>: what making a decoder for the longer one's final length allocates
    /// beyond making one for the shorter one's, per token of difference. So this much of the per-token difference
    /// between them is that room, made once, not the steps.
    /// </summary>
    public static double RoomBytesPerToken(int context)
    {
        long Made(int capacity)
        {
            // the least of a few: the runtime's own allocations on this thread (type loading, tiering) come and go
            long least = long.MaxValue;
            for (int i = 0; i < 5; i++)
            {
                long a0 = GC.GetAllocatedBytesForCurrentThread();
                using (CpuDecoder.TryCreate(Model, capacity) ?? throw new InvalidOperationException("sampling: the model has no CPU decoder")) { }
                least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - a0);
            }
            return least;
        }
        int shorter = context - Tokens;   // the prompt's length: a 1-token generation's cache; a Tokens-token one holds Tokens − 1 more
        return (Made(shorter + Tokens - 1) - Made(shorter)) / (double)(Tokens - 1);
    }

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
