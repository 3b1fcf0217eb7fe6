using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>Broadcasts to a larger shape without copying (size-1 and new leading dims get stride 0).</summary>
    public Tensor Expand(params int[] shape)
    {
        var check = Shapes.Broadcast(ShapeSpan, shape, "expand");
        if (!Shapes.Equal(check, shape))
            throw new ArgumentException($"expand: shape {Shapes.Format(ShapeSpan)} cannot be expanded to {Shapes.Format(shape)}");
        if (Shapes.Equal(ShapeSpan, shape)) return this;
        var y = new Tensor(Storage, Layout.BroadcastTo(shape));
        return Graph.Output(y, "expand", () => new ExpandNode(), this);
    }
}

/// <summary>Expanded copies share one input element, so their gradients add up; the engine's un-broadcast does the sum.</summary>
internal sealed class ExpandNode : Node
{
    public override string Name => "expand";
    protected internal override Tensor?[] Backward(Tensor g) => [g];
}
