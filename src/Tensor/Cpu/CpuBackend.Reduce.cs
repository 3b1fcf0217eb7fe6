using System.Numerics;
using System.Numerics.Tensors;

namespace Engine.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>Moves the given axes last (kept axes first, in order) so each output element reduces one contiguous row.</summary>
    private static (int rows, int cols, Layout moved) MoveAxesLast(Layout l, ReadOnlySpan<int> axes)
    {
        var perm = new int[l.Rank];
        int p = 0, cols = 1;
        for (int d = 0; d < l.Rank; d++) if (!axes.Contains(d)) perm[p++] = d;
        foreach (int a in axes) { perm[p++] = a; cols *= l.ShapeArray[a]; }
        return (CountKept(l, axes), cols, l.Permute(perm));
    }

    private static int CountKept(Layout l, ReadOnlySpan<int> axes)
    {
        int n = 1;
        for (int d = 0; d < l.Rank; d++) if (!axes.Contains(d)) n *= l.ShapeArray[d];
        return n;
    }

    /// <inheritdoc/>
    public Storage Reduce(ReduceOp op, Storage x, Layout lx, ReadOnlySpan<int> axes) => x.DType switch
    {
        DType.Float32 => Wrap(Reduce<float>(op, x, lx, axes)),
        DType.Float64 => Wrap(Reduce<double>(op, x, lx, axes)),
        _ => throw new NotSupportedException($"reduce {op}: needs a floating-point tensor, got {x.DType.Name()}"),
    };

    private static T[] Reduce<T>(ReduceOp op, Storage x, Layout lx, ReadOnlySpan<int> axes) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (rows, cols, moved) = MoveAxesLast(lx, axes);
        var y = new T[rows];
        if (cols == 0)
        {
            // Empty reduction: sum is 0; max/min of nothing is undefined (the tensor op rejects it before here).
            return y;
        }
        var src = Dense<T>(x, moved).ToArray();
        EngineThreads.For(rows, cols, (start, end) =>
        {
            for (int r = start; r < end; r++)
            {
                var row = new ReadOnlySpan<T>(src, r * cols, cols);
                y[r] = op switch
                {
                    ReduceOp.Sum => TensorPrimitives.Sum(row),
                    ReduceOp.Max => TensorPrimitives.Max(row),
                    _ => TensorPrimitives.Min(row),
                };
            }
        });
        return y;
    }

    /// <inheritdoc/>
    public Storage ArgReduce(ReduceOp op, Storage x, Layout lx, int axis)
    {
        return x.DType switch
        {
            DType.Float32 => Wrap(ArgReduce<float>(op, x, lx, axis)),
            DType.Float64 => Wrap(ArgReduce<double>(op, x, lx, axis)),
            _ => throw new NotSupportedException($"argmax/argmin: needs a floating-point tensor, got {x.DType.Name()}"),
        };
    }

    private static int[] ArgReduce<T>(ReduceOp op, Storage x, Layout lx, int axis) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (rows, cols, moved) = MoveAxesLast(lx, [axis]);
        var src = Dense<T>(x, moved);
        var y = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            var row = src.Slice(r * cols, cols);
            y[r] = op == ReduceOp.Max ? TensorPrimitives.IndexOfMax(row) : TensorPrimitives.IndexOfMin(row);
        }
        return y;
    }
}
