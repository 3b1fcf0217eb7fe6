namespace Engine;

// Squeeze and unsqueeze are reshapes (always views); their gradient is Reshape's.
public sealed partial class Tensor
{
    /// <summary>Inserts a size-1 dimension at <paramref name="axis"/> (−1 appends).</summary>
    public Tensor Unsqueeze(int axis)
    {
        int a = Shapes.Axis(axis, Rank + 1, "unsqueeze", ShapeSpan);
        var shape = new List<int>(Shape);
        shape.Insert(a, 1);
        return Reshape([.. shape]);
    }

    /// <summary>Removes the size-1 dimension at <paramref name="axis"/>.</summary>
    public Tensor Squeeze(int axis)
    {
        int a = Shapes.Axis(axis, Rank, "squeeze", ShapeSpan);
        if (Layout.ShapeArray[a] != 1)
            throw new ArgumentException($"squeeze: axis {axis} of shape {Shapes.Format(ShapeSpan)} has size {Layout.ShapeArray[a]}, not 1");
        var shape = new List<int>(Shape);
        shape.RemoveAt(a);
        return Reshape([.. shape]);
    }

    /// <summary>Removes every size-1 dimension.</summary>
    public Tensor Squeeze() => Reshape(Shape.Where(d => d != 1).ToArray());
}
