using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>Maximum over <paramref name="axes"/> (all when null). Ties share the gradient evenly.</summary>
    public Tensor Max(int[]? axes = null, bool keepDim = false) => Extremum(ReduceOp.Max, axes, keepDim, "max");

    /// <summary>Maximum over one axis.</summary>
    public Tensor Max(int axis, bool keepDim = false) => Max([axis], keepDim);

    /// <summary>Minimum over <paramref name="axes"/> (all when null). Ties share the gradient evenly.</summary>
    public Tensor Min(int[]? axes = null, bool keepDim = false) => Extremum(ReduceOp.Min, axes, keepDim, "min");

    /// <summary>Minimum over one axis.</summary>
    public Tensor Min(int axis, bool keepDim = false) => Min([axis], keepDim);

    private Tensor Extremum(ReduceOp op, int[]? axes, bool keepDim, string name)
    {
        var ax = ReductionAxes(axes, name);
        foreach (int a in ax)
            if (Layout.ShapeArray[a] == 0) throw new ArgumentException($"{name}: axis {a} of shape {Shapes.Format(ShapeSpan)} is empty; the {name} of nothing is undefined");
        var y = ReduceRaw(op, ax, keepDim, name);
        return Graph.Output(y, name, () => new ExtremumNode(name, ax, y), this);
    }
}

/// <summary>The gradient goes to the element(s) equal to the result; k tied elements get g/k each.</summary>
internal sealed class ExtremumNode(string name, int[] axes, Tensor y) : Node(y)
{
    public override string Name => name;
    protected internal override Tensor?[] Backward(Tensor g)
    {
        var x = Input(0);
        var keep = x.ReducedShape(axes, keepDim: true);
        var hit = x.Eq(Saved(0).Reshape(keep));
        var share = hit.Div(hit.Sum(axes, keepDim: true));
        return [share.Mul(g.Reshape(keep))];
    }
}
