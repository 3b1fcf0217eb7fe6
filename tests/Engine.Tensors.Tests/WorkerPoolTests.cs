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
            RunOnPool(hits.Length, chunks, (s, e) =>
            {
                ranges.Add((s, e));
                for (int i = s; i < e; i++) Interlocked.Increment(ref hits[i]);
            });
            Assert.All(hits, h => Assert.Equal(1, h));
            var expected = Enumerable.Range(0, chunks).Select(c => (1000 * c / chunks, 1000 * (c + 1) / chunks)).ToHashSet();
            Assert.Equal(expected, ranges.ToHashSet());
        }
    }

    [Fact]
    public void AnExceptionInAChunkReachesTheCallerAndThePoolStaysUsable()
    {
        // The same unwrapped exception whichever pool runs the loop (this one, or the runtime's when it is busy).
        var fallback = Assert.Throws<InvalidOperationException>(() =>
            WorkerPool.Fallback(4, c => { if (c == 2) throw new InvalidOperationException("fallback chunk failed"); }));
        Assert.Equal("fallback chunk failed", fallback.Message);
        // Every chunk but the first fails (chunks are claimed by whichever thread is free, so workers throw too).
        var e = Assert.Throws<InvalidOperationException>(() =>
            RunOnPool(64, 4, (start, _) => { if (start > 0) throw new InvalidOperationException("chunk failed"); }));
        Assert.Equal("chunk failed", e.Message);
        int sum = 0;
        RunOnPool(64, 4, (start, end) => Interlocked.Add(ref sum, end - start));
        Assert.Equal(64, sum);
    }

    private static readonly AsyncLocal<string?> Flow = new();

    [Fact]
    public void WorkersStartedFromAFlowDoNotCarryItsAsyncLocals()
    {
        // Four chunks want three workers, more than a two-thread run starts, so this flow usually starts some (it cannot
        // where earlier tests already did); a worker started with Thread.Start would keep this flow's AsyncLocals (a
        // StorageScope, NoGrad, Autocast) for every job it runs afterwards, anyone's.
        Flow.Value = "caller's flow";
        int caller = Environment.CurrentManagedThreadId;
        var seen = new System.Collections.Concurrent.ConcurrentBag<(int thread, string? value)>();
        RunOnPool(64, 4, (_, _) =>
        {
            seen.Add((Environment.CurrentManagedThreadId, Flow.Value));
            Thread.SpinWait(2_000_000);   // long enough that parked workers wake and claim chunks
        });
        var onWorkers = seen.Where(s => s.thread != caller).ToList();
        Assert.NotEmpty(onWorkers);
        Assert.All(onWorkers, s => Assert.Null(s.value));
        Flow.Value = null;
    }

    /// <summary>Runs on Engine's pool, waiting while another test's loop holds it (tests run in parallel).</summary>
    private static void RunOnPool(int n, int chunks, Action<int, int> body)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (!WorkerPool.TryRun(n, chunks, body))
        {
            Assert.True(DateTime.UtcNow < until, "the worker pool stayed busy for 30 s");
            Thread.Yield();
        }
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
