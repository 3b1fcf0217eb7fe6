using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>a − b with broadcasting.</summary>
    public Tensor Sub(Tensor other)
    {
        var y = BinaryRaw(BinaryOp.Sub, this, other, "sub");
        return Graph.Output(y, "sub", () => new SubNode(), this, other);
    }

    /// <summary>a − b with broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => a.Sub(b);
}

/// <summary>d(a−b)/da = 1, d(a−b)/db = −1.</summary>
internal sealed class SubNode : Node
{
    public override string Name => "sub";
    protected internal override Tensor?[] Backward(Tensor g) => [g, NeedsGrad(1) ? g.Neg() : null];
}
