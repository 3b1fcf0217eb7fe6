namespace Engine;

/// <summary>
/// How many threads CPU kernels use. Default: all cores. Results are deterministic for a fixed count:
/// work is split into the same fixed chunks whatever the scheduling.
/// </summary>
public static class EngineThreads
{
    private static int count = Environment.ProcessorCount;

    /// <summary>Threads per kernel (1 = single-threaded).</summary>
    public static int Count
    {
        get => count;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), value, "EngineThreads.Count must be at least 1");
            count = value;
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/>(start, end) over [0, n) split into at most <see cref="Count"/> equal chunks,
    /// in parallel when the work (n · <paramref name="costPerItem"/>) is large enough to pay for it.
    /// </summary>
    public static void For(int n, long costPerItem, Action<int, int> body)
    {
        int chunks = (int)Math.Min(Math.Min(count, n), Math.Max(1, n * costPerItem / 32_768));
        if (chunks <= 1) { if (n > 0) body(0, n); return; }
        if (WorkerPool.TryRun(n, chunks, body)) return;
        Fallback(n, chunks, body);
    }

    /// <summary>
    /// The pool is busy (a call from inside a chunk, or another thread's op): the runtime's pool does it. A method of
    /// its own, so that the lambda's captured variables are allocated only here, not on every call of <see cref="For"/>.
    /// </summary>
    private static void Fallback(int n, int chunks, Action<int, int> body) =>
        WorkerPool.Fallback(chunks, c => WorkerPool.Chunk(n, chunks, c, body));
}
