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
        var y = CpuArrayPool.Rent<T>(rows);
        if (cols == 0)
        {
            // Empty reduction: sum is 0; max/min of nothing is undefined (the tensor op rejects it before here).
            return y;
        }
        if (rows == 0) return y;
        if (lx.IsContiguous && IsBlock(axes) && InnerCount(lx, axes[^1]) > 1)
        {
            ReduceBlock(op, Data<T>(x), lx, axes, y);
            return y;
        }
        // Each output element reduces one contiguous row of the (axes-last) view: read the storage in place when
        // the view is already contiguous, otherwise gather it once.
        T[] src; int offset;
        T[]? gathered = null;   // a scratch copy, given back to the pool below
        if (moved.IsContiguous) { src = Data<T>(x); offset = moved.Offset; }
        else { src = gathered = CpuArrayPool.RentScratch<T>(moved.Count); Gather(Data<T>(x), moved, gathered); offset = 0; }
        EngineThreads.For(rows, cols, (start, end) =>
        {
            for (int r = start; r < end; r++)
            {
                var row = new ReadOnlySpan<T>(src, offset + r * cols, cols);
                y[r] = op switch
                {
                    ReduceOp.Sum => SimdMath.AccurateSum(row),
                    ReduceOp.Max => TensorPrimitives.Max(row),
                    _ => TensorPrimitives.Min(row),
                };
            }
        });
        if (gathered is not null) CpuArrayPool.Return(gathered);
        return y;
    }

    /// <summary>True when the (sorted) axes are consecutive dimensions.</summary>
    private static bool IsBlock(ReadOnlySpan<int> axes) => axes.Length > 0 && axes[^1] - axes[0] == axes.Length - 1;

    private static int InnerCount(Layout l, int lastAxis)
    {
        int n = 1;
        for (int d = lastAxis + 1; d < l.Rank; d++) n *= l.ShapeArray[d];
        return n;
    }

    /// <summary>
    /// Reduces a block of consecutive axes of a contiguous tensor that has kept dimensions after it (the bias-gradient
    /// case: Σ over the batch rows of [batch, features]). Viewed as [outer, reduced, inner], each output row
    /// y[o, :] combines the reduced rows x[o, r, :] with whole-row vector ops, reading memory in order instead of
    /// gathering columns with a large stride.
    /// </summary>
    private static void ReduceBlock<T>(ReduceOp op, T[] data, Layout lx, ReadOnlySpan<int> axes, T[] y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int outer = 1, reduced = 1, inner = InnerCount(lx, axes[^1]);
        for (int d = 0; d < axes[0]; d++) outer *= lx.ShapeArray[d];
        foreach (int a in axes) reduced *= lx.ShapeArray[a];
        int baseOff = lx.Offset;
        // Parallel over (outer row, column block) pairs; each output element is always combined in the same order.
        // Column blocks: at most 1024 wide, narrower when that gives every thread a share (results do not depend
        // on the blocking: each output element always adds its rows in order r = 0, 1, ...).
        int Block = Math.Clamp((inner + EngineThreads.Count - 1) / EngineThreads.Count, 64, 1024);
        int blocks = (inner + Block - 1) / Block;
        EngineThreads.For(outer * blocks, (long)reduced * Math.Min(inner, Block), (start, end) =>
        {
            for (int t = start; t < end; t++)
            {
                int o = t / blocks, j0 = t % blocks * Block, nj = Math.Min(Block, inner - j0);
                var acc = y.AsSpan(o * inner + j0, nj);
                int src = baseOff + o * reduced * inner + j0;
                data.AsSpan(src, nj).CopyTo(acc);
                for (int r = 1; r < reduced; r++)
                {
                    var row = data.AsSpan(src + r * inner, nj);
                    switch (op)
                    {
                        case ReduceOp.Sum: TensorPrimitives.Add(acc, row, acc); break;
                        case ReduceOp.Max: TensorPrimitives.Max(acc, row, acc); break;
                        default: TensorPrimitives.Min(acc, row, acc); break;
                    }
                }
            }
        });
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
