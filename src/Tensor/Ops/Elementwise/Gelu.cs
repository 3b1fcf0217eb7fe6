using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>GELU with the tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³))).</summary>
    public Tensor Gelu()
    {
        var y = UnaryRaw(UnaryOp.Gelu, "gelu");
        return Graph.Output(y, "gelu", () => new GeluNode(), this);
    }
}

/// <summary>The derivative has a closed form (UnaryOp.GeluGrad): ½(1+t) + ½x(1−t²)·√(2/π)(1+3·0.044715x²), t = tanh(u).</summary>
internal sealed class GeluNode : Node
{
    public override string Name => "gelu";
    protected internal override Tensor?[] Backward(Tensor g) => [g.Mul(Input(0).UnaryRaw(UnaryOp.GeluGrad, "gelu"))];
}
