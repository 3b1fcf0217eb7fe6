using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>a + b with broadcasting.</summary>
    public Tensor Add(Tensor other)
    {
        var y = BinaryRaw(BinaryOp.Add, this, other, "add");
        return Graph.Output(y, "add", () => new AddNode(), this, other);
    }

    /// <summary>a + b with broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => a.Add(b);
}

/// <summary>d(a+b)/da = d(a+b)/db = 1: the gradient passes through (the engine un-broadcasts it).</summary>
internal sealed class AddNode : Node
{
    public override string Name => "add";
    protected internal override Tensor?[] Backward(Tensor g) => [g, g];
}
