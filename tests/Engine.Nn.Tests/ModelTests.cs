namespace Engine.Nn.Tests;

public class ModelTests
{
    [Theory]
    [InlineData("softmax")]
    [InlineData("lssa")]
    public void TinyModelMemorisesATinyBatch(string attention)
    {
        var spec = attention == "lssa" ? AttentionSpec.Lssa : AttentionSpec.Softmax;
        var config = GptTests.Tiny() with { VocabSize = 11, ModelDim = 16, Heads = 2, Layers = 1, ContextLength = 8, Attention = spec };
        var model = new Gpt(config, seed: 5);
        var tokens = Tensor.FromArray(new[,] { { 1, 5, 2, 9, 3, 3, 7 }, { 4, 0, 10, 6, 8, 2, 1 } });
        var targets = Tensor.FromArray(new[,] { { 5, 2, 9, 3, 3, 7, 0 }, { 0, 10, 6, 8, 2, 1, 4 } });
        var opt = new AdamW(model, learningRate: 0.02, weightDecay: 0);
        double first = 0, loss = 0;
        for (int step = 0; step < 120; step++)
        {
            opt.ZeroGrad();
            var l = model.Loss(tokens, targets);
            l.Backward();
            GradClip.ClipGlobalNorm(model.Parameters(), 1.0);
            opt.Step();
            loss = l.Item();
            if (step == 0) first = loss;
        }
        Assert.True(first > 2.0, $"initial loss {first} should be near ln(11) ≈ 2.4");
        Assert.True(loss < 0.05, $"loss after 120 steps is {loss} (started at {first})");
    }

    [Fact]
    public void RopeScoresDependOnlyOnPositionDifference()
    {
        var rope = new RotaryEmbedding(8, 100);
        var q = Tensor.RandN([1, 8], 1, DType.Float64);
        var k = Tensor.RandN([1, 8], 2, DType.Float64);
        double Score(int pq, int pk) =>
            rope.Forward(q, pq).Mul(rope.Forward(k, pk)).Sum().Item();
        foreach (var (a, b) in new[] { (0, 3), (10, 13), (1000, 1003), (123456, 123459) })
            Assert.Equal(Score(0, 3), Score(a, b), 1e-9);
        Assert.NotEqual(Score(0, 3), Score(0, 4), 6);
        // Position 0 is the identity rotation.
        Assert.Equal(q.ToDoubleArray(), rope.Forward(q, 0).ToDoubleArray());
    }

    [Fact]
    public void RopeModelRunsBeyondItsTrainingContext()
    {
        var model = new Gpt(GptTests.Tiny() with { ContextLength = 4 }, seed: 2);
        var tokens = Tensor.FromArray<int>(Enumerable.Range(0, 20).Select(i => i % 7).ToArray(), [1, 20]);
        Assert.All(model.Forward(tokens).ToDoubleArray(), v => Assert.True(double.IsFinite(v)));
        var learned = new Gpt(GptTests.Tiny(PositionEmbedding.Learned) with { ContextLength = 4 });
        var e = Assert.Throws<ArgumentException>(() => learned.Forward(tokens));
        Assert.Contains("ContextLength", e.Message);
    }

