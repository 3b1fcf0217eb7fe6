namespace Engine.Cuda;

/// <summary>A snapshot of a caching allocator's counters.</summary>
/// <param name="AllocatedBytes">Bytes in blocks handed out and not yet returned (bucket sizes).</param>
/// <param name="CachedBytes">Bytes in free blocks kept for reuse.</param>
/// <param name="PeakAllocatedBytes">The largest <paramref name="AllocatedBytes"/> seen since creation or the last reset.</param>
/// <param name="DeviceAllocations">Calls that reached the device allocator (cache misses).</param>
/// <param name="CacheHits">Allocations served from the cache.</param>
/// <param name="OutOfMemoryRetries">Times the cache was flushed to retry an allocation that ran out of memory.</param>
public readonly record struct AllocatorStats(long AllocatedBytes, long CachedBytes, long PeakAllocatedBytes,
    long DeviceAllocations, long CacheHits, long OutOfMemoryRetries)
{
    /// <summary>Bytes held from the device: allocated plus cached.</summary>
    public long ReservedBytes => AllocatedBytes + CachedBytes;

    /// <inheritdoc/>
    public override string ToString() =>
        $"allocated {FormatBytes(AllocatedBytes)}, cached {FormatBytes(CachedBytes)}, peak {FormatBytes(PeakAllocatedBytes)}, " +
        $"device allocations {DeviceAllocations}, cache hits {CacheHits}, out-of-memory retries {OutOfMemoryRetries}";

    /// <summary>Bytes as B, KiB, MiB or GiB with one decimal.</summary>
    public static string FormatBytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.0} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / (1024.0 * 1024):0.0} MiB",
        _ => $"{bytes / (1024.0 * 1024 * 1024):0.0} GiB",
    };
}
