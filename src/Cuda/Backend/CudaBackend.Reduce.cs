using Engine.Cuda.Runtime;

namespace Engine.Cuda;

public sealed partial class CudaBackend
{
    /// <summary>Permutes the reduced axes last: output row r then reduces flat elements r·cols … r·cols+cols−1.</summary>
    private static (int rows, int cols, Layout moved) MoveAxesLast(Layout l, ReadOnlySpan<int> axes)
    {
        var perm = new int[l.Rank];
        int p = 0, rows = 1, cols = 1;
        for (int d = 0; d < l.Rank; d++) if (!axes.Contains(d)) { perm[p++] = d; rows *= l.ShapeArray[d]; }
        foreach (int a in axes) { perm[p++] = a; cols *= l.ShapeArray[a]; }
        return (rows, cols, l.Permute(perm));
    }

    /// <inheritdoc/>
    public Storage Reduce(ReduceOp op, Storage x, Layout lx, ReadOnlySpan<int> axes)
    {
        var s = Own(x, "reduce " + op);
        RequireFloat(s, "reduce " + op);
        var (rows, cols, moved) = MoveAxesLast(lx, axes);
        if (cols == 0) return Zeros(s.DType, rows);
        var y = Allocate(s.DType, rows);
        var k = KernelLayout.From(moved, "reduce " + op);
        LaunchRows("reduce", "reduce_" + Suffix(s.DType), rows, cols, a => a.Add(rows).Add(cols).Add(s.Pointer).Add(k).Add(y.Pointer).Add((int)op));
        return y;
    }

    /// <inheritdoc/>
    public Storage ArgReduce(ReduceOp op, Storage x, Layout lx, int axis)
    {
        var s = Own(x, "argmax/argmin");
        RequireFloat(s, "argmax/argmin");
        var (rows, cols, moved) = MoveAxesLast(lx, [axis]);
        var y = Allocate(DType.Int32, rows);
        if (cols == 0) { Api.MemsetZero(y.Pointer, (long)rows * 4); return y; }
        var k = KernelLayout.From(moved, "argmax/argmin");
        LaunchRows("reduce", "argreduce_" + Suffix(s.DType), rows, cols, a => a.Add(rows).Add(cols).Add(s.Pointer).Add(k).Add(y.Pointer).Add((int)op));
        return y;
    }

    /// <inheritdoc/>
    public Storage Softmax(Storage x, Layout lx, bool log)
    {
        var s = Own(x, "softmax");
        RequireFloat(s, "softmax");
        int cols = lx.Rank == 0 ? 1 : lx.ShapeArray[^1];
        int rows = cols == 0 ? 0 : lx.Count / cols;
        var y = Allocate(s.DType, lx.Count);
        var k = KernelLayout.From(lx, "softmax");
        LaunchRows("softmax", "softmax_fwd_" + Suffix(s.DType), rows, cols, a => a.Add(rows).Add(cols).Add(s.Pointer).Add(k).Add(y.Pointer).Add(log ? 1 : 0));
        return y;
    }

    /// <inheritdoc/>
    public Storage SoftmaxBackward(Storage y, Storage dy, int rows, int cols, bool log)
    {
        var sy = Own(y, "softmax backward");
        var sg = Own(dy, "softmax backward");
        RequireFloat(sy, "softmax backward");
        var dx = Allocate(sy.DType, rows * cols);
        LaunchRows("softmax", "softmax_bwd_" + Suffix(sy.DType), rows, cols, a => a.Add(rows).Add(cols).Add(sy.Pointer).Add(sg.Pointer).Add(dx.Pointer).Add(log ? 1 : 0));
        return dx;
    }
}
