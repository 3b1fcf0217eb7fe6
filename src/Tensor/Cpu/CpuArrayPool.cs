using System.Runtime.CompilerServices;

namespace Engine.Cpu;

/// <summary>
/// Host arrays for op results, reused across training steps. A training step creates the same buffers every time,
/// and large ones land on the large-object heap, which only gen-2 collections reclaim; when a step's
/// <see cref="StorageScope"/> frees its storages, their arrays come back here and the next step takes them again.
/// Only arrays this pool handed out are ever taken back (<see cref="TakeOwnership"/>), so a caller's own array is
/// never reused behind its back. Keyed by element type and exact length; bounded in bytes.
/// </summary>
internal static class CpuArrayPool
{
    /// <summary>Arrays shorter than this go to the garbage collector as before (gen 0 handles them cheaply).</summary>
    public const int MinLength = 1024;

    /// <summary>The most bytes kept for reuse; beyond it a returned array is left to the collector.</summary>
    public const long MaxPooledBytes = 2L << 30;

    private static readonly Lock Gate = new();
    private static readonly Dictionary<(Type, int), Stack<Array>> Free = [];
    private static readonly ConditionalWeakTable<Array, object> Rented = new();
    private static readonly object Mark = new();
    private static long pooledBytes;

    /// <summary>An array of <paramref name="length"/> zeros.</summary>
    public static T[] Rent<T>(int length) where T : unmanaged
    {
        if (TryTake<T>(length) is not { } a) return Track(CountNew(new T[length]));
        Clear(a);
        return a;
    }

    /// <summary>Elements from which a clear is shared among the threads (2 MiB of float).</summary>
    private const int ParallelClear = 1 << 19;

    /// <summary>Zeros <paramref name="a"/>, a large one by all threads: a serial clear of megabytes (a gradient's zero padding) left the other cores idle.</summary>
    private static void Clear<T>(T[] a) where T : unmanaged
    {
        if (a.Length < ParallelClear || EngineThreads.Count == 1 || WorkerPool.IsBusy) Array.Clear(a);
        else CpuBackend.ForEachChunk(a.Length, (start, length) => a.AsSpan(start, length).Clear());
    }

    /// <summary>An array of <paramref name="length"/> whose elements the caller overwrites before reading.</summary>
    public static T[] RentUninitialized<T>(int length) where T : unmanaged =>
        TryTake<T>(length) ?? Track(CountNew(GC.AllocateUninitializedArray<T>(length)));

    /// <summary>
    /// Scratch space an op uses and gives back with <see cref="Return{T}"/> before it returns (never wrapped in a
    /// storage, so it skips the ownership table); elements are not cleared.
    /// </summary>
    public static T[] RentScratch<T>(int length) where T : unmanaged
    {
        if (length >= MinLength && Pop<T>(length) is { } a) return a;
        return CountNew(GC.AllocateUninitializedArray<T>(length));
    }

    /// <summary>A pooled copy of <paramref name="source"/>.</summary>
    public static T[] Copy<T>(ReadOnlySpan<T> source) where T : unmanaged
    {
        var a = RentUninitialized<T>(source.Length);
        source.CopyTo(a);
        return a;
    }

    /// <summary>True (once) when <paramref name="array"/> came from this pool: its storage may give it back.</summary>
    public static bool TakeOwnership(Array array)
    {
        if (array.Length < MinLength) return false;
        return Rented.Remove(array);
    }

    /// <summary>Keeps <paramref name="array"/> for reuse (its owner has freed it).</summary>
    public static void Return<T>(T[] array) where T : unmanaged
    {
        if (array.Length < MinLength) return;   // never handed out by the pool (TryTake skips such lengths)
        long bytes = (long)array.Length * Unsafe.SizeOf<T>();
        lock (Gate)
        {
            if (pooledBytes + bytes > MaxPooledBytes) return;
            var key = (typeof(T), array.Length);
            if (!Free.TryGetValue(key, out var stack)) Free[key] = stack = new Stack<Array>();
            stack.Push(array);
            pooledBytes += bytes;
        }
    }

    private static T[]? TryTake<T>(int length) where T : unmanaged
    {
        if (length < MinLength) return null;
        var a = Pop<T>(length);
        return a is null ? null : Track(a);
    }

    private static T[]? Pop<T>(int length) where T : unmanaged
    {
        lock (Gate)
        {
            if (!Free.TryGetValue((typeof(T), length), out var stack) || stack.Count == 0) return null;
            pooledBytes -= (long)length * Unsafe.SizeOf<T>();
            return (T[])stack.Pop();
        }
    }

    [ThreadStatic] private static long newArrays, newBytes;

    /// <summary>Arrays of at least <see cref="MinLength"/> this thread had to allocate because the pool had none (for tests).</summary>
    public static long NewArraysOnThisThread => newArrays;

    /// <summary>Bytes of the arrays counted by <see cref="NewArraysOnThisThread"/>.</summary>
    public static long NewBytesOnThisThread => newBytes;

    /// <summary>Counts a fresh array the pool could not supply (arrays below <see cref="MinLength"/> are never pooled, so not counted).</summary>
    private static T[] CountNew<T>(T[] a) where T : unmanaged
    {
        if (a.Length < MinLength) return a;
        newArrays++;
        newBytes += (long)a.Length * Unsafe.SizeOf<T>();
        return a;
    }

    private static T[] Track<T>(T[] a)
    {
        if (a.Length >= MinLength) Rented.AddOrUpdate(a, Mark);
        return a;
    }
}