    [Fact]
    public void LoadStateDictRoundTripsAndNamesMismatches()
    {
        var a = new Gpt(GptTests.Tiny(), seed: 1);
        var b = new Gpt(GptTests.Tiny(), seed: 2);
        var tokens = Tensor.FromArray(new[,] { { 1, 2, 3 } });
        Assert.NotEqual(a.Forward(tokens).ToDoubleArray(), b.Forward(tokens).ToDoubleArray());
        var bParams = b.Parameters().ToArray();
        b.LoadStateDict(a.StateDict());
        Assert.Equal(a.Forward(tokens).ToDoubleArray(), b.Forward(tokens).ToDoubleArray());
        Assert.True(bParams.SequenceEqual(b.Parameters()), "parameters are updated in place");

        var bigger = new Gpt(GptTests.Tiny() with { ModelDim = 12 });
        var e = Assert.Throws<ArgumentException>(() => b.LoadStateDict(bigger.StateDict()));
        Assert.Contains("'token_embedding.weight' has shape [7, 12], the model expects [7, 8]", e.Message);

        var partial = a.StateDict().Where(kv => kv.Key != "norm.weight").ToDictionary();
        e = Assert.Throws<ArgumentException>(() => b.LoadStateDict(partial));
        Assert.Contains("missing 'norm.weight'", e.Message);
        b.LoadStateDict(partial, strict: false);

        var extra = a.StateDict().ToDictionary();
        extra["blocks.9.attn.qkv.weight"] = Tensor.Zeros([24, 8]);
        e = Assert.Throws<ArgumentException>(() => b.LoadStateDict(extra));
        Assert.Contains("unexpected 'blocks.9.attn.qkv.weight'", e.Message);

        var wrongType = a.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.To(DType.Float64));
        e = Assert.Throws<ArgumentException>(() => b.LoadStateDict(wrongType));
        Assert.Contains("dtype float64", e.Message);
    }

    [Fact]
    public void ConfigRoundTripsThroughJson()
    {
        var config = GptTests.Tiny(PositionEmbedding.Learned, NormKind.RMSNorm) with
        {
            Attention = AttentionSpec.Lssa, InferenceAttention = AttentionSpec.Lssar, Dropout = 0.1, RopeBase = 500,
        };
        var json = config.ToJson();
        Assert.Contains("\"RMSNorm\"", json);
        Assert.Contains("\"Learned\"", json);
        var back = GptConfig.FromJson(json);
        Assert.Equal(config, back);
        Assert.Throws<ArgumentException>(() => GptConfig.FromJson(json.Replace("\"Heads\": 2", "\"Heads\": 3")));
    }

    [Fact]
    public void InvalidConfigsAreClearErrors()
    {
        var e = Assert.Throws<ArgumentException>(() => new Gpt(GptTests.Tiny() with { ModelDim = 10, Heads = 4 }));
        Assert.Contains("multiple of Heads", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Gpt(GptTests.Tiny() with { ModelDim = 6, Heads = 2 }));
        Assert.Contains("even head dim", e.Message);
    }

    [Fact]
    public void DropoutIsSeededAndOffInEval()
    {
        var config = GptTests.Tiny() with { Dropout = 0.5 };
        var tokens = Tensor.FromArray(new[,] { { 1, 2, 3, 4 } });
        var a = new Gpt(config, seed: 4);
        var b = new Gpt(config, seed: 4);
        var ya = a.Forward(tokens).ToDoubleArray();
        Assert.Equal(ya, b.Forward(tokens).ToDoubleArray());
        Assert.NotEqual(ya, a.Forward(tokens).ToDoubleArray());        // a fresh mask
        a.Eval();
        Assert.Equal(a.Forward(tokens).ToDoubleArray(), a.Forward(tokens).ToDoubleArray());
        Assert.False(a.Blocks[0].Attention.Training);
        a.Train();
        Assert.True(a.Blocks[0].Attention.Training);
    }

    [Fact]
    public void InferenceAttentionIsUsedOnlyInEval()
    {
        var model = new Gpt(GptTests.Tiny() with { InferenceAttention = AttentionSpec.Lssar });
        Assert.Equal(AttentionSpec.Softmax, model.Blocks[0].Attention.ActiveAttention);
        model.Eval();
        Assert.Equal(AttentionSpec.Lssar, model.Blocks[0].Attention.ActiveAttention);
    }

    [Fact]
    public void AttentionMapsAreCausalRowStochasticAndPerLayer()
    {
        var model = new Gpt(GptTests.Tiny(), seed: 12);
        model.Eval();
        var maps = model.AttentionMaps(Tensor.FromArray(new[,] { { 1, 2, 3, 4, 5 } }));
        Assert.Equal(2, maps.Count);
        foreach (var w in maps)
        {
            Assert.Equal([1, 2, 5, 5], w.Shape);
            for (int h = 0; h < 2; h++)
                for (int i = 0; i < 5; i++)
                {
                    double sum = 0;
                    for (int j = 0; j < 5; j++)
                    {
                        double a = w[0, h, i, j];
                        if (j > i) Assert.Equal(0, a);
                        sum += a;
                    }
                    Assert.Equal(1, sum, 5);
                }
        }
        Assert.All(model.Blocks, b => Assert.False(b.Attention.CaptureQueriesKeys));
    }
}
