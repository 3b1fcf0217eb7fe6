namespace Engine.Tests;

/// <summary>
/// Gradient checks of the fused ops in Ops/Fused (their full tests, against the composed references, live in
/// Engine.Nn.Tests/FusedOpTests.cs).
/// </summary>
public class FusedOpGradCheckTests : GradCheckTestBase
{
    [Fact]
    [CoversNode(typeof(NormNode))]
    public void LayerNormAndRMSNorm()
    {
        var x = Tensor.RandN([3, 5], new Rng(1), DType.Float64, 0, 2).RequireGrad();
        var w = Tensor.RandN([5], 2, DType.Float64).RequireGrad();
        var b = Tensor.RandN([5], 3, DType.Float64).RequireGrad();
        Check(t => t[0].LayerNorm(t[1], t[2]), [x, w, b]);
        Check(t => t[0].RMSNorm(t[1]), [x, w]);
    }

    [Fact]
    [CoversNode(typeof(CrossEntropyNode))]
    public void CrossEntropy()
    {
        var logits = Tensor.RandN([4, 6], new Rng(4), DType.Float64, 0, 2).RequireGrad();
        var targets = Tensor.FromArray(new[] { 5, -1, 0, 3 });
        Check(t => Tensor.CrossEntropy(t[0], targets, ignoreIndex: -1), [logits]);
    }

    [Fact]
    [CoversNode(typeof(RopeNode))]
    public void Rope()
    {
        var x = Tensor.RandN([2, 3, 4], 5, DType.Float64).RequireGrad();
        var (cos, sin) = Tensor.RopeTables(7, 3, 4, 100, DType.Float64);
        Check(t => Tensor.Rope(t[0], cos, sin), [x]);
    }
}
