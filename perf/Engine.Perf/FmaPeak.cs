using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Perf;

/// <summary>
/// The physical limit for float32 arithmetic: a loop of fused multiply-adds on 12 independent vector accumulators
/// (enough to hide the FMA latency on two FMA ports), nothing loaded or stored. Vector512 where the hardware
/// accelerates it, else Vector256.
/// </summary>
internal static class FmaPeak
{
    /// <summary>Float32 GFLOP/s of <paramref name="threads"/> threads running the loop at once (median of 7).</summary>
    public static double GFlops(int threads)
    {
        const long iters = 20_000_000;
        double flopsPerThread = iters * 12.0 * 2 * (Vector512.IsHardwareAccelerated ? 16 : 8);
        Loop(1000); // JIT warm-up
        var samples = new List<double>();
        for (int s = 0; s < 7; s++)
        {
            using var start = new Barrier(threads + 1);
            var workers = new Thread[threads];
            for (int t = 0; t < threads; t++)
            {
                workers[t] = new Thread(() => { start.SignalAndWait(); Sink(Loop(iters)); });
                workers[t].Start();
            }
            start.SignalAndWait();
            long t0 = Stopwatch.GetTimestamp();
            foreach (var w in workers) w.Join();
            samples.Add(threads * flopsPerThread / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9);
        }
        return Timing.Median(samples);
    }

    /// <summary>One timed run of the loop on the calling thread, in GFLOP/s.</summary>
    public static double GFlopsOnce(long iters)
    {
        long t0 = Stopwatch.GetTimestamp();
        Sink(Loop(iters));
        return iters * 12.0 * 2 * (Vector512.IsHardwareAccelerated ? 16 : 8) / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9;
    }

    private static volatile float sink;
    private static void Sink(float x) => sink = x;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop(long iters) =>
        Vector512.IsHardwareAccelerated ? Loop512(iters) : Loop256(iters);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop512(long iters)
    {
        var m = Vector512.Create(0.999999f); var d = Vector512.Create(1e-6f);
        Vector512<float> a0 = Vector512.Create(1f), a1 = a0 + d, a2 = a1 + d, a3 = a2 + d, a4 = a3 + d, a5 = a4 + d,
            a6 = a5 + d, a7 = a6 + d, a8 = a7 + d, a9 = a8 + d, a10 = a9 + d, a11 = a10 + d;
        for (long i = 0; i < iters; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, d); a1 = Vector512.FusedMultiplyAdd(a1, m, d);
            a2 = Vector512.FusedMultiplyAdd(a2, m, d); a3 = Vector512.FusedMultiplyAdd(a3, m, d);
            a4 = Vector512.FusedMultiplyAdd(a4, m, d); a5 = Vector512.FusedMultiplyAdd(a5, m, d);
            a6 = Vector512.FusedMultiplyAdd(a6, m, d); a7 = Vector512.FusedMultiplyAdd(a7, m, d);
            a8 = Vector512.FusedMultiplyAdd(a8, m, d); a9 = Vector512.FusedMultiplyAdd(a9, m, d);
            a10 = Vector512.FusedMultiplyAdd(a10, m, d); a11 = Vector512.FusedMultiplyAdd(a11, m, d);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop256(long iters)
    {
        var m = Vector256.Create(0.999999f); var d = Vector256.Create(1e-6f);
        Vector256<float> a0 = Vector256.Create(1f), a1 = a0 + d, a2 = a1 + d, a3 = a2 + d, a4 = a3 + d, a5 = a4 + d,
            a6 = a5 + d, a7 = a6 + d, a8 = a7 + d, a9 = a8 + d, a10 = a9 + d, a11 = a10 + d;
        for (long i = 0; i < iters; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, d); a1 = Vector256.FusedMultiplyAdd(a1, m, d);
            a2 = Vector256.FusedMultiplyAdd(a2, m, d); a3 = Vector256.FusedMultiplyAdd(a3, m, d);
            a4 = Vector256.FusedMultiplyAdd(a4, m, d); a5 = Vector256.FusedMultiplyAdd(a5, m, d);
            a6 = Vector256.FusedMultiplyAdd(a6, m, d); a7 = Vector256.FusedMultiplyAdd(a7, m, d);
            a8 = Vector256.FusedMultiplyAdd(a8, m, d); a9 = Vector256.FusedMultiplyAdd(a9, m, d);
            a10 = Vector256.FusedMultiplyAdd(a10, m, d); a11 = Vector256.FusedMultiplyAdd(a11, m, d);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
