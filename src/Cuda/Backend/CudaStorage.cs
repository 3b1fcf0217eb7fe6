namespace Engine.Cuda;

/// <summary>
/// A buffer in GPU memory, from the device's <see cref="CachingAllocator"/>. <see cref="Dispose"/> returns the block
/// to the allocator at once; otherwise the garbage collector does it (the block is queued, never freed on the
/// finalizer thread).
/// </summary>
public sealed class CudaStorage : Storage
{
    private readonly CudaBackend backend;

    internal CudaStorage(CudaBackend backend, DType dtype, int length, DeviceBuffer buffer) : base(dtype, length)
    {
        this.backend = backend;
        Buffer = buffer;
    }

    internal DeviceBuffer Buffer { get; }

    /// <summary>The device address of element 0.</summary>
    public ulong Pointer => Buffer.Pointer;

    /// <summary>The device address of element <paramref name="index"/>.</summary>
    public ulong At(int index) => Buffer.Pointer + (ulong)((long)index * DType.SizeOf());

    /// <inheritdoc/>
    public override IBackend Backend => backend;

    /// <inheritdoc/>
    public override void Dispose()
    {
        Buffer.Dispose();
        base.Dispose();
    }
}
