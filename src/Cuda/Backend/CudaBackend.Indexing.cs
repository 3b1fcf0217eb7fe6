using Engine.Cuda.Runtime;

namespace Engine.Cuda;

public sealed partial class CudaBackend
{
    /// <summary>Splits a shape around an axis: (product before, size, product after).</summary>
    private static (int outer, int size, int inner) Around(ReadOnlySpan<int> shape, int axis)
    {
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= shape[d];
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        return (outer, shape[axis], inner);
    }

    /// <summary>
    /// Runs an index kernel with a two-int error slot. Indices uploaded from the host (<see cref="CudaStorage.Mirror"/>)
    /// all in [0, size) need nothing more: the kernel is only queued. Otherwise the slot is read back and an
    /// out-of-range index throws like the CPU backend does (this waits for the kernel).
    /// </summary>
    private unsafe void WithIndexCheck(string op, int axis, int size, CudaStorage indices, Action<ulong> launch)
    {
        using var err = Allocate(DType.Int32, 2);
        Api.MemsetZero(err.Pointer, 8);
        launch(err.Pointer);
        if (indices.Mirror is { } known && known.AllBelow(size)) return;
        int* flag = stackalloc int[2];
        Api.CopyDeviceToHost(flag, err.Pointer, 8);
        if (flag[0] != 0)
            throw new ArgumentOutOfRangeException("index", $"{op}: index {flag[1]} is out of range for axis {axis} of size {size}");
    }

    /// <inheritdoc/>
    public Storage IndexSelect(Storage x, Layout lx, int axis, Storage indices, int indexCount)
    {
        var sx = Own(x, "index_select");
        var si = Own(indices, "index_select");
        RequireWide(sx, "index_select");
        var (outer, size, inner) = Around(lx.ShapeSpan, axis);
        int total = outer * indexCount * inner;
        var y = Allocate(sx.DType, total);
        if (total == 0) return y;
        var k = KernelLayout.From(lx, "index_select");
        WithIndexCheck("index_select", axis, size, si, err =>
            Launch("indexing", "index_select_" + Bits(sx.DType), total,
                a => a.Add(total).Add(indexCount).Add(size).Add(inner).Add(sx.Pointer).Add(k).Add(si.Pointer).Add(y.Pointer).Add(err)));
        return y;
    }

    /// <inheritdoc/>
    public Storage IndexAdd(ReadOnlySpan<int> shape, int axis, Storage indices, int indexCount, Storage src, Layout lsrc)
    {
        var si = Own(indices, "index_add");
        var ss = Own(src, "index_add");
        RequireFloat(ss, "index_add");
        var (outer, size, inner) = Around(shape, axis);
        var y = (CudaStorage)Zeros(ss.DType, outer * size * inner);
        int total = outer * indexCount * inner;
        if (total == 0) return y;
        var k = KernelLayout.From(lsrc, "index_add");
        WithIndexCheck("index_add", axis, size, si, err =>
            Launch("indexing", "index_add_" + Suffix(ss.DType), total,
                a => a.Add(total).Add(indexCount).Add(size).Add(inner).Add(si.Pointer).Add(ss.Pointer).Add(k).Add(y.Pointer).Add(err)));
        return y;
    }

    /// <inheritdoc/>
    public Storage Gather(Storage x, Layout lx, int axis, Storage index, Layout lindex)
    {
        var sx = Own(x, "gather");
        var si = Own(index, "gather");
        RequireWide(sx, "gather");
        var (_, size, inner) = Around(lx.ShapeSpan, axis);
        int count = lindex.ShapeSpan[axis], total = lindex.Count;
        var y = Allocate(sx.DType, total);
        if (total == 0) return y;
        var kx = KernelLayout.From(lx, "gather");
        var ki = KernelLayout.From(lindex, "gather");
        WithIndexCheck("gather", axis, size, si, err =>
            Launch("indexing", "gather_" + Bits(sx.DType), total,
                a => a.Add(total).Add(count).Add(size).Add(inner).Add(sx.Pointer).Add(kx).Add(si.Pointer).Add(ki).Add(y.Pointer).Add(err)));
        return y;
    }

    /// <inheritdoc/>
    public Storage ScatterAdd(ReadOnlySpan<int> shape, int axis, Storage index, Layout lindex, Storage src, Layout lsrc)
    {
        var si = Own(index, "scatter_add");
        var ss = Own(src, "scatter_add");
        RequireFloat(ss, "scatter_add");
        var (outer, size, inner) = Around(shape, axis);
        var y = (CudaStorage)Zeros(ss.DType, outer * size * inner);
        int count = lindex.ShapeSpan[axis], total = lindex.Count;
        if (total == 0) return y;
        var ki = KernelLayout.FromMany("scatter_add", lindex, lsrc);
        WithIndexCheck("scatter_add", axis, size, si, err =>
            Launch("indexing", "scatter_add_" + Suffix(ss.DType), total,
                a => a.Add(total).Add(count).Add(size).Add(inner).Add(si.Pointer).Add(ki[0]).Add(ss.Pointer).Add(ki[1]).Add(y.Pointer).Add(err)));
        return y;
    }
}
