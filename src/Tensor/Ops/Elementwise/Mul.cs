using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>a · b elementwise with broadcasting.</summary>
    public Tensor Mul(Tensor other)
    {
        var y = BinaryRaw(BinaryOp.Mul, this, other, "mul");
        return Graph.Output(y, "mul", () => new MulNode(), this, other);
    }

    /// <summary>a · b elementwise with broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => a.Mul(b);
}

/// <summary>d(ab)/da = b, d(ab)/db = a.</summary>
internal sealed class MulNode : Node
{
    public override string Name => "mul";
    protected internal override Tensor?[] Backward(Tensor g) =>
        [NeedsGrad(0) ? g.Mul(Input(1)) : null, NeedsGrad(1) ? g.Mul(Input(0)) : null];
}
