namespace Engine;

/// <summary>
/// Frees, when it ends, every storage created while it was the current scope on this flow: the intermediates of a
/// training step (activations, gradients, casts, the uploaded batch), whose device memory would otherwise wait for
/// the garbage collector, which does not see device memory. A storage that must outlive the scope is either created
/// under <see cref="Suspend"/> (caches such as RoPE tables) or named with <see cref="Keep"/>. Using a freed storage
/// afterwards throws <see cref="ObjectDisposedException"/>, on a device and on the host alike (a host op result gives
/// its array back to a pool that the next step reuses; an array a caller wrapped stays the caller's), so a scope
/// never makes a result silently wrong.
/// </summary>
/// <remarks>One scope per flow (an <see cref="AsyncLocal{T}"/>): nested scopes each free what they created.</remarks>
public sealed class StorageScope : IDisposable
{
    private static readonly AsyncLocal<StorageScope?> current = new();
    private readonly StorageScope? outer;
    // Host storages weakly: a temporary that dies during the scope is the collector's as before (holding every
    // intermediate until the end would raise the peak); what is still alive at the end goes back to the pool then.
    // Device storages strongly: the collector does not see device memory, so each one is freed at the end.
    private readonly List<WeakReference<Storage>> createdOnHost = [];
    private readonly List<Storage> createdOnDevice = [];
    private readonly HashSet<Storage> kept = new(ReferenceEqualityComparer.Instance);
    private bool ended;

    private StorageScope(StorageScope? outer) => this.outer = outer;

    /// <summary>Starts a scope on this flow; dispose it to free what was created in it.</summary>
    public static StorageScope Begin() => current.Value = new StorageScope(current.Value);

    /// <summary>Storages created until the returned handle is disposed belong to no scope (for caches that outlive it).</summary>
    public static IDisposable Suspend()
    {
        var saved = current.Value;
        var recording = createdInBackward.Value;
        current.Value = null;
        createdInBackward.Value = null;
        return new Restore(saved, recording);
    }

    /// <summary>Number of storages this scope has created so far.</summary>
    public int Created => createdOnHost.Count + createdOnDevice.Count;

    /// <summary>Exempts the storage of <paramref name="tensor"/> from this scope: it survives the scope's end.</summary>
    public void Keep(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        kept.Add(tensor.Storage);
    }

    // The storages a backward pass creates (gradients and its temporaries), so that it can free each one as soon
    // as nothing in the pass needs it; null outside a pass, and under Suspend (caches are never the pass's).
    private static readonly AsyncLocal<List<Storage>?> createdInBackward = new();

    /// <summary>Appends every storage created on this flow to <paramref name="into"/> until the handle is disposed.</summary>
    internal static IDisposable RecordCreated(List<Storage> into)
    {
        var saved = createdInBackward.Value;
        createdInBackward.Value = into;
        return new RestoreRecording(saved);
    }

    internal static void Track(Storage storage)
    {
        if (createdInBackward.Value is { } recording)
            lock (recording) recording.Add(storage);
        if (current.Value is not { ended: false } scope) return;
        if (storage.IsHostMemory) scope.createdOnHost.Add(new WeakReference<Storage>(storage));
        else scope.createdOnDevice.Add(storage);
    }

    /// <summary>Frees every storage created in the scope except the kept ones, and makes the outer scope current again.</summary>
    public void Dispose()
    {
        if (ended) return;
        ended = true;
        if (ReferenceEquals(current.Value, this)) current.Value = outer;
        foreach (var w in createdOnHost)
            if (w.TryGetTarget(out var s) && !kept.Contains(s)) s.Dispose();
        foreach (var s in createdOnDevice)
            if (!kept.Contains(s)) s.Dispose();
        createdOnHost.Clear();
        createdOnDevice.Clear();
    }

    private sealed class Restore(StorageScope? saved, List<Storage>? recording) : IDisposable
    {
        public void Dispose()
        {
            current.Value = saved;
            createdInBackward.Value = recording;
        }
    }

    private sealed class RestoreRecording(List<Storage>? saved) : IDisposable
    {
        public void Dispose() => createdInBackward.Value = saved;
    }
}
