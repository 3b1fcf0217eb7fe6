using System.Numerics;
using System.Numerics.Tensors;

namespace Engine.Cpu;

public sealed partial class CpuBackend
{
    private static void CheckIndex(int index, int size, string op, int axis, ReadOnlySpan<int> shape)
    {
        if ((uint)index >= (uint)size)
            throw new ArgumentOutOfRangeException("index", $"{op}: index {index} is out of range for axis {axis} of size {size} (shape {Shapes.Format(shape)})");
    }

    /// <summary>Splits a shape around an axis: (product before, size, product after).</summary>
    private static (int outer, int size, int inner) Around(ReadOnlySpan<int> shape, int axis)
    {
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= shape[d];
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        return (outer, shape[axis], inner);
    }

    /// <inheritdoc/>
    public Storage IndexSelect(Storage x, Layout lx, int axis, Storage indices, int indexCount) => x.DType switch
    {
        DType.Float32 => Wrap(IndexSelect(Dense<float>(x, lx), lx.ShapeArray, axis, Data<int>(indices), indexCount)),
        DType.Float64 => Wrap(IndexSelect(Dense<double>(x, lx), lx.ShapeArray, axis, Data<int>(indices), indexCount)),
        _ => Wrap(IndexSelect(Dense<int>(x, lx), lx.ShapeArray, axis, Data<int>(indices), indexCount)),
    };

    private static T[] IndexSelect<T>(ReadOnlySpan<T> x, int[] shape, int axis, int[] idx, int count) where T : unmanaged
    {
        var (outer, size, inner) = Around(shape, axis);
        var y = CpuArrayPool.RentUninitialized<T>(outer * count * inner);   // every (o, j) row is copied below
        for (int j = 0; j < count; j++) CheckIndex(idx[j], size, "index_select", axis, shape);
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < count; j++)
                x.Slice((o * size + idx[j]) * inner, inner).CopyTo(y.AsSpan((o * count + j) * inner, inner));
        return y;
    }

    /// <inheritdoc/>
    public Storage IndexAdd(ReadOnlySpan<int> shape, int axis, Storage indices, int indexCount, Storage src, Layout lsrc) => src.DType switch
    {
        DType.Float32 => Wrap(IndexAdd(shape, axis, Data<int>(indices), indexCount, Dense<float>(src, lsrc))),
        DType.Float64 => Wrap(IndexAdd(shape, axis, Data<int>(indices), indexCount, Dense<double>(src, lsrc))),
        _ => throw new NotSupportedException($"index_add: needs floating-point values, got {src.DType.Name()}"),
    };

    private static T[] IndexAdd<T>(ReadOnlySpan<int> shape, int axis, int[] idx, int count, ReadOnlySpan<T> src) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (outer, size, inner) = Around(shape, axis);
        var y = CpuArrayPool.Rent<T>(outer * size * inner);
        for (int j = 0; j < count; j++) CheckIndex(idx[j], size, "index_add", axis, shape);
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < count; j++)
            {
                var dst = y.AsSpan((o * size + idx[j]) * inner, inner);
                TensorPrimitives.Add(dst, src.Slice((o * count + j) * inner, inner), dst);
            }
        return y;
    }

    /// <inheritdoc/>
    public Storage Gather(Storage x, Layout lx, int axis, Storage index, Layout lindex) => x.DType switch
    {
        DType.Float32 => Wrap(Gather(Dense<float>(x, lx), lx.ShapeArray, axis, Dense<int>(index, lindex), lindex.ShapeArray)),
        DType.Float64 => Wrap(Gather(Dense<double>(x, lx), lx.ShapeArray, axis, Dense<int>(index, lindex), lindex.ShapeArray)),
        _ => Wrap(Gather(Dense<int>(x, lx), lx.ShapeArray, axis, Dense<int>(index, lindex), lindex.ShapeArray)),
    };

    private static T[] Gather<T>(ReadOnlySpan<T> x, int[] xShape, int axis, ReadOnlySpan<int> idx, int[] idxShape) where T : unmanaged
    {
        var (outer, size, inner) = Around(xShape, axis);
        int count = idxShape[axis];
        var y = CpuArrayPool.Rent<T>(idx.Length);
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < count; j++)
                for (int i = 0; i < inner; i++)
                {
                    int p = (o * count + j) * inner + i;
                    int t = idx[p];
                    CheckIndex(t, size, "gather", axis, xShape);
                    y[p] = x[(o * size + t) * inner + i];
                }
        return y;
    }

    /// <inheritdoc/>
    public Storage ScatterAdd(ReadOnlySpan<int> shape, int axis, Storage index, Layout lindex, Storage src, Layout lsrc) => src.DType switch
    {
        DType.Float32 => Wrap(ScatterAdd(shape, axis, Dense<int>(index, lindex), lindex.ShapeArray, Dense<float>(src, lsrc))),
        DType.Float64 => Wrap(ScatterAdd(shape, axis, Dense<int>(index, lindex), lindex.ShapeArray, Dense<double>(src, lsrc))),
        _ => throw new NotSupportedException($"scatter_add: needs floating-point values, got {src.DType.Name()}"),
    };

    private static T[] ScatterAdd<T>(ReadOnlySpan<int> shape, int axis, ReadOnlySpan<int> idx, int[] idxShape, ReadOnlySpan<T> src) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (outer, size, inner) = Around(shape, axis);
        int count = idxShape[axis];
        var y = CpuArrayPool.Rent<T>(outer * size * inner);
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < count; j++)
                for (int i = 0; i < inner; i++)
                {
                    int p = (o * count + j) * inner + i;
                    int t = idx[p];
                    CheckIndex(t, size, "scatter_add", axis, shape);
                    y[(o * size + t) * inner + i] += src[p];
                }
        return y;
    }
}
