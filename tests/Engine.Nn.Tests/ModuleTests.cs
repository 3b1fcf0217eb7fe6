namespace Engine.Nn.Tests;

public class ModuleTests
{
    [Fact]
    public void LinearComputesXWTransposePlusBias()
    {
        var rng = new Rng(1);
        var lin = new Linear(3, 2, rng, dtype: DType.Float64);
        Assert.Equal([2, 3], lin.Weight.Shape);
        var w = lin.Weight.ToDoubleArray();
        var b = Tensor.FromArray(new[] { 0.5, -1.0 });
        lin.LoadStateDict(new Dictionary<string, Tensor> { ["weight"] = lin.Weight.Detach(), ["bias"] = b });
        var x = Tensor.FromArray(new double[,] { { 1, 2, 3 }, { -1, 0, 4 } }).Reshape(2, 1, 3);
        var y = lin.Forward(x);
        Assert.Equal([2, 1, 2], y.Shape);
        var xs = x.ToDoubleArray();
        for (int r = 0; r < 2; r++)
            for (int o = 0; o < 2; o++)
            {
                double expected = b.ToDoubleArray()[o];
                for (int i = 0; i < 3; i++) expected += xs[r * 3 + i] * w[o * 3 + i];
                Assert.Equal(expected, y.ToDoubleArray()[r * 2 + o], 12);
            }
        var e = Assert.Throws<ArgumentException>(() => lin.Forward(Tensor.Zeros([2, 4], DType.Float64)));
        Assert.Contains("must end in 3 features", e.Message);
        var xg = Tensor.RandN([4, 3], 2, DType.Float64).RequireGrad();
        GradCheck.Check(t => lin.Forward(t[0]), [xg, lin.Weight, lin.Bias!]);
    }

    [Fact]
    public void EmbeddingLooksUpRowsAndChecksIds()
    {
        var emb = new Embedding(5, 3, new Rng(2), dtype: DType.Float64);
        var ids = Tensor.FromArray(new[,] { { 4, 0 }, { 4, 2 } });
        var y = emb.Forward(ids);
        Assert.Equal([2, 2, 3], y.Shape);
        Assert.Equal(emb.Weight.Select(0, 4).ToDoubleArray(), y.Select(0, 1).Select(0, 0).ToDoubleArray());
        GradCheck.Check(_ => emb.Forward(ids), [emb.Weight]);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => emb.Forward(Tensor.FromArray(new[,] { { 0, 1 }, { 5, 2 } })));
        Assert.Contains("token id 5 at [1, 0]", e.Message);
        Assert.Throws<ArgumentException>(() => emb.Forward(Tensor.Zeros([2])));
    }

    [Fact]
    public void ModuleBookkeeping()
    {
        var model = new Gpt(GptTests.Tiny());
        long expected = 7 * 8 + 2 * (2 * 8 + 24 * 8 + 24 + 8 * 8 + 8 + 2 * 8 + 16 * 8 + 16 + 8 * 16 + 8) + 2 * 8;
        Assert.Equal(expected, model.ParameterCount);
        Assert.All(model.Parameters(), p => Assert.True(p.RequiresGrad && p.IsLeaf));
        var tokens = Tensor.FromArray(new[,] { { 1, 2 } });
        Tensor.CrossEntropy(model.Forward(tokens), tokens).Backward();
        Assert.All(model.Parameters(), p => Assert.NotNull(p.Grad));
        model.ZeroGrad();
        Assert.All(model.Parameters(), p => Assert.Null(p.Grad));

        model.To(DType.Float64);
        Assert.All(model.Parameters(), p => Assert.Equal(DType.Float64, p.DType));
        Assert.Equal(DType.Float64, model.Forward(tokens).DType);
        Assert.Equal(["0", "1"], model.Children().First(c => c.Name == "blocks").Module.Children().Select(c => c.Name));
    }

    private sealed class Twice : Module
    {
        public Twice()
        {
            AddParameter("w", Tensor.Zeros([1]));
            AddParameter("w", Tensor.Zeros([1]));
        }
    }

    private sealed class Dotted : Module
    {
        public Dotted() => AddParameter("a.b", Tensor.Zeros([1]));
    }

    [Fact]
    public void RegistrationErrorsAreClear()
    {
        Assert.Contains("already registered", Assert.Throws<ArgumentException>(() => new Twice()).Message);
        Assert.Contains("not a valid local name", Assert.Throws<ArgumentException>(() => new Dotted()).Message);
    }

    [Fact]
    public void NormModulesMatchReferences()
    {
        var x = Tensor.RandN([2, 3, 6], 3, DType.Float64);
        var ln = new LayerNorm(6, dtype: DType.Float64);
        Assert.Equal(NormReference.LayerNorm(x).ToDoubleArray(), ln.Forward(x).ToDoubleArray(), (a, b) => Math.Abs(a - b) < 1e-12);
        var rms = new RMSNorm(6, dtype: DType.Float64);
        Assert.Equal(NormReference.RMSNorm(x).ToDoubleArray(), rms.Forward(x).ToDoubleArray(), (a, b) => Math.Abs(a - b) < 1e-12);
        Assert.Equal(["weight", "bias"], ln.NamedParameters().Select(p => p.Name));
        Assert.Equal(["weight"], rms.NamedParameters().Select(p => p.Name));
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void DropoutDropsAboutPAndRescalesTheRest(DType dtype)
    {
        var drop = new Dropout(0.25, new Rng(11));
        var x = Tensor.Ones([100, 100], dtype);
        var y = drop.Forward(x).ToDoubleArray();
        double dropped = y.Count(v => v == 0) / (double)y.Length;
        Assert.InRange(dropped, 0.23, 0.27);
        Assert.All(y.Where(v => v != 0), v => Assert.Equal(1 / 0.75, v, 6));
        drop.Eval();
        Assert.Same(x, drop.Forward(x));
        Assert.Throws<ArgumentException>(() => new Dropout(1.0, new Rng(1)));
    }
}
