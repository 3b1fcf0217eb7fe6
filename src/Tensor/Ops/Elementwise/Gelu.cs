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

public sealed partial class Tensor
{
    /// <summary>g ⊙ gelu′(x) in one backend call (one pass on the CPU); records nothing.</summary>
    internal static Tensor GeluBackward(Tensor x, Tensor g)
    {
        SameDevice("gelu", x, g);
        SameDType("gelu", x, g);
        x.RequireFloat("gelu");
        if (!x.ShapeSpan.SequenceEqual(g.ShapeSpan))
            throw new ArgumentException($"gelu: gradient of shape {Shapes.Format(g.Shape)} for an input of shape {Shapes.Format(x.Shape)}");
        return new Tensor(x.Backend.GeluBackward(x.Storage, x.Layout, g.Storage, g.Layout), x.ShapeSpan);
    }
}

/// <summary>The derivative has a closed form (UnaryOp.GeluGrad): ½(1+t) + ½x(1−t²)·√(2/π)(1+3·0.044715x²), t = tanh(u).</summary>
internal sealed class GeluNode : Node
{
    public override string Name => "gelu";
    protected internal override Tensor?[] Backward(Tensor g) => [Tensor.GeluBackward(Input(0), g)];
}
