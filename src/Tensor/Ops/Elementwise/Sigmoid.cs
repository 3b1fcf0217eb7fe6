using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>1/(1+e^−x) elementwise.</summary>
    public Tensor Sigmoid()
    {
        var y = UnaryRaw(UnaryOp.Sigmoid, "sigmoid");
        return Graph.Output(y, "sigmoid", () => new SigmoidNode(y), this);
    }
}

/// <summary>dσ/dx = σ(1−σ).</summary>
internal sealed class SigmoidNode(Tensor y) : Node(y)
{
    public override string Name => "sigmoid";
    protected internal override Tensor?[] Backward(Tensor g) => [g.Mul(Saved(0).Mul(Saved(0).RSubScalar(1)))];
}
