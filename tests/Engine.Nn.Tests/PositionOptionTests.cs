namespace Engine.Nn.Tests;

/// <summary>The position encodings as a model choice (RoPE, learned, NoPE, ALiBi), RoPE interpolation and SSMax's learnable head scale.</summary>
public class PositionOptionTests
{
    private static Tensor Tokens(int[,] ids) => Tensor.FromArray(ids);

    [Theory]
    [InlineData(PositionEmbedding.None, "softmax")]
    [InlineData(PositionEmbedding.Alibi, "lssar")]
    [InlineData(PositionEmbedding.Rope, "ssmax")]
    [InlineData(PositionEmbedding.Alibi, "ssmax-r")]
    [InlineData(PositionEmbedding.Rope, "softmax-w3")]
    [InlineData(PositionEmbedding.None, "sigmoid-l1-r")]
    public void GradCheckOfWholeModelWithEachOption(PositionEmbedding pos, string attention)
    {
        var config = GptTests.Tiny(pos) with { Layers = 1, Attention = AttentionSpec.Parse(attention) };
        var model = new Gpt(config, seed: 5, DType.Float64);
        var tokens = Tokens(new[,] { { 1, 2, 3, 1, 4 }, { 6, 0, 5, 5, 2 } });
        var targets = Tokens(new[,] { { 2, 3, 1, 4, 0 }, { 0, 5, 5, 2, 1 } });
        var ps = model.Parameters().ToArray();
        var result = Engine.Autograd.GradCheck.Check(_ => model.Loss(tokens, targets), ps, eps: 1e-6, atol: 1e-7, rtol: 1e-5);
        Assert.True(result.Passed, result.ToString());
    }

    [Fact]
    public void WithoutPositionsARowOfOneTokenGivesTheSameLogitsEverywhere()
    {
        // NoPE: the causal average of equal values is that value, and nothing else tells positions apart.
        var model = new Gpt(GptTests.Tiny(PositionEmbedding.None), seed: 2, DType.Float64);
        model.Eval();
        var logits = model.Forward(Tokens(new[,] { { 3, 3, 3, 3, 3 } })).ToDoubleArray();
        for (int t = 1; t < 5; t++)
            for (int v = 0; v < 7; v++) Assert.Equal(logits[v], logits[t * 7 + v], 10);
        // A learned table does tell them apart.
        var learned = new Gpt(GptTests.Tiny(PositionEmbedding.Learned), seed: 2, DType.Float64).Forward(Tokens(new[,] { { 3, 3 } })).ToDoubleArray();
        Assert.NotEqual(learned[0], learned[7]);
        // ALiBi changes the scores of a mixed row (same weights as NoPE: ALiBi has no parameters).
        Assert.NotEqual(new Gpt(GptTests.Tiny(PositionEmbedding.Alibi), seed: 2, DType.Float64).Forward(Tokens(new[,] { { 3, 4, 3 } })).ToDoubleArray(),
            new Gpt(GptTests.Tiny(PositionEmbedding.None), seed: 2, DType.Float64).Forward(Tokens(new[,] { { 3, 4, 3 } })).ToDoubleArray());
    }

    [Fact]
    public void AlibiPositionsTurnOnTheBiasInEveryLayerAndHaveNoParameters()
    {
        var config = GptTests.Tiny(PositionEmbedding.Alibi) with { Attention = AttentionSpec.Lssar };
        var model = new Gpt(config);
        Assert.All(model.Blocks, b => Assert.True(b.Attention.ActiveAttention.Alibi));
        Assert.Equal(new Gpt(GptTests.Tiny(PositionEmbedding.None)).StateDict().Keys, model.StateDict().Keys);
        Assert.Equal("lssar-alibi", model.Blocks[0].Attention.ActiveAttention.Label);
    }

    [Fact]
    public void RopeInterpolationAppliesInEvalModeOnly()
    {
        var baseConfig = GptTests.Tiny() with { ContextLength = 4 };
        var plain = new Gpt(baseConfig, seed: 4, DType.Float64);
        var scaled = new Gpt(baseConfig with { InferenceRopeScale = 2 }, seed: 4, DType.Float64);
        var tokens = Tokens(new[,] { { 1, 2, 3, 4, 5, 6, 0, 1 } });
        // Training mode: identical.
        Assert.Equal(plain.Forward(tokens).ToDoubleArray(), scaled.Forward(tokens).ToDoubleArray());
        plain.Eval(); scaled.Eval();
        var a = plain.Forward(tokens).ToDoubleArray();
        var b = scaled.Forward(tokens).ToDoubleArray();
        Assert.NotEqual(a, b);
        // Interpolation by 2: position 2p turns by the angles of plain position p.
        var (scaledCos, scaledSin) = Tensor.RopeTables(0, 8, 4, 10000, DType.Float64, positionScale: 2);
        var (plainCos, plainSin) = Tensor.RopeTables(0, 4, 4, 10000, DType.Float64);
        for (int p = 0; p < 4; p++)
            for (int i = 0; i < 2; i++)
            {
                Assert.Equal(plainCos.ToDoubleArray()[p * 2 + i], scaledCos.ToDoubleArray()[2 * p * 2 + i], 12);
                Assert.Equal(plainSin.ToDoubleArray()[p * 2 + i], scaledSin.ToDoubleArray()[2 * p * 2 + i], 12);
            }
    }

