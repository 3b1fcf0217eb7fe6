using System.Numerics;

namespace Engine.Cpu;

public sealed partial class CpuBackend
{
    /// <inheritdoc/>
    public Storage MatMul(Storage a, Layout la, Storage b, Layout lb) => a.DType switch
    {
        DType.Float32 => Wrap(MatMul(Data<float>(a), la, Data<float>(b), lb)),
        DType.Float64 => Wrap(MatMul(Data<double>(a), la, Data<double>(b), lb)),
        _ => throw new NotSupportedException($"matmul: needs floating-point tensors, got {a.DType.Name()}"),
    };

    private static T[] MatMul<T>(T[] a, Layout la, T[] b, Layout lb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int r = la.Rank;
        int m = la.ShapeArray[r - 2], k = la.ShapeArray[r - 1], n = lb.ShapeArray[r - 1];
        int batch = 1;
        for (int d = 0; d < r - 2; d++) batch *= la.ShapeArray[d];
        var c = new T[batch * m * n];
        // Batch offsets of A and B: the leading dims as a layout of their own.
        var oa = new int[Math.Max(batch, 1)]; var ob = new int[Math.Max(batch, 1)];
        new Layout(la.ShapeArray.AsSpan(0, r - 2), la.StrideArray.AsSpan(0, r - 2), la.Offset).StorageIndices(oa);
        new Layout(lb.ShapeArray.AsSpan(0, r - 2), lb.StrideArray.AsSpan(0, r - 2), lb.Offset).StorageIndices(ob);
        for (int i = 0; i < batch; i++)
            Gemm.Compute(m, n, k,
                a, oa[i], la.StrideArray[r - 2], la.StrideArray[r - 1],
                b, ob[i], lb.StrideArray[r - 2], lb.StrideArray[r - 1],
                c, i * m * n, n, accumulate: false);
        return c;
    }
}
