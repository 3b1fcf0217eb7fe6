namespace Engine.Tests;

/// <summary>The threads behind EngineThreads.For: every index once, errors surface, nesting and concurrent callers work.</summary>
public class WorkerPoolTests
{
    [Fact]
    public void EveryIndexRunsExactlyOnceInFixedChunks()
    {
        foreach (int chunks in new[] { 2, 3, 7 })
        {
            var hits = new int[1000];
            var ranges = new System.Collections.Concurrent.ConcurrentBag<(int, int)>();
            Assert.True(WorkerPool.TryRun(hits.Length, chunks, (s, e) =>
            {
                ranges.Add((s, e));
                for (int i = s; i < e; i++) Interlocked.Increment(ref hits[i]);
            }));
            Assert.All(hits, h => Assert.Equal(1, h));
            var expected = Enumerable.Range(0, chunks).Select(c => (1000 * c / chunks, 1000 * (c + 1) / chunks)).ToHashSet();
            Assert.Equal(expected, ranges.ToHashSet());
        }
    }

    [Fact]
    public void AnExceptionInAChunkReachesTheCallerAndThePoolStaysUsable()
    {
        var e = Assert.Throws<InvalidOperationException>(() =>
            EngineThreads.For(64, 1 << 20, (s, _) => { if (s > 0) throw new InvalidOperationException("chunk failed"); }));
        Assert.Equal("chunk failed", e.Message);
        int sum = 0;
        EngineThreads.For(64, 1 << 20, (s, t) => Interlocked.Add(ref sum, t - s));
        Assert.Equal(64, sum);
    }

    [Fact]
    public void NestedAndConcurrentLoopsGiveTheSameResultsAsSerialOnes()
    {
        int saved = EngineThreads.Count;
        try
        {
            EngineThreads.Count = Math.Max(2, Environment.ProcessorCount);
            // nested: a chunk that runs its own parallel loop (the pool is busy, so the inner one takes the fallback)
            long total = 0;
            EngineThreads.For(8, 1 << 20, (s, e) =>
            {
                for (int i = s; i < e; i++)
                    EngineThreads.For(100, 1 << 20, (a, b) => { for (int j = a; j < b; j++) Interlocked.Add(ref total, j); });
            });
            Assert.Equal(8L * 4950, total);

            // four threads running matrix products at once: each gets the serial answer
            var a = Tensor.RandN([256, 128], 1UL);   // large enough to run in parallel
            var b = Tensor.RandN([128, 192], 2UL);
            var expected = a.MatMul(b).ToDoubleArray();
            var results = new double[4][];
            Parallel.For(0, 4, t => { for (int r = 0; r < 10; r++) results[t] = a.MatMul(b).ToDoubleArray(); });
            Assert.All(results, r => Assert.Equal(expected, r));
        }
        finally { EngineThreads.Count = saved; }
    }
}
