using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>max(a, b) elementwise with broadcasting. Where a == b the gradient is split evenly.</summary>
    public Tensor Maximum(Tensor other)
    {
        var y = BinaryRaw(BinaryOp.Max, this, other, "maximum");
        return Graph.Output(y, "maximum", () => new MaximumNode(BinaryOp.Gt), this, other);
    }

    /// <summary>min(a, b) elementwise with broadcasting. Where a == b the gradient is split evenly.</summary>
    public Tensor Minimum(Tensor other)
    {
        var y = BinaryRaw(BinaryOp.Min, this, other, "minimum");
        return Graph.Output(y, "minimum", () => new MaximumNode(BinaryOp.Lt), this, other);
    }
}

/// <summary>The gradient goes to the winning input: 1 where a wins, 0 where b wins, ½ each on a tie.</summary>
internal sealed class MaximumNode(BinaryOp wins) : Node
{
    public override string Name => wins == BinaryOp.Gt ? "maximum" : "minimum";
    protected internal override Tensor?[] Backward(Tensor g)
    {
        Tensor a = Input(0), b = Input(1);
        var tie = Tensor.BinaryRaw(BinaryOp.Eq, a, b, Name).MulScalar(0.5);
        var wa = Tensor.BinaryRaw(wins, a, b, Name).Add(tie);
        var wb = Tensor.BinaryRaw(wins, b, a, Name).Add(tie);
        return [NeedsGrad(0) ? g.Mul(wa) : null, NeedsGrad(1) ? g.Mul(wb) : null];
    }
}
