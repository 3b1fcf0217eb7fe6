using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>x^p elementwise for a scalar exponent p.</summary>
    public Tensor PowScalar(double p)
    {
        var y = UnaryRaw(UnaryOp.PowScalar, "pow", p);
        return Graph.Output(y, "pow", () => new PowNode(p), this);
    }

    /// <summary>x²: shorthand for PowScalar(2).</summary>
    public Tensor Square() => PowScalar(2);
}

/// <summary>d x^p/dx = p·x^(p−1). The constant x⁰ has gradient 0 everywhere (not 0·x⁻¹, which is NaN at x = 0).</summary>
internal sealed class PowNode(double p) : Node
{
    public override string Name => "pow";
    protected internal override Tensor?[] Backward(Tensor g) => p switch
    {
        0 => [g.MulScalar(0)],
        1 => [g],
        2 => [g.Mul(Input(0)).MulScalar(2)],
        _ => [g.Mul(Input(0).PowScalar(p - 1)).MulScalar(p)],
    };
}
