using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>|x| elementwise (gradient 0 at 0).</summary>
    public Tensor Abs()
    {
        var y = UnaryRaw(UnaryOp.Abs, "abs");
        return Graph.Output(y, "abs", () => new AbsNode(), this);
    }
}

/// <summary>d|x|/dx = sign(x).</summary>
internal sealed class AbsNode : Node
{
    public override string Name => "abs";
    protected internal override Tensor?[] Backward(Tensor g) => [g.Mul(Input(0).UnaryRaw(UnaryOp.Sign, "abs"))];
}
