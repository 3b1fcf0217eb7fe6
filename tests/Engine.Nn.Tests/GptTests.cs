namespace Engine.Nn.Tests;

public class GptTests
{
    internal static GptConfig Tiny(PositionEmbedding pos = PositionEmbedding.Rope, NormKind norm = NormKind.LayerNorm, bool tie = true, bool bias = true) => new()
    {
        VocabSize = 7, ContextLength = 8, Layers = 2, Heads = 2, ModelDim = 8, MlpRatio = 2,
        PositionEmbedding = pos, Norm = norm, TieEmbeddings = tie, Bias = bias,
    };

    internal static Tensor Tokens(int[,] ids) => Tensor.FromArray(ids);

    [Fact]
    public void ForwardGivesLogitsOfBatchTimeVocab()
    {
        var model = new Gpt(Tiny(), seed: 1);
        var logits = model.Forward(Tokens(new[,] { { 1, 2, 3 }, { 4, 5, 6 } }));
        Assert.Equal([2, 3, 7], logits.Shape);
        Assert.All(logits.ToDoubleArray(), v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void StateDictNamesAreStable()
    {
        var names = new Gpt(Tiny(tie: false)).StateDict().Keys.ToArray();
        string[] expected =
        [
            "token_embedding.weight",
            "blocks.0.norm1.weight", "blocks.0.norm1.bias",
            "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias", "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias",
            "blocks.0.norm2.weight", "blocks.0.norm2.bias",
            "blocks.0.mlp.fc.weight", "blocks.0.mlp.fc.bias", "blocks.0.mlp.proj.weight", "blocks.0.mlp.proj.bias",
            "blocks.1.norm1.weight", "blocks.1.norm1.bias",
            "blocks.1.attn.qkv.weight", "blocks.1.attn.qkv.bias", "blocks.1.attn.proj.weight", "blocks.1.attn.proj.bias",
            "blocks.1.norm2.weight", "blocks.1.norm2.bias",
            "blocks.1.mlp.fc.weight", "blocks.1.mlp.fc.bias", "blocks.1.mlp.proj.weight", "blocks.1.mlp.proj.bias",
            "norm.weight", "norm.bias", "lm_head.weight",
        ];
        Assert.Equal(expected, names);
        var learned = new Gpt(Tiny(PositionEmbedding.Learned, NormKind.RMSNorm, bias: false)).StateDict();
        Assert.Equal(["token_embedding.weight", "position_embedding.weight", "blocks.0.norm1.weight", "blocks.0.attn.qkv.weight"], learned.Keys.Take(4));
        Assert.Equal([8, 8], learned["position_embedding.weight"].Shape);
        Assert.Equal([24, 8], learned["blocks.0.attn.qkv.weight"].Shape);
    }

    [Fact]
    public void OutOfVocabularyTokenIsAClearError()
    {
        var model = new Gpt(Tiny());
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(Tokens(new[,] { { 1, 9 } })));
        Assert.Contains("token id 9", e.Message);
        Assert.Contains("vocabulary of size 7", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(Tokens(new[,] { { -1, 0 } })));
    }

    [Theory]
    [InlineData(PositionEmbedding.Rope, NormKind.LayerNorm, true, true)]
    [InlineData(PositionEmbedding.Learned, NormKind.RMSNorm, false, false)]
    public void GradCheckOfWholeModelOverEveryParameter(PositionEmbedding pos, NormKind norm, bool tie, bool bias)
    {
        var model = new Gpt(Tiny(pos, norm, tie, bias) with { Layers = 1 }, seed: 3, DType.Float64);
        var tokens = Tokens(new[,] { { 1, 2, 3, 1 }, { 6, 0, 5, 5 } });
        var targets = Tokens(new[,] { { 2, 3, 1, 4 }, { 0, 5, 5, 2 } });
        var ps = model.Parameters().ToArray();
        // Every element of every parameter is perturbed (central differences in float64).
        var result = GradCheck.Check(_ => model.Loss(tokens, targets), ps, eps: 1e-6, atol: 1e-7, rtol: 1e-5);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(ps.Length, result.Inputs.Count);
        Assert.All(result.Inputs, r => Assert.True(r.MaxAbsError < 1e-7, r.ToString()));
    }

    public static TheoryData<GptConfig> ShapeConfigs() =>
    [
        Tiny(),
        Tiny(PositionEmbedding.Learned, NormKind.RMSNorm, tie: false, bias: false),
        Tiny(PositionEmbedding.Alibi, bias: false) with { Attention = AttentionSpec.SsMax },
        Tiny(PositionEmbedding.None, tie: false) with { Layers = 3, MlpRatio = 3 },
    ];

    [Theory]
    [MemberData(nameof(ShapeConfigs))]
    public void ParameterShapesListTheStateDictWithoutBuildingTheModel(GptConfig config)
    {
        var expected = new Gpt(config).StateDict().Select(p => (p.Key, Shapes.Format(p.Value.Shape))).ToArray();
        var listed = Gpt.ParameterShapes(config).Select(p => (p.Key, Shapes.Format(p.Value))).ToArray();
        Assert.Equal(expected, listed);
    }

    [Theory]
    [InlineData("Layers", 10_000_000, "Layers must be in 1..1024, got 10000000")]
    [InlineData("MlpRatio", 100_000, "MlpRatio must be in 1..64, got 100000")]
    [InlineData("ModelDim", 1 << 20, "ModelDim must be in 1..65536, got 1048576")]
    [InlineData("VocabSize", int.MaxValue, "VocabSize must be in 1..2097152, got 2147483647")]
    public void AbsurdSizesFailValidationWithTheirBound(string field, int value, string expected)
    {
        var config = field switch
        {
            "Layers" => Tiny() with { Layers = value },
            "MlpRatio" => Tiny() with { MlpRatio = value },
            "ModelDim" => Tiny() with { ModelDim = value },
            _ => Tiny() with { VocabSize = value },
        };
        Assert.Contains(expected, Assert.Throws<ArgumentException>(config.Validate).Message);
        Assert.Contains("the largest parameter would have", Assert.Throws<ArgumentException>((Tiny() with { ModelDim = 65536, Heads = 2 }).Validate).Message);
    }
}
