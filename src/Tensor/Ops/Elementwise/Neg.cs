using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>−x elementwise.</summary>
    public Tensor Neg()
    {
        var y = UnaryRaw(UnaryOp.Neg, "neg");
        return Graph.Output(y, "neg", () => new NegNode(), this);
    }
}

/// <summary>d(−x)/dx = −1.</summary>
internal sealed class NegNode : Node
{
    public override string Name => "neg";
    protected internal override Tensor?[] Backward(Tensor g) => [g.Neg()];
}
