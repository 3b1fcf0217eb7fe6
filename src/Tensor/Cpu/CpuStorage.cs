namespace Engine.Cpu;

/// <summary>
/// A CPU buffer: a managed array. When the array came from the op-result pool (an op made it), <see cref="Dispose"/>
/// gives it back for reuse and the storage is unusable afterwards (<see cref="Data"/> throws
/// <see cref="ObjectDisposedException"/>, never another tensor's numbers); an array a caller wrapped stays the
/// caller's, and disposing such a storage does nothing.
/// </summary>
/// <typeparam name="T">float, double, int or bfloat16.</typeparam>
public sealed class CpuStorage<T> : Storage where T : unmanaged
{
    private readonly T[] data;
    private readonly bool pooled;
    private int freed;   // 0 or 1; set once (Interlocked), so an array is never given back twice

    /// <summary>Wraps an array (not copied).</summary>
    public CpuStorage(T[] data) : base(DTypes.Of<T>(), data.Length)
    {
        this.data = data;
        pooled = CpuArrayPool.TakeOwnership(data);
    }

    /// <summary>The elements.</summary>
    /// <exception cref="ObjectDisposedException">The storage was freed (by its <see cref="StorageScope"/>).</exception>
    public T[] Data
    {
        get
        {
            if (freed != 0) throw new ObjectDisposedException(nameof(CpuStorage<T>), $"cpu storage of {data.Length} {DType.Name()} elements: it was freed when the StorageScope that created it ended; keep it with StorageScope.Keep or create it outside the scope");
            return data;
        }
    }

    /// <inheritdoc/>
    public override IBackend Backend => CpuBackend.Instance;


    /// <inheritdoc/>
    public override void Dispose()
    {
        if (pooled && Interlocked.Exchange(ref freed, 1) == 0) CpuArrayPool.Return(data);
        base.Dispose();
    }
}
