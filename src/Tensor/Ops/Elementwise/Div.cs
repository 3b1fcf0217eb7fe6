using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>a / b elementwise with broadcasting.</summary>
    public Tensor Div(Tensor other)
    {
        var y = BinaryRaw(BinaryOp.Div, this, other, "div");
        return Graph.Output(y, "div", () => new DivNode(y), this, other);
    }

    /// <summary>a / b elementwise with broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => a.Div(b);
}

/// <summary>y = a/b: dy/da = 1/b, dy/db = −a/b² = −y/b.</summary>
internal sealed class DivNode(Tensor y) : Node(y)
{
    public override string Name => "div";
    protected internal override Tensor?[] Backward(Tensor g)
    {
        var b = Input(1);
        return [NeedsGrad(0) ? g.Div(b) : null, NeedsGrad(1) ? g.Mul(Saved(0)).Div(b).Neg() : null];
    }
}
