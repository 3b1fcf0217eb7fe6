using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>max(x, 0) elementwise (gradient 0 at 0).</summary>
    public Tensor Relu()
    {
        var y = UnaryRaw(UnaryOp.Relu, "relu");
        return Graph.Output(y, "relu", () => new ReluNode(), this);
    }
}

/// <summary>d relu/dx = 1 where x &gt; 0, else 0.</summary>
internal sealed class ReluNode : Node
{
    public override string Name => "relu";
    protected internal override Tensor?[] Backward(Tensor g) => [g.Mul(Input(0).UnaryRaw(UnaryOp.Step, "relu"))];
}
