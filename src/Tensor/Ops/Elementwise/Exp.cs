using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>e^x elementwise.</summary>
    public Tensor Exp()
    {
        var y = UnaryRaw(UnaryOp.Exp, "exp");
        return Graph.Output(y, "exp", () => new ExpNode(y), this);
    }
}

/// <summary>d e^x/dx = e^x: reuse the output.</summary>
internal sealed class ExpNode(Tensor y) : Node(y)
{
    public override string Name => "exp";
    protected internal override Tensor?[] Backward(Tensor g) => [g.Mul(Saved(0))];
}
