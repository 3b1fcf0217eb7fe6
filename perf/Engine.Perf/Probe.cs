using System.Runtime.InteropServices;
using Engine.Cpu;

namespace Engine.Perf;

/// <summary>
/// `probe [m n k] [threads]`: times Gemm.Compute alone (no allocation) and reports GFLOP/s by wall clock and by this
/// thread's CPU time; on a shared machine the CPU-time figure is the stabler one for tuning a 1-thread kernel.
/// </summary>
internal static class Probe
{
    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec { public long Sec; public long NSec; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec ts);

    private static double ThreadCpuSeconds()
    {
        const int ClockThreadCpuTime = 3;
        ClockGetTime(ClockThreadCpuTime, out var ts);
        return ts.Sec + ts.NSec * 1e-9;
    }

    public static int Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "kernel") return Kernel(args.Length > 1 ? int.Parse(args[1]) : Gemm.KC, args.Length > 2 ? int.Parse(args[2]) : 0);
        int m = args.Length > 0 ? int.Parse(args[0]) : 1024, n = args.Length > 1 ? int.Parse(args[1]) : m, k = args.Length > 2 ? int.Parse(args[2]) : m;
        int threads = args.Length > 3 ? int.Parse(args[3]) : 1;
        string layout = args.Length > 4 ? args[4] : "nn";
        var rng = new Random(1);
        var a = new float[m * k]; var b = new float[k * n]; var c = new float[m * n];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f;
        for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble() - 0.5f;
        // nn: A [m,k], B [k,n]; tn: A stored [k,m]; nt: B stored [n,k].
        (int ars, int acs) = layout[0] == 't' ? (1, m) : (k, 1);
        (int brs, int bcs) = layout[1] == 't' ? (1, k) : (n, 1);
        void Call() => Gemm.Compute(m, n, k, a, 0, ars, acs, b, 0, brs, bcs, c, 0, n, false, threads);
        // warm up for a second so the tiered JIT has promoted the driver loops (OSR code at first) before timing
        long w0 = System.Diagnostics.Stopwatch.GetTimestamp();
        while (System.Diagnostics.Stopwatch.GetElapsedTime(w0).TotalSeconds < 1) Call();
        double flops = 2.0 * m * n * k;
        int reps = Math.Max(1, (int)(2e9 / flops));
        var wall = new List<double>(); var cpu = new List<double>(); var ratio = new List<double>();
        for (int s = 0; s < 9; s++)
        {
            double peak = threads == 1 ? FmaPeak.GFlopsOnce(4_000_000) : double.NaN;
            double c0 = ThreadCpuSeconds();
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            for (int r = 0; r < reps; r++) Call();
            wall.Add(System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds / reps);
            cpu.Add((ThreadCpuSeconds() - c0) / reps);
            ratio.Add(flops / wall[^1] / 1e9 / peak);
        }
        Console.WriteLine($"{m}x{n}x{k} {layout} threads={threads}: wall {flops / Timing.Median(wall) / 1e9:F1} GFLOP/s (best {flops / wall.Min() / 1e9:F1}), " +
                          $"thread-cpu {flops / Timing.Median(cpu) / 1e9:F1} GFLOP/s, vs FMA peak measured alternately {Timing.Median(ratio) * 100:F0} % (1-thread runs only)");
        return 0;
    }

    /// <summary>
    /// `probe kernel [kc] [lda]`: the Vector512 (else Vector256) micro-kernel alone, one packed A sliver against a
    /// packed B sliver that stay in cache, C overwritten: the rate the blocked product would reach if packing,
    /// streaming from L2 and C's traffic cost nothing. With lda &gt; 0, the kernel that reads A in place (RunDirect)
    /// on rows lda floats apart.
    /// </summary>
    private static unsafe int Kernel(int kc, int lda)
    {
        bool wide = GemmKernels.Kernel512<float>.IsSupported;
        int mr = wide ? GemmKernels.Kernel512<float>.MR : GemmKernels.Kernel256<float>.MR;
        int nr = wide ? GemmKernels.Kernel512<float>.NR : GemmKernels.Kernel256<float>.NR;
        const int Slivers = 1;
        if (lda != 0 && lda < kc) throw new ArgumentException($"probe kernel: lda must be at least kc ({kc}), got {lda}");
        var a = GC.AllocateArray<float>(Math.Max(kc * mr, lda * mr) + 16, pinned: true);
        var b = GC.AllocateArray<float>(kc * nr * Slivers + 16, pinned: true);
        var c = GC.AllocateArray<float>(mr * nr * Slivers + 16, pinned: true);
        var rng = new Random(1);
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble();
        for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble();
        fixed (float* pa0 = a, pb0 = b, pc0 = c)
        {
            float* pa = (float*)(((nint)pa0 + 63) & ~(nint)63), pb = (float*)(((nint)pb0 + 63) & ~(nint)63), pc = (float*)(((nint)pc0 + 63) & ~(nint)63);
            long calls = 0;
            void Calls(int count)
            {
                for (int r = 0; r < count; r++)
                    for (int s = 0; s < Slivers; s++)
                        if (lda > 0)
                        {
                            if (wide) GemmKernels.Kernel512<float>.RunDirect(kc, pa, lda, 1, pb + s * kc * nr, pc + s * nr, nr * Slivers, nr, false, null);
                            else GemmKernels.Kernel256<float>.RunDirect(kc, pa, lda, 1, pb + s * kc * nr, pc + s * nr, nr * Slivers, nr, false, null);
                        }
                        else if (wide) GemmKernels.Kernel512<float>.Run(kc, pa, pb + s * kc * nr, pc + s * nr, nr * Slivers, mr, nr, false, null);
                        else GemmKernels.Kernel256<float>.Run(kc, pa, pb + s * kc * nr, pc + s * nr, nr * Slivers, mr, nr, false, null);
                calls += count * Slivers;
            }
            long w0 = System.Diagnostics.Stopwatch.GetTimestamp();
            while (System.Diagnostics.Stopwatch.GetElapsedTime(w0).TotalSeconds < 1) Calls(100);
            int reps = Math.Max(1, (int)(2e9 / (2.0 * mr * nr * kc * Slivers)));
            var rates = new List<double>(); var ratio = new List<double>();
            for (int i = 0; i < 9; i++)
            {
                double peak = FmaPeak.GFlopsOnce(4_000_000);
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                Calls(reps);
                double g = 2.0 * mr * nr * kc * Slivers * reps / System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9;
                rates.Add(g); ratio.Add(g / peak);
            }
            Console.WriteLine($"micro-kernel {mr}x{nr} kc={kc}{(lda > 0 ? $", A read in place, rows {lda} apart" : "")} ({(wide ? "Vector512" : "Vector256")}): {Timing.Median(rates):F1} GFLOP/s, vs FMA peak measured alternately {Timing.Median(ratio) * 100:F0} %");
        }
        return 0;
    }
}
