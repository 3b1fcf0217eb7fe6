using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>Normalises reduction axes: null means all; negatives count from the end; sorted, duplicates rejected.</summary>
    internal int[] ReductionAxes(int[]? axes, string op)
    {
        if (axes is null) return Enumerable.Range(0, Rank).ToArray();
        var norm = new int[axes.Length];
        for (int i = 0; i < axes.Length; i++) norm[i] = Shapes.Axis(axes[i], Rank, op, ShapeSpan);
        Array.Sort(norm);
        for (int i = 1; i < norm.Length; i++)
            if (norm[i] == norm[i - 1]) throw new ArgumentException($"{op}: axis {norm[i]} appears twice in [{string.Join(", ", axes)}] for shape {Shapes.Format(ShapeSpan)}");
        return norm;
    }

    /// <summary>The shape after reducing <paramref name="axes"/>: those dims become 1 (keepDim) or disappear.</summary>
    internal int[] ReducedShape(int[] axes, bool keepDim)
    {
        var shape = new List<int>();
        for (int d = 0; d < Rank; d++)
        {
            if (Array.IndexOf(axes, d) < 0) shape.Add(Layout.ShapeArray[d]);
            else if (keepDim) shape.Add(1);
        }
        return shape.ToArray();
    }

    internal Tensor ReduceRaw(ReduceOp op, int[] axes, bool keepDim, string name)
    {
        RequireFloat(name);
        var storage = Backend.Reduce(op, Storage, Layout, axes);
        return new Tensor(storage, ReducedShape(axes, keepDim));
    }

    /// <summary>Σ over <paramref name="axes"/> (all when null).</summary>
    public Tensor Sum(int[]? axes = null, bool keepDim = false)
    {
        var ax = ReductionAxes(axes, "sum");
        var y = ReduceRaw(ReduceOp.Sum, ax, keepDim, "sum");
        return Graph.Output(y, "sum", () => new SumNode(ax), this);
    }

    /// <summary>Σ over one axis.</summary>
    public Tensor Sum(int axis, bool keepDim = false) => Sum([axis], keepDim);
}

/// <summary>Every input element contributes once to its sum: the gradient is g broadcast back over the reduced axes.</summary>
internal sealed class SumNode(int[] axes) : Node
{
    public override string Name => "sum";
    protected internal override Tensor?[] Backward(Tensor g)
    {
        var x = Input(0);
        return [g.Reshape(x.ReducedShape(axes, keepDim: true)).Expand(x.Shape)];
    }
}
