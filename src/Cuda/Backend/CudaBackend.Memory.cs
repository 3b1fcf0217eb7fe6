using Engine.Cuda.Runtime;

namespace Engine.Cuda;

public sealed partial class CudaBackend
{
    /// <inheritdoc/>
    public Storage Zeros(DType dtype, int length)
    {
        var s = Allocate(dtype, length);
        Api.MemsetZero(s.Pointer, (long)length * dtype.SizeOf());
        return s;
    }

    /// <inheritdoc/>
    public Storage Full(DType dtype, int length, double value)
    {
        var s = Allocate(dtype, length);
        switch (dtype)
        {
            case DType.Float64:
                Launch("elementwise", "fill_b64", length, a => a.Add(length).Add(s.Pointer).Add(BitConverter.DoubleToUInt64Bits(value)));
                break;
            case DType.Float32:
                Launch("elementwise", "fill_b32", length, a => a.Add(length).Add(s.Pointer).Add(BitConverter.SingleToUInt32Bits((float)value)));
                break;
            case DType.BFloat16:
                uint half = BFloat16.FromSingle((float)value).Bits;
                Launch("convert", "fill_b16", length, a => a.Add(length).Add(s.Pointer).Add(half));
                break;
            default:
                uint bits = unchecked((uint)checked((int)value));
                Launch("elementwise", "fill_b32", length, a => a.Add(length).Add(s.Pointer).Add(bits));
                break;
        }
        return s;
    }

    /// <inheritdoc/>
    public unsafe Storage FromHost<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        var s = Allocate(DTypes.Of<T>(), data.Length);
        fixed (T* p = data) Api.CopyHostToDevice(s.Pointer, p, (long)data.Length * sizeof(T));
        // Index data (token ids, targets) comes from the host: keep a copy so its checks need no read-back.
        if (typeof(T) == typeof(int) && data.Length <= HostIndices.MaxLength)
            s.Mirror = new HostIndices(System.Runtime.InteropServices.MemoryMarshal.Cast<T, int>(data).ToArray());
        return s;
    }

    /// <inheritdoc/>
    public unsafe void ToHost<T>(Storage src, Layout layout, Span<T> dst) where T : unmanaged
    {
        var s = Own(src, "to_host");
        if (DTypes.Of<T>() != s.DType)
            throw new ArgumentException($"to_host: storage is {s.DType.Name()}, host buffer is {typeof(T).Name}");
        if (dst.Length < layout.Count)
            throw new ArgumentException($"to_host: host buffer of {dst.Length} elements is shorter than the view's {layout.Count}");
        if (layout.Count == 0) return;
        if (layout.IsContiguous)
        {
            fixed (T* p = dst) Api.CopyDeviceToHost(p, s.At(layout.Offset), (long)layout.Count * sizeof(T));
            return;
        }
        using var dense = (CudaStorage)Contiguous(src, layout);
        fixed (T* p = dst) Api.CopyDeviceToHost(p, dense.Pointer, (long)layout.Count * sizeof(T));
    }

    /// <inheritdoc/>
    public Storage Contiguous(Storage src, Layout layout)
    {
        var s = Own(src, "contiguous");
        var y = Allocate(s.DType, layout.Count);
        Copy(s, layout, y, Layout.Contiguous(layout.Shape), "contiguous");
        return y;
    }

    /// <inheritdoc/>
    public void CopyInto(Storage src, Layout srcLayout, Storage dst, Layout dstLayout)
    {
        var s = Own(src, "copy_into");
        var d = Own(dst, "copy_into");
        if (s.DType != d.DType)
            throw new ArgumentException($"copy_into: dtypes differ ({s.DType.Name()} and {d.DType.Name()})");
        if (srcLayout.Count != dstLayout.Count)
            throw new ArgumentException($"copy_into: source view ({srcLayout}) and destination view ({dstLayout}) have different element counts");
        d.Mirror = null;   // the destination no longer holds what was uploaded
        if (ReferenceEquals(s, d))
        {
            // Source and destination may overlap: go through a copy so every element reads its old value.
            using var tmp = (CudaStorage)Contiguous(s, srcLayout);
            Copy(tmp, Layout.Contiguous(srcLayout.Shape), d, dstLayout, "copy_into");
            return;
        }
        Copy(s, srcLayout, d, dstLayout, "copy_into");
    }

    private void Copy(CudaStorage s, Layout ls, CudaStorage d, Layout ld, string op)
    {
        int n = ls.Count;
        // The destination walks in its own shape, the source in its own; both enumerate row-major.
        var (ks, kd) = Shapes.Equal(ls.ShapeSpan, ld.ShapeSpan)
            ? Pair(KernelLayout.FromMany(op, ls, ld))
            : (KernelLayout.From(ls, op), KernelLayout.From(ld, op));
        Launch(MoveFamily(s.DType), "copy_" + Bits(s.DType), n, a => a.Add(n).Add(s.Pointer).Add(ks).Add(d.Pointer).Add(kd));
    }

    private static (KernelLayout, KernelLayout) Pair(KernelLayout[] k) => (k[0], k[1]);

    /// <inheritdoc/>
    public Storage Cast(Storage src, Layout layout, DType to)
    {
        var s = Own(src, "cast");
        if (s.DType == to) return Contiguous(src, layout);
        var y = Allocate(to, layout.Count);
        var k = KernelLayout.From(layout, "cast");
        int n = layout.Count;
        bool half = s.DType == DType.BFloat16 || to == DType.BFloat16;
        if (half && (s.DType == DType.Int32 || to == DType.Int32))
            throw new NotSupportedException($"cast: {s.DType.Name()} to {to.Name()} is not supported; bfloat16 converts to and from float32 and float64");
        Launch(half ? "convert" : "elementwise", $"cast_{Suffix(s.DType)}_{Suffix(to)}", n, a => a.Add(n).Add(s.Pointer).Add(k).Add(y.Pointer));
        return y;
    }

    /// <inheritdoc/>
    public void AddInPlace(Storage dst, Storage src, double alpha)
    {
        var d = Own(dst, "add_");
        var s = Own(src, "add_");
        RequireFloat(d, "add_");
        if (d.DType != s.DType || d.Length != s.Length)
            throw new ArgumentException($"add_: destination ({d.DType.Name()}, {d.Length} elements) and source ({s.DType.Name()}, {s.Length} elements) must match");
        int n = d.Length;
        if (d.DType == DType.Float32)
            Launch("elementwise", "axpy_f32", n, a => a.Add(n).Add(d.Pointer).Add(s.Pointer).Add((float)alpha));
        else
            Launch("elementwise", "axpy_f64", n, a => a.Add(n).Add(d.Pointer).Add(s.Pointer).Add(alpha));
    }

    /// <inheritdoc/>
    public void ScaleInPlace(Storage dst, double alpha)
    {
        var d = Own(dst, "mul_");
        RequireFloat(d, "mul_");
        int n = d.Length;
        if (d.DType == DType.Float32)
            Launch("elementwise", "scale_f32", n, a => a.Add(n).Add(d.Pointer).Add((float)alpha));
        else
            Launch("elementwise", "scale_f64", n, a => a.Add(n).Add(d.Pointer).Add(alpha));
    }
}
