using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>
    /// Slices along <paramref name="axis"/> picked by int32 <paramref name="indices"/> (any shape); the result's axis
    /// is replaced by the indices' shape. With axis 0 on a [vocab, dim] table this is an embedding lookup.
    /// </summary>
    public Tensor IndexSelect(int axis, Tensor indices)
    {
        int a = Shapes.Axis(axis, Rank, "index_select", ShapeSpan);
        if (indices.DType != DType.Int32)
            throw new ArgumentException($"index_select: indices must be int32, got {indices.DType.Name()} of shape {Shapes.Format(indices.ShapeSpan)}");
        SameDevice("index_select", this, indices);
        var flat = indices.Contiguous();
        var y = new Tensor(Backend.IndexSelect(Storage, Layout, a, flat.Storage, flat.Count), [.. ShapeSpan[..a], flat.Count, .. ShapeSpan[(a + 1)..]]);
        y = Graph.Output(y, "index_select", () => new IndexSelectNode(a, flat), this);
        return indices.Rank == 1 ? y : y.Reshape([.. ShapeSpan[..a], .. indices.ShapeSpan, .. ShapeSpan[(a + 1)..]]);
    }
}

/// <summary>Each picked slice's gradient is added back at its index (IndexAdd); repeated indices accumulate.</summary>
internal sealed class IndexSelectNode(int axis, Tensor indices) : Node(indices)
{
    public override string Name => "index_select";
    protected internal override Tensor?[] Backward(Tensor g)
    {
        var idx = Saved(0);
        return [new Tensor(g.Backend.IndexAdd(Input(0).ShapeSpan, axis, idx.Storage, idx.Count, g.Storage, g.Layout), Input(0).ShapeSpan)];
    }
}
