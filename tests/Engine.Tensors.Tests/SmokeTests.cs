using Engine.Autograd;

namespace Engine.Tests;

public class SmokeTests
{
    [Fact]
    public void MatMulAndGradCheck()
    {
        var a = Tensor.RandN([3, 4], 1, DType.Float64).RequireGrad();
        var b = Tensor.RandN([4, 5], 2, DType.Float64).RequireGrad();
        var r = GradCheck.Check(x => x[0].MatMul(x[1]).Tanh().Softmax(-1), [a, b]);
        Assert.True(r.Passed, r.ToString());
        var bt = Tensor.RandN([5, 4], 3, DType.Float64).RequireGrad();
        GradCheck.Check(x => x[0].MatMul(x[1].T).Gelu().Sum(0), [a, bt]);
    }
}
