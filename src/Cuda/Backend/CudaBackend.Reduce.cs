using Engine.Cuda.Runtime;

namespace Engine.Cuda;

public sealed partial class CudaBackend
{
    /// <summary>Permutes the reduced axes last: output row r then reduces flat elements r·cols … r·cols+cols−1.</summary>
    private static (int rows, int cols, Layout moved) MoveAxesLast(Layout l, ReadOnlySpan<int> axes)
    {
        var perm = new int[l.Rank];
        int p = 0, rows = 1, cols = 1;
        for (int d = 0; d < l.Rank; d++) if (!axes.Contains(d)) { perm[p++] = d; rows *= l.ShapeSpan[d]; }
        foreach (int a in axes) { perm[p++] = a; cols *= l.ShapeSpan[a]; }
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
}
