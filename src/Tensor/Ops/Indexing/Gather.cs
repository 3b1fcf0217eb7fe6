using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    private void CheckGatherIndex(string op, int axis, Tensor index, ReadOnlySpan<int> target)
    {
        if (index.DType != DType.Int32)
            throw new ArgumentException($"{op}: index must be int32, got {index.DType.Name()} of shape {Shapes.Format(index.ShapeSpan)}");
        SameDevice(op, this, index);
        bool ok = index.Rank == target.Length;
        for (int d = 0; ok && d < target.Length; d++) ok = d == axis || index.Layout.ShapeArray[d] == target[d];
        if (!ok)
            throw new ArgumentException($"{op}: index shape {Shapes.Format(index.ShapeSpan)} must match {Shapes.Format(target)} in every dimension but axis {axis}");
    }

    /// <summary>out[i…, j, k…] = x[i…, index[i…, j, k…], k…] along <paramref name="axis"/>; index (int32) has the output shape.</summary>
    public Tensor Gather(int axis, Tensor index)
    {
        int a = Shapes.Axis(axis, Rank, "gather", ShapeSpan);
        CheckGatherIndex("gather", a, index, ShapeSpan);
        var y = new Tensor(Backend.Gather(Storage, Layout, a, index.Storage, index.Layout), index.ShapeSpan);
        return Graph.Output(y, "gather", () => new GatherNode(a, index), this);
    }

    /// <summary>
    /// Zeros of <paramref name="shape"/> with out[i…, index[i…, j, k…], k…] += src[i…, j, k…] along <paramref name="axis"/>
    /// (Gather's adjoint). Differentiable with respect to <paramref name="src"/>.
    /// </summary>
    public static Tensor ScatterAdd(int[] shape, int axis, Tensor index, Tensor src)
    {
        int a = Shapes.Axis(axis, shape.Length, "scatter_add", shape);
        src.RequireFloat("scatter_add");
        src.CheckGatherIndex("scatter_add", a, index, shape);
        if (!Shapes.Equal(index.ShapeSpan, src.ShapeSpan))
            throw new ArgumentException($"scatter_add: index shape {Shapes.Format(index.ShapeSpan)} and src shape {Shapes.Format(src.ShapeSpan)} must be equal");
        var y = new Tensor(src.Backend.ScatterAdd(shape, a, index.Storage, index.Layout, src.Storage, src.Layout), shape);
        return Graph.Output(y, "scatter_add", () => new ScatterAddNode(a, index), src);
    }
}

/// <summary>Gather reads each source element zero or more times: its gradient scatter-adds g back.</summary>
internal sealed class GatherNode(int axis, Tensor index) : Node(index)
{
    public override string Name => "gather";
    protected internal override Tensor?[] Backward(Tensor g) => [Tensor.ScatterAdd(Input(0).Shape, axis, Saved(0), g)];
}

/// <summary>Each src element was added to one output element: its gradient is that element's, gathered.</summary>
internal sealed class ScatterAddNode(int axis, Tensor index) : Node(index)
{
    public override string Name => "scatter_add";
    protected internal override Tensor?[] Backward(Tensor g) => [g.Gather(axis, Saved(0))];
}
