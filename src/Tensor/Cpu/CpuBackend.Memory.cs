using System.Numerics;

namespace Engine.Cpu;

// Buffers: creation, host transfers, strided copies, casts and the in-place updates of gradients and optimisers.
public sealed partial class CpuBackend
{
    /// <inheritdoc/>
    public Storage Zeros(DType dtype, int length) => dtype switch
    {
        DType.Float32 => Wrap(CpuArrayPool.Rent<float>(length)),
        DType.Float64 => Wrap(CpuArrayPool.Rent<double>(length)),
        DType.Int32 => Wrap(CpuArrayPool.Rent<int>(length)),
        DType.BFloat16 => Wrap(CpuArrayPool.Rent<BFloat16>(length)),
        _ => throw new NotSupportedException(dtype.ToString()),
    };

    /// <inheritdoc/>
    public Storage Full(DType dtype, int length, double value)
    {
        switch (dtype)
        {
            case DType.Float32: { var a = CpuArrayPool.RentUninitialized<float>(length); a.AsSpan().Fill((float)value); return Wrap(a); }
            case DType.Float64: { var a = CpuArrayPool.RentUninitialized<double>(length); a.AsSpan().Fill(value); return Wrap(a); }
            case DType.Int32: { var a = CpuArrayPool.RentUninitialized<int>(length); a.AsSpan().Fill(checked((int)value)); return Wrap(a); }
            case DType.BFloat16: { var a = CpuArrayPool.RentUninitialized<BFloat16>(length); a.AsSpan().Fill(BFloat16.FromSingle((float)value)); return Wrap(a); }
            default: throw new NotSupportedException(dtype.ToString());
        }
    }

    /// <inheritdoc/>
    public Storage FromHost<T>(ReadOnlySpan<T> data) where T : unmanaged => Wrap(CpuArrayPool.Copy(data));

    /// <inheritdoc/>
    public void ToHost<T>(Storage src, Layout layout, Span<T> dst) where T : unmanaged => Gather(Data<T>(src), layout, dst);

    /// <inheritdoc/>
    public Storage Contiguous(Storage src, Layout layout) => src.DType switch
    {
        DType.Float32 => Wrap(PooledDense<float>(src, layout)),
        DType.Float64 => Wrap(PooledDense<double>(src, layout)),
        DType.Int32 => Wrap(PooledDense<int>(src, layout)),
        DType.BFloat16 => Wrap(PooledDense<BFloat16>(src, layout)),
        _ => throw new NotSupportedException(src.DType.ToString()),
    };

    /// <summary>The elements of a view gathered straight into a pooled array (no intermediate copy).</summary>
    internal static T[] PooledDense<T>(Storage src, Layout layout) where T : unmanaged
    {
        var a = CpuArrayPool.RentUninitialized<T>(layout.Count);   // Gather writes every element
        Gather(Data<T>(src), layout, a);
        return a;
    }

    /// <inheritdoc/>
    public void CopyInto(Storage src, Layout srcLayout, Storage dst, Layout dstLayout)
    {
        switch (src.DType)
        {
            case DType.Float32: CopyInto<float>(src, srcLayout, dst, dstLayout); break;
            case DType.Float64: CopyInto<double>(src, srcLayout, dst, dstLayout); break;
            case DType.Int32: CopyInto<int>(src, srcLayout, dst, dstLayout); break;
            case DType.BFloat16: CopyInto<BFloat16>(src, srcLayout, dst, dstLayout); break;
        }
    }

    private static void CopyInto<T>(Storage src, Layout ls, Storage dst, Layout ld) where T : unmanaged
    {
        if (ld.Count == 0) return;
        var d = Data<T>(dst);
        if (!ls.IsContiguous && !ReferenceEquals(Data<T>(src), d) && Shapes.Equal(ls.ShapeSpan, ld.ShapeSpan))
        {
            // A strided source into another array of the same shape (a KV cache appending a head-split view): row by
            // row, without first gathering the source into a temporary array.
            CopyRows(Data<T>(src), ls, d, ld);
            return;
        }
        var values = Dense<T>(src, ls);
        if (ld.IsContiguous) { values.CopyTo(d.AsSpan(ld.Offset, ld.Count)); return; }
        // Row by row (a row is the last dimension): whole-span copies when the destination rows are dense, as when
        // concat or narrow's backward writes into a window of a larger tensor.
        int inner = ld.ShapeArray[^1], stride = ld.StrideArray[^1], rows = ld.Count / inner;
        var offsets = CpuArrayPool.RentScratch<int>(rows);
        ld.RowOffsets(offsets.AsSpan(0, rows));
        for (int r = 0; r < rows; r++)
        {
            var row = values.Slice(r * inner, inner);
            if (stride == 1) row.CopyTo(d.AsSpan(offsets[r], inner));
            else for (int i = 0, o = offsets[r]; i < inner; i++, o += stride) d[o] = row[i];
        }
        CpuArrayPool.Return(offsets);
    }

