using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>ln(1 + e^x) elementwise, computed as max(x,0) + ln(1 + e^−|x|): finite for any finite x.</summary>
    public Tensor Softplus()
    {
        var y = UnaryRaw(UnaryOp.Softplus, "softplus");
        return Graph.Output(y, "softplus", () => new SoftplusNode(), this);
    }
}

/// <summary>d softplus/dx = σ(x).</summary>
internal sealed class SoftplusNode : Node
{
    public override string Name => "softplus";
    protected internal override Tensor?[] Backward(Tensor g) => [g.Mul(Input(0).Sigmoid())];
}
