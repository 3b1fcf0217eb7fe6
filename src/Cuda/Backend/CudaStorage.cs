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

    /// <summary>
    /// For an int32 storage uploaded from the host (<see cref="CudaBackend.FromHost{T}"/>) and not written since: the
    /// uploaded values with their range, so index and target checks run on the host without reading the device.
    /// Null otherwise (a kernel's output, a storage written by <c>CopyInto</c>, or a large upload).
    /// </summary>
    internal HostIndices? Mirror { get; set; }

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

/// <summary>The host copy of an int32 upload and its smallest and largest value (see <see cref="CudaStorage.Mirror"/>).</summary>
internal sealed class HostIndices
{
    /// <summary>Uploads of at most this many ints keep a host copy (4 MiB).</summary>
    public const int MaxLength = 1 << 20;

    public HostIndices(int[] values)
    {
        Values = values;
        Min = int.MaxValue;
        Max = int.MinValue;
        foreach (int v in values)
        {
            if (v < Min) Min = v;
            if (v > Max) Max = v;
        }
    }

    public int[] Values { get; }
    public int Min { get; }
    public int Max { get; }

    /// <summary>True when every value (of the whole storage, so of any view of it) is in [0, size).</summary>
    public bool AllBelow(int size) => Values.Length == 0 || (Min >= 0 && Max < size);
}
