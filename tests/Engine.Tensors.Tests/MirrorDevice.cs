using Engine.Cpu;

namespace Engine.Tests;

/// <summary>
/// A test double for a second device: every op runs on the CPU backend, but storages report another device, so
/// device checks (mixing devices is an error) and device transfers (To(device) and its backward) can be tested
/// on machines without a GPU. It is registered under a CUDA ordinal that no real machine uses.
/// </summary>
internal sealed class MirrorBackend : IBackend
{
    public static readonly Device Device = new(DeviceKind.Cuda, 63);
    private static readonly Lazy<MirrorBackend> Registered = new(() => { var b = new MirrorBackend(); BackendRegistry.Register(b); return b; });

    /// <summary>The mirror device, registered on first use.</summary>
    public static Device Get() { _ = Registered.Value; return Device; }

    private static readonly CpuBackend Cpu = CpuBackend.Instance;

    Device IBackend.Device => Device;

    private sealed class MirrorStorage(Storage inner, IBackend owner) : Storage(inner.DType, inner.Length)
    {
        public Storage Inner { get; } = inner;
        public override IBackend Backend => owner;
    }

    private Storage W(Storage s) => new MirrorStorage(s, this);
    private static Storage U(Storage s) => s is MirrorStorage m ? m.Inner : throw new ArgumentException($"mirror backend: got a {s.Device} storage");

    public Storage Zeros(DType dtype, int length) => W(Cpu.Zeros(dtype, length));
    public Storage Full(DType dtype, int length, double value) => W(Cpu.Full(dtype, length, value));
    public Storage FromHost<T>(ReadOnlySpan<T> data) where T : unmanaged => W(Cpu.FromHost(data));
    public void ToHost<T>(Storage src, Layout layout, Span<T> dst) where T : unmanaged => Cpu.ToHost(U(src), layout, dst);
    public Storage Contiguous(Storage src, Layout layout) => W(Cpu.Contiguous(U(src), layout));
    public void CopyInto(Storage src, Layout srcLayout, Storage dst, Layout dstLayout) => Cpu.CopyInto(U(src), srcLayout, U(dst), dstLayout);
    public Storage Cast(Storage src, Layout layout, DType to) => W(Cpu.Cast(U(src), layout, to));
    public Storage Unary(UnaryOp op, Storage x, Layout lx, double scalar = 0) => W(Cpu.Unary(op, U(x), lx, scalar));
    public Storage Binary(BinaryOp op, Storage a, Layout la, Storage b, Layout lb) => W(Cpu.Binary(op, U(a), la, U(b), lb));
    public Storage Where(Storage cond, Layout lc, Storage a, Layout la, Storage b, Layout lb) => W(Cpu.Where(U(cond), lc, U(a), la, U(b), lb));
    public void AddInPlace(Storage dst, Storage src, double alpha) => Cpu.AddInPlace(U(dst), U(src), alpha);
    public void ScaleInPlace(Storage dst, double alpha) => Cpu.ScaleInPlace(U(dst), alpha);
    public Storage Reduce(ReduceOp op, Storage x, Layout lx, ReadOnlySpan<int> axes) => W(Cpu.Reduce(op, U(x), lx, axes));
    public Storage ArgReduce(ReduceOp op, Storage x, Layout lx, int axis) => W(Cpu.ArgReduce(op, U(x), lx, axis));
    public Storage Softmax(Storage x, Layout lx, bool log) => W(Cpu.Softmax(U(x), lx, log));
    public Storage SoftmaxBackward(Storage y, Storage dy, int rows, int cols, bool log) => W(Cpu.SoftmaxBackward(U(y), U(dy), rows, cols, log));
    public Storage MatMul(Storage a, Layout la, Storage b, Layout lb) => W(Cpu.MatMul(U(a), la, U(b), lb));
    public Storage IndexSelect(Storage x, Layout lx, int axis, Storage indices, int indexCount) => W(Cpu.IndexSelect(U(x), lx, axis, U(indices), indexCount));
    public Storage IndexAdd(ReadOnlySpan<int> shape, int axis, Storage indices, int indexCount, Storage src, Layout lsrc) => W(Cpu.IndexAdd(shape, axis, U(indices), indexCount, U(src), lsrc));
    public Storage Gather(Storage x, Layout lx, int axis, Storage index, Layout lindex) => W(Cpu.Gather(U(x), lx, axis, U(index), lindex));
    public Storage ScatterAdd(ReadOnlySpan<int> shape, int axis, Storage index, Layout lindex, Storage src, Layout lsrc) => W(Cpu.ScatterAdd(shape, axis, U(index), lindex, U(src), lsrc));
}
