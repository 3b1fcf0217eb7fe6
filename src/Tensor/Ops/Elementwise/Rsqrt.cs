using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>1/√x elementwise.</summary>
    public Tensor Rsqrt()
    {
        var y = UnaryRaw(UnaryOp.Rsqrt, "rsqrt");
        return Graph.Output(y, "rsqrt", () => new RsqrtNode(y), this);
    }
}

/// <summary>d x^(−½)/dx = −½ x^(−3/2) = −½ y³.</summary>
internal sealed class RsqrtNode(Tensor y) : Node(y)
{
    public override string Name => "rsqrt";
    protected internal override Tensor?[] Backward(Tensor g) => [g.Mul(Saved(0).PowScalar(3)).MulScalar(-0.5)];
}
