using System.Collections.Concurrent;
using Engine.Cuda.Runtime;

namespace Engine.Cuda;

/// <summary>
/// Keeps freed device blocks for reuse instead of returning them to the driver (cuMemAlloc and cuMemFree are slow
/// and cuMemFree synchronises the device). Requests are rounded up to a bucket size; each bucket has a free list.
/// When the device runs out of memory the allocator collects garbage (dead tensors return their blocks), releases
/// every cached block and retries once before throwing <see cref="CudaOutOfMemoryException"/>.
/// </summary>
/// <remarks>
/// Blocks come back through a lock-free queue: a buffer's finalizer only enqueues its block and never calls the
/// driver (the finalizer thread has no CUDA context). The queue is drained on the next allocation, on a thread that
/// uses the device. All work runs on one stream, so a block reused by a later kernel is ordered after its last use.
/// </remarks>
public sealed class CachingAllocator
{
    /// <summary>Requests up to this size are rounded to 512 bytes; larger ones to a quarter of their power of two.</summary>
    public const long SmallLimit = 1 << 20;

    private readonly IDeviceMemory memory;
    private readonly Action collectGarbage;
    private readonly object gate = new();
    private readonly Dictionary<long, Stack<ulong>> free = new();
    private readonly ConcurrentQueue<(ulong pointer, long size)> returned = new();
    private long allocated, cached, peak, deviceAllocations, cacheHits, retries;

    internal CachingAllocator(IDeviceMemory memory, Action? collectGarbage = null)
    {
        this.memory = memory;
        this.collectGarbage = collectGarbage ?? (() => { GC.Collect(); GC.WaitForPendingFinalizers(); });
    }

    /// <summary>The size class a request is served from: a multiple of 512 up to 1 MiB, then steps of a quarter power of two.</summary>
    public static long BucketSize(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        if (bytes <= SmallLimit) return (bytes + 511) & ~511L;
        long p = 1L << (int)(63 - long.LeadingZeroCount(bytes));
        long step = p / 4;
        return (bytes + step - 1) / step * step;
    }

    /// <summary>Current counters (returned blocks still in the queue are counted as cached).</summary>
    public AllocatorStats Stats
    {
        get
        {
            lock (gate)
            {
                Drain();
                return new AllocatorStats(allocated, cached, peak, deviceAllocations, cacheHits, retries);
            }
        }
    }

    /// <summary>Sets the peak to the current allocated bytes.</summary>
    public void ResetPeak()
    {
        lock (gate) { Drain(); peak = allocated; }
    }

    /// <summary>Returns every cached (free) block to the device. Blocks in use are untouched.</summary>
    public void EmptyCache()
    {
        lock (gate)
        {
            Drain();
            ReleaseCached();
        }
    }

    /// <summary>A buffer of at least <paramref name="bytes"/> bytes; zero bytes gives an empty buffer.</summary>
    internal DeviceBuffer Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0) return new DeviceBuffer(this, 0, 0);
        var (pointer, size) = AllocateBlock(bytes);
        return new DeviceBuffer(this, pointer, size);
    }

    internal (ulong pointer, long size) AllocateBlock(long bytes)
    {
        long size = BucketSize(bytes);
        lock (gate)
        {
            Drain();
            if (TryTakeCached(size, out var p)) return (p, size);
            if (memory.TryAllocate(size, out p)) return Track(p, size);

            // Out of memory: let dead tensors hand their blocks back, try the cache again, then release it all and retry once.
            retries++;
            collectGarbage();
            Drain();
            if (TryTakeCached(size, out p)) return (p, size);
            ReleaseCached();
            if (memory.TryAllocate(size, out p)) return Track(p, size);
            throw new CudaOutOfMemoryException(bytes, new AllocatorStats(allocated, cached, peak, deviceAllocations, cacheHits, retries), memory.MemoryInfo());
        }
    }

    /// <summary>Queues a block for reuse. Safe on any thread, the finalizer thread included: it never calls the driver.</summary>
    internal void Return(ulong pointer, long size) => returned.Enqueue((pointer, size));

    private (ulong, long) Track(ulong pointer, long size)
    {
        deviceAllocations++;
        allocated += size;
        peak = Math.Max(peak, allocated);
        return (pointer, size);
    }

    private bool TryTakeCached(long size, out ulong pointer)
    {
        if (free.TryGetValue(size, out var stack) && stack.Count > 0)
        {
            pointer = stack.Pop();
            cached -= size;
            allocated += size;
            peak = Math.Max(peak, allocated);
            cacheHits++;
            return true;
        }
        pointer = 0;
        return false;
    }

    private void Drain()
    {
        while (returned.TryDequeue(out var block))
        {
            if (!free.TryGetValue(block.size, out var stack)) free[block.size] = stack = new Stack<ulong>();
            stack.Push(block.pointer);
            allocated -= block.size;
            cached += block.size;
        }
    }

    private void ReleaseCached()
    {
        foreach (var (size, stack) in free)
            while (stack.Count > 0)
            {
                memory.Free(stack.Pop());
                cached -= size;
            }
        free.Clear();
    }
}
