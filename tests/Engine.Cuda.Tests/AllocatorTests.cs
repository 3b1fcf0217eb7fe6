using Engine.Cuda.Runtime;

namespace Engine.Cuda.Tests;

/// <summary>The caching allocator against a fake device: no GPU needed.</summary>
public class AllocatorTests
{
    /// <summary>Hands out increasing fake addresses up to a byte limit and records every call and its thread.</summary>
    private sealed class FakeMemory(long limit) : IDeviceMemory
    {
        private ulong next = 0x1000;
        public readonly Dictionary<ulong, long> Live = new();
        public readonly List<int> FreeThreads = new();
        public int AllocCalls, FailedAllocs, Frees;
        public long Limit = limit;
        public long Used => Live.Values.Sum();

        public bool TryAllocate(long bytes, out ulong pointer)
        {
            AllocCalls++;
            if (Used + bytes > Limit) { FailedAllocs++; pointer = 0; return false; }
            pointer = next;
            next += (ulong)bytes;
            Live[pointer] = bytes;
            return true;
        }

        public void Free(ulong pointer)
        {
            Assert.True(Live.Remove(pointer), $"free of unknown pointer {pointer:x}");
            Frees++;
            FreeThreads.Add(Environment.CurrentManagedThreadId);
        }

        public string MemoryInfo() => $"fake device: {Used} of {Limit} bytes used";
    }

    [Theory]
    [InlineData(1, 512)]
    [InlineData(512, 512)]
    [InlineData(513, 1024)]
    [InlineData(1 << 20, 1 << 20)]
    [InlineData((1 << 20) + 1, 1310720)] // 1 MiB + 1 → next quarter step of 1 MiB (1.25 MiB)
    [InlineData(3 << 20, 3 << 20)]
    [InlineData((3 << 20) + 5, 3670016)] // quarter step of 2 MiB is 512 KiB → 3.5 MiB
    public void BucketSizesRoundUp(long request, long bucket) => Assert.Equal(bucket, CachingAllocator.BucketSize(request));

    [Fact]
    public void FreedBlocksAreReusedAndCounted()
    {
        var fake = new FakeMemory(1 << 30);
        var alloc = new CachingAllocator(fake, () => { });
        var a = alloc.Allocate(1000);
        var b = alloc.Allocate(3000);
        Assert.Equal(1024 + 3072, alloc.Stats.AllocatedBytes);
        ulong pa = a.Pointer;
        a.Dispose();
        var s = alloc.Stats;
        Assert.Equal(3072, s.AllocatedBytes);
        Assert.Equal(1024, s.CachedBytes);
        Assert.Equal(4096, s.PeakAllocatedBytes);
        var c = alloc.Allocate(900); // same 1024 bucket: served from the cache
        Assert.Equal(pa, c.Pointer);
        Assert.Equal(2, fake.AllocCalls);
        Assert.Equal(1, alloc.Stats.CacheHits);
        Assert.Equal(0, alloc.Stats.CachedBytes);
        b.Dispose(); c.Dispose();
        Assert.Equal(0, alloc.Stats.AllocatedBytes);
        Assert.Equal(4096, alloc.Stats.CachedBytes);
        Assert.Equal(0, fake.Frees);
        alloc.EmptyCache();
        Assert.Equal(2, fake.Frees);
        Assert.Empty(fake.Live);
        Assert.Equal(new AllocatorStats(0, 0, 4096, 2, 1, 0), alloc.Stats);
    }

    [Fact]
    public void ZeroBytesNeedNoDeviceMemory()
    {
        var fake = new FakeMemory(0);
        var alloc = new CachingAllocator(fake, () => { });
        using var empty = alloc.Allocate(0);
        Assert.Equal(0UL, empty.Pointer);
        Assert.Equal(0, fake.AllocCalls);
    }

    [Fact]
    public void OutOfMemoryReleasesTheCacheAndRetriesOnce()
    {
        var fake = new FakeMemory(8192);
        int collections = 0;
        var alloc = new CachingAllocator(fake, () => collections++);
        var small = alloc.Allocate(4096);
        small.Dispose(); // cached, still held from the device
        using var big = alloc.Allocate(6000); // needs 6144: fits only once the cached 4096 go back
        Assert.Equal(1, collections);
        Assert.Equal(1, fake.Frees);
        Assert.Equal(1, alloc.Stats.OutOfMemoryRetries);
        Assert.Equal(6144, alloc.Stats.AllocatedBytes);
        Assert.Equal(0, alloc.Stats.CachedBytes);
    }

    [Fact]
    public void OutOfMemoryAfterTheRetryThrowsWithSizeAndStats()
    {
        var fake = new FakeMemory(4096);
        var alloc = new CachingAllocator(fake, () => { });
        using var held = alloc.Allocate(4096);
        var e = Assert.Throws<CudaOutOfMemoryException>(() => alloc.Allocate(10_000));
        Assert.Equal(10_000, e.RequestedBytes);
        Assert.Equal(4096, e.Stats.AllocatedBytes);
        Assert.Contains("10000 bytes", e.Message);
        Assert.Contains("allocated 4.0 KiB", e.Message);
        Assert.Contains("fake device: 4096 of 4096", e.Message);
        Assert.Equal(2, fake.FailedAllocs); // the first try and exactly one retry
    }

    [Fact]
    public void OutOfMemoryCollectsGarbageSoDeadBuffersReturnTheirBlocks()
    {
        var fake = new FakeMemory(4096);
        CachingAllocator? alloc = null;
        alloc = new CachingAllocator(fake, () => { GC.Collect(); GC.WaitForPendingFinalizers(); });
        AllocateAndDrop(alloc);
        using var again = alloc.Allocate(4096); // only possible if the dropped buffer came back through its finalizer
        Assert.Equal(1, fake.AllocCalls - fake.FailedAllocs);
        Assert.Equal(1, alloc.Stats.CacheHits);

        static void AllocateAndDrop(CachingAllocator a) => a.Allocate(4096);
    }

    [Fact]
    public void FinalizersOnlyQueueBlocksAndNeverCallTheDevice()
    {
        var fake = new FakeMemory(1 << 20);
        var alloc = new CachingAllocator(fake, () => { });
        for (int i = 0; i < 10; i++) AllocateAndDrop(alloc);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Equal(0, fake.Frees); // finalizers ran, nothing was freed on their thread
        var s = alloc.Stats; // drains the queue
        Assert.Equal(0, s.AllocatedBytes);
        Assert.Equal(10 * 512, s.CachedBytes);
        alloc.EmptyCache();
        Assert.Equal(10, fake.Frees);
        Assert.All(fake.FreeThreads, t => Assert.Equal(Environment.CurrentManagedThreadId, t));

        static void AllocateAndDrop(CachingAllocator a) => a.Allocate(100);
    }

    [Fact]
    public void ResetPeakStartsFromTheCurrentAllocation()
    {
        var alloc = new CachingAllocator(new FakeMemory(1 << 20), () => { });
        var a = alloc.Allocate(2048);
        using var b = alloc.Allocate(512);
        a.Dispose();
        Assert.Equal(2560, alloc.Stats.PeakAllocatedBytes);
        alloc.ResetPeak();
        Assert.Equal(512, alloc.Stats.PeakAllocatedBytes);
    }

    [Fact]
    public void DisposedBufferRefusesItsPointer()
    {
        var alloc = new CachingAllocator(new FakeMemory(1 << 20), () => { });
        var a = alloc.Allocate(10);
        a.Dispose();
        Assert.Throws<ObjectDisposedException>(() => a.Pointer);
    }
}
