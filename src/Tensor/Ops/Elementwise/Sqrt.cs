using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>√x elementwise.</summary>
    public Tensor Sqrt()
    {
        var y = UnaryRaw(UnaryOp.Sqrt, "sqrt");
        return Graph.Output(y, "sqrt", () => new SqrtNode(y), this);
    }
}

/// <summary>d √x/dx = 1/(2√x) = 0.5/y.</summary>
internal sealed class SqrtNode(Tensor y) : Node(y)
{
    public override string Name => "sqrt";
    protected internal override Tensor?[] Backward(Tensor g) => [g.Div(Saved(0)).MulScalar(0.5)];
}
