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
}
