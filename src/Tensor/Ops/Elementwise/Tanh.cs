using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>tanh x elementwise.</summary>
    public Tensor Tanh()
    {
        var y = UnaryRaw(UnaryOp.Tanh, "tanh");
        return Graph.Output(y, "tanh", () => new TanhNode(y), this);
    }
}

/// <summary>d tanh/dx = 1 − tanh².</summary>
internal sealed class TanhNode(Tensor y) : Node(y)
{
    public override string Name => "tanh";
    protected internal override Tensor?[] Backward(Tensor g) => [g.Mul(Saved(0).Mul(Saved(0)).RSubScalar(1))];
}
