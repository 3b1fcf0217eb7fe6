using System.Runtime.InteropServices;

namespace Engine.Cpu;

/// <summary>
/// The CPU backend: managed arrays, TensorPrimitives on contiguous runs and a strided fallback elsewhere.
/// Split by op family into partial files (Elementwise, Reduce, Softmax, MatMul, Indexing).
/// </summary>
public sealed partial class CpuBackend : IBackend
{
    /// <summary>The single instance.</summary>
    public static readonly CpuBackend Instance = new();

    private CpuBackend() { }

    /// <inheritdoc/>
    public Device Device => Device.Cpu;

    internal static T[] Data<T>(Storage s) where T : unmanaged =>
        s is CpuStorage<T> c ? c.Data
        : throw new ArgumentException($"cpu backend: expected a cpu {DTypes.Of<T>().Name()} storage, got {s.Device} {s.DType.Name()}");

    /// <summary>The elements of a view as a contiguous span: the storage itself when possible, else a copy.</summary>
    internal static ReadOnlySpan<T> Dense<T>(Storage s, Layout l) where T : unmanaged
    {
        var data = Data<T>(s);
        if (l.Count == 0) return []; // an empty view's offset may point past the end of its storage
        if (l.IsContiguous) return data.AsSpan(l.Offset, l.Count);
        var copy = GC.AllocateUninitializedArray<T>(l.Count);   // Gather writes every element
        Gather(data, l, copy);
        return copy;
    }

    /// <summary>
    /// As <see cref="Gather{T}(T[], Layout, Span{T})"/> into an array, with the rows of a large strided view split
    /// across threads: the copies around attention's heads (a reshape of a permuted gradient, megabytes of 32-value
    /// rows) were a serial stretch of the step that left the other cores idle.
    /// </summary>
    internal static void Gather<T>(T[] data, Layout l, T[] dst) where T : unmanaged
    {
        const int ParallelElements = 1 << 16;
        if (l.IsContiguous || l.Count < ParallelElements || EngineThreads.Count == 1 || WorkerPool.IsBusy)
        {
            Gather(data, l, dst.AsSpan(0, l.Count));
            return;
        }
        int inner = l.ShapeArray[^1], stride = l.StrideArray[^1], rows = l.Count / inner;
        var offsets = CpuArrayPool.RentScratch<int>(rows);
        l.RowOffsets(offsets.AsSpan(0, rows));
        EngineThreads.For(rows, inner, (r0, r1) => GatherRows(data, offsets, r0, r1, inner, stride, dst));
        CpuArrayPool.Return(offsets);
    }

    internal static void Gather<T>(T[] data, Layout l, Span<T> dst) where T : unmanaged
    {
        if (l.Count == 0) return;
        if (l.IsContiguous) { data.AsSpan(l.Offset, l.Count).CopyTo(dst); return; }
        int inner = l.Rank == 0 ? 1 : l.ShapeArray[^1];
        int stride = l.Rank == 0 ? 1 : l.StrideArray[^1];
        int rows = l.Count / inner;
        var offsets = CpuArrayPool.RentScratch<int>(rows);
        l.RowOffsets(offsets.AsSpan(0, rows));
        GatherRows(data, offsets, 0, rows, inner, stride, dst);
        CpuArrayPool.Return(offsets);
    }

    /// <summary>Rows [r0, r1) of a view (row r starts at data[offsets[r]], its elements stride apart) into dst's rows of inner.</summary>
    private static void GatherRows<T>(T[] data, int[] offsets, int r0, int r1, int inner, int stride, Span<T> dst) where T : unmanaged
    {
        for (int r = r0; r < r1; r++)
        {
            var d = dst.Slice(r * inner, inner);
            int o = offsets[r];
            if (stride == 1) data.AsSpan(o, inner).CopyTo(d);
            else for (int i = 0; i < inner; i++, o += stride) d[i] = data[o];
        }
    }

    internal static Storage Wrap<T>(T[] data) where T : unmanaged => new CpuStorage<T>(data);

    internal static Span<T> AsSpan<T>(T[] a) => MemoryMarshal.CreateSpan(ref MemoryMarshal.GetArrayDataReference(a), a.Length);
}
