namespace Engine;

/// <summary>
/// A flat buffer of elements on one device. Tensors are views (a <see cref="Layout"/>) over a storage;
/// several tensors may share one. Each backend has its own storage class.
/// </summary>
public abstract class Storage : IDisposable
{
    /// <summary>Creates a storage description.</summary>
    protected Storage(DType dtype, int length)
    {
        DType = dtype;
        Length = length;
        StorageScope.Track(this);
    }

    /// <summary>The backend that owns this storage and runs ops on it.</summary>
    public abstract IBackend Backend { get; }
    /// <summary>Element type.</summary>
    public DType DType { get; }
    /// <summary>Number of elements.</summary>
    public int Length { get; }
    /// <summary>The device the buffer lives on.</summary>
    public Device Device => Backend.Device;

    /// <summary>Releases device memory early; managed storages do nothing.</summary>
    public virtual void Dispose() => GC.SuppressFinalize(this);
}