    /// <summary>
    /// Copies the view <paramref name="ls"/> of <paramref name="s"/> into the view <paramref name="ld"/> of another
    /// array <paramref name="d"/> (same shape), one row (last dimension) at a time, walking both views' row offsets
    /// together; nothing is allocated.
    /// </summary>
    private static void CopyRows<T>(T[] s, Layout ls, T[] d, Layout ld) where T : unmanaged
    {
        int rank = ld.Rank;
        if (rank == 0) { d[ld.Offset] = s[ls.Offset]; return; }
        int inner = ld.ShapeArray[rank - 1], ss = ls.StrideArray[rank - 1], sd = ld.StrideArray[rank - 1], rows = ld.Count / inner;
        Span<int> index = rank <= 16 ? stackalloc int[rank] : new int[rank];
        index.Clear();
        int os = ls.Offset, od = ld.Offset;
        for (int r = 0; r < rows; r++)
        {
            if (ss == 1 && sd == 1) s.AsSpan(os, inner).CopyTo(d.AsSpan(od, inner));
            else for (int i = 0, a = os, b = od; i < inner; i++, a += ss, b += sd) d[b] = s[a];
            for (int k = rank - 2; k >= 0; k--)
            {
                os += ls.StrideArray[k];
                od += ld.StrideArray[k];
                if (++index[k] < ld.ShapeArray[k]) break;
                os -= ls.StrideArray[k] * ld.ShapeArray[k];
                od -= ld.StrideArray[k] * ld.ShapeArray[k];
                index[k] = 0;
            }
        }
    }

    /// <inheritdoc/>
    public Storage Cast(Storage src, Layout layout, DType to)
    {
        return (src.DType, to) switch
        {
            (DType.Float32, DType.Float64) => Convert<float, double>(src, layout),
            (DType.Float64, DType.Float32) => Convert<double, float>(src, layout),
            (DType.Int32, DType.Float32) => Convert<int, float>(src, layout),
            (DType.Int32, DType.Float64) => Convert<int, double>(src, layout),
            (DType.Float32, DType.Int32) => Convert<float, int>(src, layout),
            (DType.Float64, DType.Int32) => Convert<double, int>(src, layout),
            (DType.Float32, DType.BFloat16) => ToBFloat16(Dense<float>(src, layout)),
            (DType.Float64, DType.BFloat16) => ToBFloat16(Dense<double>(src, layout)),
            (DType.BFloat16, DType.Float32) => Wrap(Widen(Dense<BFloat16>(src, layout))),
            (DType.BFloat16, DType.Float64) => Wrap(Array.ConvertAll(Widen(Dense<BFloat16>(src, layout)), v => (double)v)),
            (DType.BFloat16, _) or (_, DType.BFloat16) => throw new NotSupportedException($"cast: {src.DType.Name()} to {to.Name()} is not supported; bfloat16 converts to and from float32 and float64"),
            _ => Contiguous(src, layout),
        };
    }

    /// <summary>Rounds to bfloat16, ties to even (float64 goes through float32, as the CUDA backend does).</summary>
    private static Storage ToBFloat16<T>(ReadOnlySpan<T> s) where T : unmanaged, INumberBase<T>
    {
        var d = new BFloat16[s.Length];
        for (int i = 0; i < s.Length; i++) d[i] = BFloat16.FromSingle(float.CreateTruncating(s[i]));
        return Wrap(d);
    }

    /// <summary>bfloat16 values as float32 (exact).</summary>
    internal static float[] Widen(ReadOnlySpan<BFloat16> s)
    {
        var d = GC.AllocateUninitializedArray<float>(s.Length);
        for (int i = 0; i < s.Length; i++) d[i] = s[i].ToSingle();
        return d;
    }

    private static Storage Convert<TFrom, TTo>(Storage src, Layout layout)
        where TFrom : unmanaged, INumberBase<TFrom> where TTo : unmanaged, INumberBase<TTo>
    {
        var s = Dense<TFrom>(src, layout);
        var d = new TTo[s.Length];
        for (int i = 0; i < s.Length; i++) d[i] = TTo.CreateTruncating(s[i]);
        return Wrap(d);
    }

    /// <inheritdoc/>
    public void AddInPlace(Storage dst, Storage src, double alpha)
    {
        if (dst.DType == DType.Float32) AddInPlace(Data<float>(dst), Data<float>(src), (float)alpha);
        else if (dst.DType == DType.Float64) AddInPlace(Data<double>(dst), Data<double>(src), alpha);
        else throw new NotSupportedException($"add_: {dst.DType.Name()} is not a floating-point type");
    }

    /// <inheritdoc/>
    public void ScaleInPlace(Storage dst, double alpha)
    {
        if (dst.DType == DType.Float32) System.Numerics.Tensors.TensorPrimitives.Multiply(Data<float>(dst), (float)alpha, Data<float>(dst));
        else if (dst.DType == DType.Float64) System.Numerics.Tensors.TensorPrimitives.Multiply(Data<double>(dst), alpha, Data<double>(dst));
        else throw new NotSupportedException($"mul_: {dst.DType.Name()} is not a floating-point type");
    }

    private static void AddInPlace<T>(T[] dst, T[] src, T alpha) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (alpha == T.One) System.Numerics.Tensors.TensorPrimitives.Add(dst, src, dst);
        else System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(src, alpha, dst, dst);
    }
}
