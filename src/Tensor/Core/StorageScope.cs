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
    // Every storage strongly, on the host too. A host temporary that died during the scope is no cheaper left to
    // the collector: its array is large (the large-object heap, reclaimed only by gen-2 collections), and a weak
    // reference loses it at the first gen-0 collection, which collects the small storage object that held it. The
    // array then waits for a gen-2 collection while the next step allocates a new one. Held to the end, it goes
    // back to the pool and the next step reuses it.
    private readonly List<Storage> created = [];
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
    public int Created => created.Count;

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
        lock (scope.created) scope.created.Add(storage);
    }

    /// <summary>Frees every storage created in the scope except the kept ones, and makes the outer scope current again.</summary>
    public void Dispose()
    {
        if (ended) return;
        ended = true;
        if (ReferenceEquals(current.Value, this)) current.Value = outer;
        foreach (var s in created)
            if (!kept.Contains(s)) s.Dispose();
        created.Clear();
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
