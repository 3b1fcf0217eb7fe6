using System.Numerics;
using System.Numerics.Tensors;

namespace Engine.Cpu;

public sealed partial class CpuBackend
{
    /// <inheritdoc/>
    public Storage Softmax(Storage x, Layout lx, bool log) => x.DType switch
    {
        DType.Float32 => Wrap(Softmax<float>(PooledDense<float>(x, lx), lx.Rank == 0 ? 1 : lx.ShapeArray[^1], log)),
        DType.Float64 => Wrap(Softmax<double>(PooledDense<double>(x, lx), lx.Rank == 0 ? 1 : lx.ShapeArray[^1], log)),
        _ => throw new NotSupportedException($"softmax: needs a floating-point tensor, got {x.DType.Name()}"),
    };

    /// <summary>In place on a copy: subtract the row max (so exp never overflows), exponentiate, normalise.</summary>
    private static T[] Softmax<T>(T[] data, int cols, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (cols == 0) return data;
        int rows = data.Length / cols;
        EngineThreads.For(rows, cols * 4L, (start, end) =>
        {
            var tmp = log ? new T[cols] : null;
            for (int r = start; r < end; r++)
            {
                var row = data.AsSpan(r * cols, cols);
                T max = TensorPrimitives.Max(row);
                if (T.IsNegativeInfinity(max)) max = T.Zero; // fully masked row: keep it finite where possible
                TensorPrimitives.Subtract(row, max, row);
                if (log)
                {
                    TensorPrimitives.Exp(row, tmp);
                    T lse = T.Log(TensorPrimitives.Sum<T>(tmp));
                    TensorPrimitives.Subtract(row, lse, row);
                }
                else
                {
                    TensorPrimitives.Exp(row, row);
                    TensorPrimitives.Divide(row, TensorPrimitives.Sum<T>(row), row);
                }
            }
        });
        return data;
    }

    /// <inheritdoc/>
    public Storage SoftmaxBackward(Storage y, Storage dy, int rows, int cols, bool log) => y.DType switch
    {
        DType.Float32 => Wrap(SoftmaxBackward(Data<float>(y), Data<float>(dy), rows, cols, log)),
        DType.Float64 => Wrap(SoftmaxBackward(Data<double>(y), Data<double>(dy), rows, cols, log)),
        _ => throw new NotSupportedException("softmax backward: floating-point only"),
    };

    /// <summary>
    /// softmax: dx = y ⊙ (dy − Σ dy⊙y);  log-softmax (y = log p): dx = dy − p · Σ dy.
    /// </summary>
    private static T[] SoftmaxBackward<T>(T[] y, T[] dy, int rows, int cols, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dx = CpuArrayPool.Rent<T>(rows * cols);
        EngineThreads.For(rows, cols * 4L, (start, end) =>
        {
            var p = log ? new T[cols] : null;
            for (int r = start; r < end; r++)
            {
                var yr = y.AsSpan(r * cols, cols); var gr = dy.AsSpan(r * cols, cols); var dr = dx.AsSpan(r * cols, cols);
                if (log)
                {
                    T sum = TensorPrimitives.Sum<T>(gr);
                    TensorPrimitives.Exp(yr, p);
                    TensorPrimitives.MultiplyAdd(p, -sum, gr, dr);
                }
                else
                {
                    T dot = TensorPrimitives.Dot<T>(yr, gr);
                    TensorPrimitives.Subtract(gr, dot, dr);
                    TensorPrimitives.Multiply(dr, yr, dr);
                }
            }
        });
        return dx;
    }
}