    [Fact]
    public void SsMaxHeadScaleIsALearnedParameterThatStartsAtOneOverLogL()
    {
        var config = GptTests.Tiny() with { ContextLength = 16, Attention = AttentionSpec.SsMax };
        var model = new Gpt(config, seed: 1);
        var state = model.StateDict();
        Assert.Contains("blocks.0.attn.ssmax_scale", state.Keys);
        Assert.Equal([2], state["blocks.0.attn.ssmax_scale"].Shape);
        Assert.All(state["blocks.0.attn.ssmax_scale"].ToDoubleArray(), s => Assert.Equal(1 / Math.Log(16), s, 6));
        var tokens = Tokens(new[,] { { 1, 2, 3, 1, 4 } });
        model.Loss(tokens, Tokens(new[,] { { 2, 3, 1, 4, 0 } })).Backward();
        var scale = model.NamedParameters().Single(p => p.Name == "blocks.0.attn.ssmax_scale").Parameter;
        Assert.NotNull(scale.Grad);
        Assert.Contains(scale.Grad!.ToDoubleArray(), g => g != 0);
        // SSMax only at inference: a fixed scale, no parameter.
        var inferenceOnly = new Gpt(GptTests.Tiny() with { InferenceAttention = AttentionSpec.SsMax });
        Assert.DoesNotContain(inferenceOnly.StateDict().Keys, k => k.Contains("ssmax", StringComparison.Ordinal));
        inferenceOnly.Eval();
        Assert.All(inferenceOnly.Forward(tokens).ToDoubleArray(), v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void ConfigRecordsAndValidatesTheChoice()
    {
        var config = GptTests.Tiny(PositionEmbedding.Alibi) with { Attention = AttentionSpec.SlidingWindow(4), RopeBase = 500 };
        var json = config.ToJson();
        Assert.Contains("\"Alibi\"", json);
        Assert.Equal(config, GptConfig.FromJson(json));
        Assert.Equal(GptTests.Tiny(PositionEmbedding.None), GptConfig.FromJson(GptTests.Tiny(PositionEmbedding.None).ToJson()));

        var bad = json.Replace("\"PositionEmbedding\": \"Alibi\"", "\"PositionEmbedding\": 9", StringComparison.Ordinal);
        Assert.Contains("PositionEmbedding 9", Assert.Throws<ArgumentException>(() => GptConfig.FromJson(bad)).Message);
        var e1 = Assert.Throws<ArgumentException>(() => (GptTests.Tiny() with { Attention = AttentionSpec.Lssar with { Power = 0.5 } }).Validate());
        Assert.Contains("power", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => (GptTests.Tiny() with { Attention = AttentionSpec.Softmax with { Alibi = true } }).Validate());
        Assert.Contains("PositionEmbedding = Alibi", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => (GptTests.Tiny(PositionEmbedding.Learned) with { InferenceRopeScale = 2 }).Validate());
        Assert.Contains("applies only to RoPE", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => (GptTests.Tiny() with { InferenceRopeScale = 0 }).Validate());
        Assert.Contains("InferenceRopeScale", e4.Message);
        var e5 = Assert.Throws<ArgumentException>(() => (GptTests.Tiny() with { Attention = AttentionSpec.SlidingWindow(0) }).Validate());
        Assert.Contains("window", e5.Message);
    }

    [Fact]
    public void RopeThenNormalisationEqualsNormalisationThenRope()
    {
        // RoPE is a rotation, so it keeps norms: LSSA's q̂·k̂ does not depend on whether RoPE comes first.
        var rope = new RotaryEmbedding(8);
        var x = Tensor.RandN([1, 2, 6, 8], 3, DType.Float64);
        static Tensor Normalise(Tensor t) => t.Div(t.Square().Sum(-1, keepDim: true).Sqrt());
        var a = Normalise(rope.Forward(x)).ToDoubleArray();
        var b = rope.Forward(Normalise(x)).ToDoubleArray();
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], 12);
        var (q, k) = (rope.Forward(x), rope.Forward(Tensor.RandN([1, 2, 6, 8], 4, DType.Float64)));
        var w1 = Tensor.CausalAttentionWeights(q, k, AttentionSpec.Lssar).ToDoubleArray();
        var w2 = Tensor.CausalAttentionWeights(Normalise(q), Normalise(k), AttentionSpec.Lssar).ToDoubleArray();
        for (int i = 0; i < w1.Length; i++) Assert.Equal(w1[i], w2[i], 12);
    }
}
