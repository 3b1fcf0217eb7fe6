namespace Engine.Nn.Tests;

public class GenerationTests
{
    [Theory]
    [InlineData(PositionEmbedding.Rope, "softmax")]
    [InlineData(PositionEmbedding.Learned, "softmax")]
    [InlineData(PositionEmbedding.Rope, "lssa")]
    [InlineData(PositionEmbedding.Rope, "lssar")]
    public void CachedLogitsMatchUncachedLogits(PositionEmbedding pos, string attention)
    {
        var spec = attention switch { "lssa" => AttentionSpec.Lssa, "lssar" => AttentionSpec.Lssar, _ => AttentionSpec.Softmax };
        var model = new Gpt(GptTests.Tiny(pos) with { Attention = spec }, seed: 7, DType.Float64);
        model.Eval();
        int[] ids = [3, 1, 4, 1, 5, 2, 6];
        var full = model.Forward(Tensor.FromArray<int>(ids, [1, ids.Length])).ToDoubleArray();
        var cache = model.CreateCache();
        var parts = new List<double>();
        parts.AddRange(model.Forward(Tensor.FromArray<int>(ids[..3], [1, 3]), cache).ToDoubleArray());   // a prompt chunk
        for (int i = 3; i < ids.Length; i++)
            parts.AddRange(model.Forward(Tensor.FromArray<int>([ids[i]], [1, 1]), cache).ToDoubleArray());
        Assert.Equal(ids.Length, cache.Length);
        Assert.Equal(full.Length, parts.Count);
        for (int i = 0; i < full.Length; i++) Assert.Equal(full[i], parts[i], 1e-12);
    }

    [Fact]
    public void TheCacheGrowsPastItsFirstBuffersAndIsReusedAfterClear()
    {
        // 40 positions one at a time: the buffers grow 16 → 32 → 64 and the cached keys survive each move.
        var model = new Gpt(GptTests.Tiny(PositionEmbedding.Rope) with { Attention = AttentionSpec.Lssar }, seed: 11, DType.Float64);
        model.Eval();
        var ids = Enumerable.Range(0, 40).Select(i => (i * 5 + 1) % 7).ToArray();
        var full = model.Forward(Tensor.FromArray<int>(ids, [1, ids.Length])).ToDoubleArray();
        var cache = model.CreateCache();
        for (int round = 0; round < 2; round++)
        {
            var parts = new List<double>();
            for (int i = 0; i < ids.Length; i++)
                parts.AddRange(model.Forward(Tensor.FromArray<int>([ids[i]], [1, 1]), cache).ToDoubleArray());
            Assert.Equal(64, cache.Capacity);
            Assert.Equal(full.Length, parts.Count);
            for (int i = 0; i < full.Length; i++) Assert.Equal(full[i], parts[i], 1e-12);
            cache.Clear();   // the second round reuses the buffers
            Assert.Equal(0, cache.Length);
        }
    }

    [Fact]
    public void GenerationIsSeededAndGreedyMatchesTopOne()
    {
        var model = new Gpt(GptTests.Tiny(), seed: 8);
        int[] prompt = [1, 2, 3];
        var a = TextGenerator.Generate(model, prompt, 12, new SamplingOptions(0.8, TopK: 4, Seed: 42));
        var b = TextGenerator.Generate(model, prompt, 12, new SamplingOptions(0.8, TopK: 4, Seed: 42));
        Assert.Equal(a, b);
        Assert.Equal(12, a.Length);
        Assert.All(a, t => Assert.InRange(t, 0, 6));
        var greedy = TextGenerator.Generate(model, prompt, 12, new SamplingOptions(Temperature: 0));
        var top1 = TextGenerator.Generate(model, prompt, 12, new SamplingOptions(1.0, TopK: 1, Seed: 5));
        Assert.Equal(greedy, top1);
        Assert.True(model.Training, "the model's mode is restored");
        // Greedy generation equals repeated argmax over full uncached forwards.
        model.Eval();
        var seq = prompt.ToList();
        for (int i = 0; i < 12; i++)
        {
            var logits = model.Forward(Tensor.FromArray<int>(seq.ToArray(), [1, seq.Count]));
            seq.Add((int)logits.Select(1, seq.Count - 1).ArgMax(-1).Item());
        }
        Assert.Equal(seq.Skip(3), greedy);
    }

    [Fact]
    public void LearnedPositionsSlideTheWindowPastTheContext()
    {
        var model = new Gpt(GptTests.Tiny(PositionEmbedding.Learned) with { ContextLength = 5 }, seed: 9);
        var tokens = TextGenerator.Generate(model, [1, 2, 3, 4], 10, new SamplingOptions(Temperature: 0));
        Assert.Equal(10, tokens.Length);
    }

    [Fact]
    public void TopKNeverPicksOutsideTheTopK()
    {
        var rng = new Rng(3);
        double[] logits = [0.0, 5.0, 4.9, -1.0, 4.8];
        for (int i = 0; i < 200; i++)
            Assert.Contains(TextGenerator.SampleNext(logits, 2.0, 2, rng), new[] { 1, 2 });
        Assert.Equal(1, TextGenerator.SampleNext(logits, 0, null, rng));
        Assert.Throws<ArgumentException>(() => TextGenerator.SampleNext(logits, -1, null, rng));
        Assert.Throws<ArgumentException>(() => TextGenerator.SampleNext(logits, 1, 0, rng));
    }

