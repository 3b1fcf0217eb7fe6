using System.Runtime.ExceptionServices;

namespace Engine;

/// <summary>
/// The threads behind <see cref="EngineThreads.For"/>: one job at a time, split into fixed chunks that the caller
/// and parked worker threads claim in turn. A training step runs thousands of parallel loops; the runtime's
/// <c>Parallel.For</c> allocates its task machinery for each (about a kilobyte), this pool nothing: one job object
/// serves every loop in turn. Chunk boundaries depend only on n and the chunk count, so results do not depend on
/// which thread ran what.
/// </summary>
internal static class WorkerPool
{
    /// <summary>
    /// The parallel loop in progress, reused by every loop (only the caller holding <see cref="busy"/> fills it).
    /// A worker may still hold it from an earlier loop when the next one starts; it can never mix the two, because
    /// chunks are claimed only through <see cref="Next"/>, which stays <see cref="Closed"/> from the end of one loop
    /// until the next one's fields are all written, and is opened by a full fence after them.
    /// </summary>
    private sealed class Job
    {
        public Action<int, int> Body = NoBody;
        public int N, Chunks;
        public int Next = Closed;   // the next chunk to claim
        public int Unfinished;
        public ExceptionDispatchInfo? Failure;
    }

    /// <summary>A <see cref="Job.Next"/> past any chunk count: every claim fails.</summary>
    private const int Closed = int.MaxValue / 2;

    private static readonly Action<int, int> NoBody = (_, _) => { };
    private static readonly Job TheJob = new();
    private static readonly Lock Gate = new();
    private static readonly SemaphoreSlim Wake = new(0);
    private static int busy;      // 1 while a loop owns the pool
    private static long posted;   // the number of the loop in progress (0 when none); workers compare numbers, not objects
    private static long loops;    // loops posted so far (written by the owner of busy)

    /// <summary>The [start, end) range of chunk <paramref name="c"/> of <paramref name="chunks"/> over [0, n).</summary>
    public static void Chunk(int n, int chunks, int c, Action<int, int> body) =>
        body((int)((long)n * c / chunks), (int)((long)n * (c + 1) / chunks));

    /// <summary>Runs <paramref name="body"/>(t) for every t in [0, <paramref name="chunks"/>) on the pool (or the runtime's when busy).</summary>
    public static void ForEachChunk(int chunks, Action<int> body)
    {
        if (chunks <= 1) { if (chunks == 1) body(0); return; }
        EachChunk(chunks, body);
    }

    /// <summary>The parallel part of <see cref="ForEachChunk"/>, apart so that a single chunk allocates no closure.</summary>
    private static void EachChunk(int chunks, Action<int> body)
    {
        void Range(int start, int end) { for (int t = start; t < end; t++) body(t); }
        if (!TryRun(chunks, chunks, Range)) Fallback(chunks, body);
    }

    /// <summary>
    /// The runtime's pool for a loop that found this one busy, throwing what a chunk threw as the pool does (the
    /// first failure, not wrapped), so a caller sees the same exception whichever pool ran its loop.
    /// </summary>
    public static void Fallback(int chunks, Action<int> body)
    {
        try
        {
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = chunks }, body);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }

    /// <summary>
    /// Whether a loop is running on the pool (this call may be inside one of its chunks): a helper that would split a
    /// small job across threads does it serially then, rather than through the runtime's pool.
    /// </summary>
    public static bool IsBusy => Volatile.Read(ref busy) != 0;

    /// <summary>Runs the loop on the pool and returns true, or returns false at once if the pool is in use.</summary>
    public static bool TryRun(int n, int chunks, Action<int, int> body)
    {
        if (Interlocked.CompareExchange(ref busy, 1, 0) != 0) return false;
        try
        {
            EnsureThreads(chunks - 1);
            var job = TheJob;   // Next is Closed: a late worker's claim fails while the fields change
            job.Body = body;
            job.N = n;
            job.Chunks = chunks;
            job.Unfinished = chunks;
            job.Failure = null;
            Interlocked.Exchange(ref job.Next, 0);          // a full fence: a claim that succeeds sees the fields above
            Interlocked.Exchange(ref posted, ++loops);      // a full fence: the read of sleepers below comes after it
            int asleep = Volatile.Read(ref sleepers);
            if (asleep > 0) Wake.Release(Math.Min(asleep, chunks - 1));
            Work(job);
            // The others' chunks are about as long as ours: spin (yielding, never sleeping) until they end.
            var spin = new SpinWait();
            while (Volatile.Read(ref job.Unfinished) > 0) spin.SpinOnce(sleep1Threshold: -1);
            Interlocked.Exchange(ref job.Next, Closed);     // every chunk is done: no claim succeeds until the next loop
            Volatile.Write(ref posted, 0);
            var failure = job.Failure;
            job.Body = NoBody;                              // let go of the loop's captured state
            job.Failure = null;
            failure?.Throw();
            return true;
        }
        finally
        {
            Volatile.Write(ref busy, 0);
        }
    }

    private static void EnsureThreads(int wanted)
    {
        if (Volatile.Read(ref started) >= wanted) return;
        lock (Gate)
        {
            // UnsafeStart: a worker must not carry the starting flow's AsyncLocals (its StorageScope, NoGrad,
            // Autocast) into the chunks it later runs for every other caller.
            for (int i = started; i < wanted; i++)
                new Thread(Loop) { IsBackground = true, Name = $"Engine worker {i + 1}" }.UnsafeStart();
            if (wanted > started) Volatile.Write(ref started, wanted);
        }
    }

    private static int started;   // worker threads running (they never exit)

    private static int sleepers;   // workers blocked (or about to block) on Wake

    /// <summary>How long a worker keeps looking for the next job before it blocks (a step's loops come back to back).</summary>
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 5_000;   // 200 µs

    private static void Loop()
    {
        long last = 0;
        while (true)
        {
            long loop = Volatile.Read(ref posted);
            if (loop != 0 && loop != last)
            {
                last = loop;
                Work(TheJob);   // if that loop has ended meanwhile, the claims fail (or help the next one)
                continue;
            }
            if (SpinForNext(last)) continue;
            Interlocked.Increment(ref sleepers);   // a full fence: the caller either sees us asleep or we see its loop
            long now = Volatile.Read(ref posted);
            if (now == 0 || now == last) Wake.Wait();
            Interlocked.Decrement(ref sleepers);
        }
    }

    private static bool SpinForNext(long last)
    {
        long until = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
        var spin = new SpinWait();
        do
        {
            long loop = Volatile.Read(ref posted);
            if (loop != 0 && loop != last) return true;
            spin.SpinOnce(sleep1Threshold: -1);
        }
        while (System.Diagnostics.Stopwatch.GetTimestamp() < until);
        return false;
    }

    /// <summary>Claims and runs chunks of <paramref name="job"/> until none is left.</summary>
    private static void Work(Job job)
    {
        while (true)
        {
            int c = Interlocked.Increment(ref job.Next) - 1;
            if (c >= job.Chunks) return;
            try { Chunk(job.N, job.Chunks, c, job.Body); }
            catch (Exception e) { Interlocked.CompareExchange(ref job.Failure, ExceptionDispatchInfo.Capture(e), null); }
            Interlocked.Decrement(ref job.Unfinished);
        }
    }
}
