using System.Runtime.InteropServices;

namespace Engine.Cuda;

/// <summary>
/// One block of device memory from a <see cref="CachingAllocator"/>. Disposing it, or its finalizer, hands the
/// block back to the allocator's queue; neither calls the driver.
/// </summary>
internal sealed class DeviceBuffer : SafeHandle
{
    private readonly CachingAllocator owner;

    internal DeviceBuffer(CachingAllocator owner, ulong pointer, long size) : base(0, ownsHandle: true)
    {
        this.owner = owner;
        Size = size;
        SetHandle((nint)pointer);
    }

    /// <summary>The block's size (its bucket size, at least the requested bytes).</summary>
    public long Size { get; }

    /// <inheritdoc/>
    public override bool IsInvalid => handle == 0;

    /// <summary>The device address; throws once disposed.</summary>
    public ulong Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return (ulong)handle;
        }
    }

    /// <inheritdoc/>
    protected override bool ReleaseHandle()
    {
        owner.Return((ulong)handle, Size);
        return true;
    }
}
