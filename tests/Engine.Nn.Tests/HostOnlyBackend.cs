using Engine.Cpu;

namespace Engine.Nn.Tests;

/// <summary>
/// A backend with its own storage type that provides only host transfers and no fused kernels, so calls to the
/// fused kernels take <see cref="IBackend"/>'s default (copy to host, CPU kernel, copy back) path.
/// </summary>
internal sealed class HostOnlyBackend : IBackend
{
    private sealed class HostStorage<T>(T[] data, HostOnlyBackend owner) : Storage(DTypes.Of<T>(), data.Length) where T : unmanaged
    {
        public T[] Data { get; } = data;
        public override IBackend Backend => owner;
    }

    public Device Device => Device.Cuda(7);

    private T[] Array<T>(Storage s) where T : unmanaged => ((HostStorage<T>)s).Data;

    public Storage FromHost<T>(ReadOnlySpan<T> data) where T : unmanaged => new HostStorage<T>(data.ToArray(), this);

    public void ToHost<T>(Storage src, Layout layout, Span<T> dst) where T : unmanaged =>
        CpuBackend.Instance.ToHost<T>(new CpuStorage<T>(Array<T>(src)), layout, dst);

    public void CopyInto(Storage src, Layout srcLayout, Storage dst, Layout dstLayout)
    {
        switch (src.DType)
        {
            case DType.Float32: CpuBackend.Instance.CopyInto(new CpuStorage<float>(Array<float>(src)), srcLayout, new CpuStorage<float>(Array<float>(dst)), dstLayout); break;
            case DType.Float64: CpuBackend.Instance.CopyInto(new CpuStorage<double>(Array<double>(src)), srcLayout, new CpuStorage<double>(Array<double>(dst)), dstLayout); break;
            default: CpuBackend.Instance.CopyInto(new CpuStorage<int>(Array<int>(src)), srcLayout, new CpuStorage<int>(Array<int>(dst)), dstLayout); break;
        }
    }

    /// <summary>Moves a CPU tensor's elements onto this backend.</summary>
    public Storage Upload(Tensor t) => t.DType switch
    {
        DType.Float32 => FromHost<float>(t.ToArray<float>()),
        DType.Float64 => FromHost<double>(t.ToArray<double>()),
        _ => FromHost<int>(t.ToArray<int>()),
    };

    /// <summary>This backend's storage as doubles.</summary>
    public double[] Download(Storage s) => s.DType switch
    {
        DType.Float32 => System.Array.ConvertAll(Array<float>(s), v => (double)v),
        DType.Float64 => Array<double>(s),
        _ => System.Array.ConvertAll(Array<int>(s), v => (double)v),
    };

    private static NotSupportedException Unsupported(string what) => new($"host-only test backend: {what} is not provided; only host transfers are");
    public Storage Zeros(DType dtype, int length) => throw Unsupported("zeros");
    public Storage Full(DType dtype, int length, double value) => throw Unsupported("full");
    public Storage Contiguous(Storage src, Layout layout) => throw Unsupported("contiguous");
    public Storage Cast(Storage src, Layout layout, DType to) => throw Unsupported("cast");
    public Storage Unary(UnaryOp op, Storage x, Layout lx, double scalar = 0) => throw Unsupported("unary");
    public Storage Binary(BinaryOp op, Storage a, Layout la, Storage b, Layout lb) => throw Unsupported("binary");
    public Storage Where(Storage cond, Layout lc, Storage a, Layout la, Storage b, Layout lb) => throw Unsupported("where");
    public void AddInPlace(Storage dst, Storage src, double alpha) => throw Unsupported("add_in_place");
    public void ScaleInPlace(Storage dst, double alpha) => throw Unsupported("scale_in_place");
    public Storage Reduce(ReduceOp op, Storage x, Layout lx, ReadOnlySpan<int> axes) => throw Unsupported("reduce");
    public Storage ArgReduce(ReduceOp op, Storage x, Layout lx, int axis) => throw Unsupported("arg_reduce");
    public Storage Softmax(Storage x, Layout lx, bool log) => throw Unsupported("softmax");
    public Storage SoftmaxBackward(Storage y, Storage dy, int rows, int cols, bool log) => throw Unsupported("softmax_backward");
    public Storage MatMul(Storage a, Layout la, Storage b, Layout lb) => throw Unsupported("matmul");
    public Storage IndexSelect(Storage x, Layout lx, int axis, Storage indices, int indexCount) => throw Unsupported("index_select");
    public Storage IndexAdd(ReadOnlySpan<int> shape, int axis, Storage indices, int indexCount, Storage src, Layout lsrc) => throw Unsupported("index_add");
    public Storage Gather(Storage x, Layout lx, int axis, Storage index, Layout lindex) => throw Unsupported("gather");
    public Storage ScatterAdd(ReadOnlySpan<int> shape, int axis, Storage index, Layout lindex, Storage src, Layout lsrc) => throw Unsupported("scatter_add");
}
