using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>Elements [start, start + length) along <paramref name="axis"/> (a view).</summary>
    public Tensor Narrow(int axis, int start, int length)
    {
        int a = Shapes.Axis(axis, Rank, "narrow", ShapeSpan);
        int size = Layout.ShapeArray[a];
        if (start < 0 || length < 0 || start + length > size)
            throw new ArgumentOutOfRangeException(nameof(start), $"narrow: range [{start}, {start + length}) is outside axis {a} of size {size} (shape {Shapes.Format(ShapeSpan)})");
        var y = new Tensor(Storage, Layout.Narrow(a, start, length));
        return Graph.Output(y, "narrow", () => new NarrowNode(a, start), this);
    }

    /// <summary>Python-style slice along an axis: [start, end) with negative indices from the end, clamped.</summary>
    public Tensor Slice(int axis, int start, int end)
    {
        int a = Shapes.Axis(axis, Rank, "slice", ShapeSpan);
        int size = Layout.ShapeArray[a];
        int s = Math.Clamp(start < 0 ? start + size : start, 0, size);
        int e = Math.Clamp(end < 0 ? end + size : end, 0, size);
        return Narrow(a, s, Math.Max(0, e - s));
    }

    /// <summary>The sub-tensor at <paramref name="index"/> along <paramref name="axis"/>, with that axis removed.</summary>
    public Tensor Select(int axis, int index)
    {
        int a = Shapes.Axis(axis, Rank, "select", ShapeSpan);
        int size = Layout.ShapeArray[a];
        int i = index < 0 ? index + size : index;
        if ((uint)i >= (uint)size)
            throw new ArgumentOutOfRangeException(nameof(index), $"select: index {index} is out of range for axis {a} of size {size} (shape {Shapes.Format(ShapeSpan)})");
        return Narrow(a, i, 1).Squeeze(a);
    }

    /// <summary>A zero tensor of <paramref name="shape"/> with <paramref name="src"/> written at [start, start+len) along axis (Narrow's adjoint).</summary>
    internal static Tensor PadInto(Tensor src, int[] shape, int axis, int start)
    {
        var result = Zeros(shape, src.DType, src.Device);
        result.Backend.CopyInto(src.Storage, src.Layout, result.Storage, result.Layout.Narrow(axis, start, src.Dim(axis)));
        return result;
    }
}

/// <summary>The gradient lands in the narrowed window; the rest of the input gets zero.</summary>
internal sealed class NarrowNode(int axis, int start) : Node
{
    /// <summary>The narrowed axis.</summary>
    public int Axis => axis;

    /// <summary>The window's first index along <see cref="Axis"/>.</summary>
    public int Start => start;

    public override string Name => "narrow";
    protected internal override Tensor?[] Backward(Tensor g) => [Tensor.PadInto(g, Input(0).Shape, axis, start)];
}
