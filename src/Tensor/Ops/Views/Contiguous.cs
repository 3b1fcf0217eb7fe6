using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>This tensor if it already is its whole storage in row-major order (<see cref="IsDense"/>), else a compact copy.</summary>
    public Tensor Contiguous()
    {
        if (IsDense) return this;
        return CloneNode.Apply(this);
    }
}

/// <summary>A copy into fresh contiguous storage; the gradient passes through unchanged.</summary>
internal sealed class CloneNode : Node
{
    public override string Name => "clone";

    public static Tensor Apply(Tensor x)
    {
        var y = new Tensor(x.Backend.Contiguous(x.Storage, x.Layout), x.ShapeSpan);
        return Graph.Output(y, "clone", () => new CloneNode(), x);
    }

    protected internal override Tensor?[] Backward(Tensor g) => [g];
}
