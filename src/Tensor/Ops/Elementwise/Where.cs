using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>Elementwise <c>condition ≠ 0 ? a : b</c>, all three broadcast together. The condition is not differentiated.</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        SameDevice("where", condition, a);
        SameDevice("where", a, b);
        SameDType("where", a, b);
        a.RequireFloat("where");
        var shape = Shapes.Broadcast(Shapes.Broadcast(condition.ShapeSpan, a.ShapeSpan, "where"), b.ShapeSpan, "where");
        var y = new Tensor(a.Backend.Where(condition.Storage, condition.Layout.BroadcastTo(shape),
            a.Storage, a.Layout.BroadcastTo(shape), b.Storage, b.Layout.BroadcastTo(shape)), shape);
        return Graph.Output(y, "where", () => new WhereNode(condition), a, b);
    }

    /// <summary>This tensor with <paramref name="value"/> wherever <paramref name="mask"/> ≠ 0 (mask broadcasts).</summary>
    public Tensor MaskedFill(Tensor mask, double value) => Where(mask, ScalarLike(value), this);
}

/// <summary>The gradient flows to a where the condition holds and to b elsewhere.</summary>
internal sealed class WhereNode(Tensor condition) : Node(condition)
{
    public override string Name => "where";
    protected internal override Tensor?[] Backward(Tensor g)
    {
        var zero = Tensor.Zeros([], g.DType, g.Device);
        return [NeedsGrad(0) ? Tensor.Where(Saved(0), g, zero) : null, NeedsGrad(1) ? Tensor.Where(Saved(0), zero, g) : null];
    }
}