    [Theory]
    [InlineData(PositionEmbedding.Rope, "softmax", false)]
    [InlineData(PositionEmbedding.Rope, "lssar", true)]
    [InlineData(PositionEmbedding.Learned, "softmax", true)]
    [InlineData(PositionEmbedding.Alibi, "lssar", false)]
    [InlineData(PositionEmbedding.None, "ssmax", true)]
    public void GreedyGenerationWithTheCacheEqualsGenerationWithout(PositionEmbedding pos, string attention, bool float64)
    {
        // Past the learned table (ContextLength 8) the generator restarts its cache on the last 8 tokens; the oracle
        // runs a full uncached forward over the same window for every token.
        var config = GptTests.Tiny(pos) with { Attention = AttentionSpec.Parse(attention) };
        var model = new Gpt(config, seed: 21, float64 ? DType.Float64 : DType.Float32);
        int[] prompt = [3, 1, 4, 1, 5];
        var generated = TextGenerator.Generate(model, prompt, 14, new SamplingOptions(Temperature: 0));
        var seq = prompt.ToList();
        using (new Engine.Autograd.NoGrad())
            for (int i = 0; i < 14; i++)
            {
                var window = pos == PositionEmbedding.Learned ? seq.Skip(Math.Max(0, seq.Count - config.ContextLength)).ToArray() : seq.ToArray();
                var logits = model.Forward(Tensor.FromArray<int>(window, [1, window.Length]), null, training: false);
                seq.Add((int)logits.Select(1, window.Length - 1).ArgMax(-1).Item());
            }
        Assert.Equal(seq.Skip(prompt.Length), generated);
    }

    [Fact]
    public void ReservedBuffersHoldTheWholeGenerationWithoutGrowing()
    {
        var model = new Gpt(GptTests.Tiny(), seed: 4);
        var cache = model.CreateCache();
        cache.Reserve(40);
        using var _ = new Engine.Autograd.NoGrad();
        model.Forward(Tensor.FromArray<int>([1, 2, 3], [1, 3]), cache, training: false);
        Assert.Equal(40, cache.Capacity);
        for (int i = 0; i < 37; i++) model.Forward(Tensor.FromArray<int>([i % 7], [1, 1]), cache, training: false);
        Assert.Equal(40, cache.Capacity);
        model.Forward(Tensor.FromArray<int>([2], [1, 1]), cache, training: false);
        Assert.Equal(80, cache.Capacity);   // past the reservation it doubles as before
    }

    [Fact]
    public void AllocationPerTokenDoesNotGrowWithTheContext()
    {
        // Bytes this thread allocates per cached forward of one token, near 20 and near 600 cached positions. Each
        // step still makes its tensors (a constant), but none of the cached keys and values are copied (before, each
        // step copied all of them: about 600 · 128 B per token here). Measured on fresh lengths, which the array
        // pool cannot have kept from earlier steps.
        var model = new Gpt(GptTests.Tiny(PositionEmbedding.Rope), seed: 5);
        var cache = model.CreateCache();
        cache.Reserve(700);
        var one = new int[1];
        using var _ = new Engine.Autograd.NoGrad();
        // RoPE's tables grow by doubling when a position first passes them: size them once for every position used.
        model.Forward(Tensor.FromArray<int>(new int[700], [1, 700]), null, training: false);
        double PerToken(int tokens)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < tokens; i++)
            {
                using var scope = StorageScope.Begin();
                one[0] = i % 7;
                model.Forward(Tensor.FromArray<int>(one, [1, 1]), cache, training: false);
            }
            return (GC.GetAllocatedBytesForCurrentThread() - before) / (double)tokens;
        }
        PerToken(8);                                   // warm-up
        double near20 = PerToken(24);                  // positions 8..31
        using (var scope = StorageScope.Begin())       // fill the cache to 600 positions in one step
            model.Forward(Tensor.FromArray<int>(Enumerable.Range(0, 600 - cache.Length).Select(i => i % 7).ToArray(), [1, 600 - cache.Length]), cache, training: false);
        double near600 = PerToken(24);                 // positions 600..623
        Assert.True(near600 - near20 < 2048, $"allocation per token grows with the context: {near20:F0} B near 20 cached positions, {near600:F0} B near 600");
    }

    [Fact]
    public void SamplingMatchesTheSortingDefinition()
    {
        // SampleNext against its definition (every id sorted by logit, ties by lower id, then the top k drawn in that
        // order), on logits with many ties, for greedy and sampled draws with and without top-k.
        var data = new Rng(17);
        foreach (double temperature in new[] { 0.0, 0.5, 1.0, 3.0 })
            foreach (int? topK in new int?[] { null, 1, 3, 12 })
            {
                var a = new Rng(99);
                var b = new Rng(99);
                for (int trial = 0; trial < 50; trial++)
                {
                    var logits = Enumerable.Range(0, 12).Select(_ => Math.Floor(data.NextDouble() * 4) - 1.5).ToArray();
                    if (trial % 5 == 0) logits[3] = double.NegativeInfinity;
                    Assert.Equal(ReferenceSample(logits, temperature, topK, a), TextGenerator.SampleNext(logits, temperature, topK, b));
                }
            }
    }

    private static int ReferenceSample(double[] values, double temperature, int? topK, Rng rng)
    {
        var order = Enumerable.Range(0, values.Length).ToArray();
        Array.Sort(order, (x, y) => values[y].CompareTo(values[x]) is var c && c != 0 ? c : x.CompareTo(y));
        if (temperature == 0) return order[0];
        int k = Math.Min(topK ?? values.Length, values.Length);
        var weights = new double[k];
        double total = 0;
        for (int i = 0; i < k; i++) total += weights[i] = Math.Exp((values[order[i]] - values[order[0]]) / temperature);
        double u = rng.NextDouble() * total;
        for (int i = 0; i < k; i++)
        {
            u -= weights[i];
            if (u < 0) return order[i];
        }
        return order[k - 1];
    }
}
