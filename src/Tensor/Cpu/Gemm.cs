using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Engine.Cpu;

/// <summary>Which micro-kernel a product runs on (tests force the portable ones; <see cref="Auto"/> picks the widest).</summary>
internal enum GemmPath
{
    /// <summary>The widest kernel this CPU accelerates.</summary>
    Auto,
    /// <summary>AVX-512: 12×2 Vector512 register tile.</summary>
    Vector512,
    /// <summary>AVX2: 6×2 Vector256 register tile.</summary>
    Vector256,
    /// <summary>Portable scalar 4×4 tile.</summary>
    Scalar,
}

/// <summary>
/// The one entry point for dense matrix products on the CPU: C = A·B (or C += A·B) for row-major C and arbitrarily
/// strided A and B, so transposed views need no copy.
/// <para>
/// The structure is the classic one of Goto and van de Geijn (and BLIS): for each block of kc steps of k and nc
/// columns of C, a panel of B (kc × nc, about 1 MiB, sized for the L2 cache) is packed once into NR-wide slivers;
/// then for each MR-row sliver of A, packed into kc × MR (a few KiB, it stays in L1), the micro-kernel sweeps
/// the B slivers, keeping an MR × NR block of C in registers for the whole kc loop. Parallel over blocks of rows of C
/// (or of columns, for wide C), one region per product. When a row sliver meets only a few B slivers (narrow C,
/// e.g. attention's [256,256]·[256,32]) the kernel reads A in place rather than packing it. Every element of C is
/// computed by one thread in the same order whatever the thread count or blocking, so results do not depend on it.
/// </para>
/// </summary>
internal static unsafe class Gemm
{
    /// <summary>Steps of k per packed block: a 12×256 float A sliver is 12 KiB (L1), a 256×32 B sliver 32 KiB.</summary>
    internal const int KC = 256;

    /// <summary>Bytes of the packed B panel (kc × nc), kept in the per-core L2 cache.</summary>
    private const int PanelBytes = 1 << 20;

    /// <summary>
    /// A sweep over at most this many B slivers reads full A slivers in place instead of packing them: packing an
    /// MR×kc sliver costs about as much as one or two kernel calls, so it only pays when the sliver is reused often.
    /// </summary>
    private const int DirectMaxSlivers = 4;

    /// <summary>Short kc blocks (attention's head dimension) also read A in place: its rows are a few cache lines each.</summary>
    private const int DirectMaxK = 64;

    /// <summary>Rows of a transposed A packed together (<see cref="SweepGrouped{T, TKernel}"/>): a few cache lines per step of k, and 60 KiB of float slivers at kc = 256.</summary>
    private const int GroupRows = 64;

    /// <summary>
    /// For aᵀ·g with contiguous a [k, m] and g [k, n] (elements of <paramref name="elementSize"/> bytes): whether
    /// the [n, m] product gᵀ·a, seen transposed, runs faster. The orientation with fewer columns is preferred (its
    /// sweeps meet few B slivers, so the transposed operand is read in place), unless that operand's steps lie a
    /// multiple of 2 KiB apart: on a Zen 4 such in-place reads ran at 72 GFLOP/s against 88–99 for the other shapes
    /// of the same size (docs/performance.md).
    /// </summary>
    internal static bool TransposedProductIsFaster(int m, int n, int elementSize)
    {
        bool Aliased(int steps) => (long)steps * elementSize % 2048 == 0;
        // m < n: gᵀ·a has the fewer columns (m), its transposed operand g steps n apart; m > n: aᵀ·g has them and
        // is kept unless its operand a, m apart, aliases and g would not
        return m < n ? !Aliased(n) : m > n && Aliased(m) && !Aliased(n);
    }

    /// <summary>Multiply-adds per thread below which fewer threads are used (a parallel region costs microseconds).</summary>
    private const long ParallelMinWork = 1 << 20;

    [ThreadStatic] private static GemmPath forced;

    /// <summary>Forces the kernel for products started on this thread until the scope is disposed (tests).</summary>
    internal static PathScope Force(GemmPath path) => new(path);

    /// <summary>Restores the previous kernel choice of this thread when disposed.</summary>
    internal readonly struct PathScope : IDisposable
    {
        private readonly GemmPath previous;
        internal PathScope(GemmPath path) { previous = forced; forced = path; }
        /// <summary>Restores the previous choice.</summary>
        public void Dispose() => forced = previous;
    }

    /// <summary>Whether <paramref name="path"/> runs natively on this CPU for element type <typeparamref name="T"/>.</summary>
    internal static bool IsSupported<T>(GemmPath path) where T : unmanaged, IFloatingPointIeee754<T> => path switch
    {
        GemmPath.Vector512 => GemmKernels.Kernel512<T>.IsSupported,
        GemmPath.Vector256 => GemmKernels.Kernel256<T>.IsSupported,
        _ => true,
    };

    /// <summary>
    /// C[i, j] (+)= Σ_p A[i, p]·B[p, j] for i &lt; m, j &lt; n, p &lt; k, with A[i, p] = a[aOff + i·ars + p·acs],
    /// B[p, j] = b[bOff + p·brs + j·bcs] and C[i, j] = c[cOff + i·ldc + j]. Without <paramref name="accumulate"/> C is
    /// overwritten (also when k = 0). <paramref name="threads"/> ≤ 0 means <see cref="EngineThreads.Count"/>.
    /// With <paramref name="bias"/> (not with <paramref name="accumulate"/>), C[i, j] = bias[biasOff + j] + Σ_p …: the
    /// micro-kernel adds the bias to its register tile as it first stores it (the first block of k), instead of a pass
    /// over the whole of C (a linear layer's bias).
    /// </summary>
    public static void Compute<T>(int m, int n, int k,
        T[] a, int aOff, int ars, int acs,
        T[] b, int bOff, int brs, int bcs,
        T[] c, int cOff, int ldc, bool accumulate, int threads = 0, T[]? bias = null, int biasOff = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentOutOfRangeException(nameof(m), $"gemm: negative size m={m}, n={n}, k={k}");
        if (bias is not null && accumulate)
            throw new ArgumentException("gemm: a bias is added to an overwritten C only, not when accumulating", nameof(bias));
        if (m == 0 || n == 0) return;
        CheckRange("C", c.Length, cOff, m, ldc, n, 1);
        if (bias is not null) CheckRange("bias", bias.Length, biasOff, 1, 0, n, 1);
        if (k == 0)
        {
            if (bias is not null) for (int i = 0; i < m; i++) bias.AsSpan(biasOff, n).CopyTo(c.AsSpan(cOff + i * ldc, n));
            else if (!accumulate) for (int i = 0; i < m; i++) c.AsSpan(cOff + i * ldc, n).Clear();
            return;
        }
        CheckRange("A", a.Length, aOff, m, ars, k, acs);
        CheckRange("B", b.Length, bOff, k, brs, n, bcs);
        if (threads <= 0) threads = EngineThreads.Count;
        var path = forced == GemmPath.Auto
            ? GemmKernels.Kernel512<T>.IsSupported ? GemmPath.Vector512 : GemmKernels.Kernel256<T>.IsSupported ? GemmPath.Vector256 : GemmPath.Scalar
            : forced;
        if (!IsSupported<T>(path))
            throw new PlatformNotSupportedException($"gemm: the {path} kernel is not accelerated on this CPU");
        fixed (T* pa = a, pb = b, pc = c, pbias = bias)
        {
            var job = new Job<T>(m, n, k, pa + aOff, ars, acs, pb + bOff, brs, bcs, pc + cOff, ldc, accumulate, threads, bias is null ? null : pbias + biasOff);
            switch (path)
            {
                case GemmPath.Vector512: Run<T, GemmKernels.Kernel512<T>>(job); break;
                case GemmPath.Vector256: Run<T, GemmKernels.Kernel256<T>>(job); break;
                default: Run<T, GemmKernels.KernelScalar<T>>(job); break;
            }
        }
    }

    /// <summary>One product's operands as raw pointers (the arrays are pinned by <see cref="Compute{T}"/> for its duration); Bias is null or C's row bias.</summary>
    private readonly struct Job<T>(int m, int n, int k, T* a, int ars, int acs, T* b, int brs, int bcs,
        T* c, int ldc, bool accumulate, int threads, T* bias) where T : unmanaged
    {
        public readonly int M = m, N = n, K = k, Ars = ars, Acs = acs, Brs = brs, Bcs = bcs, Ldc = ldc, Threads = threads;
        public readonly T* A = a, B = b, C = c, Bias = bias;
        public readonly bool Accumulate = accumulate;
    }

    /// <summary>
    /// Splits C into one block of rows (or of columns) per thread and runs <see cref="Serial{T, TKernel}"/> on each:
    /// one parallel region per product, no shared buffers. Rows are split when C is at least as tall as it is wide
    /// (each thread then packs all of B, the smaller operand to repeat), columns otherwise (each packs all of A).
    /// </summary>
    private static void Run<T, TKernel>(Job<T> job) where T : unmanaged, IFloatingPointIeee754<T> where TKernel : IMicroKernel<T>
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        bool byRows = job.M >= job.N;
        int units = byRows ? (job.M + mr - 1) / mr : (job.N + nr - 1) / nr;
        long work = (long)job.M * job.N * job.K;
        int chunks = (int)Math.Min(Math.Min(job.Threads, units), Math.Max(1, work / ParallelMinWork));
        if (chunks <= 1)
        {
            Serial<T, TKernel>(job);
            return;
        }
        if (byRows) SharedPanel<T, TKernel>(job, chunks);
        else ByColumns<T, TKernel>(job, units, chunks);
    }

    /// <summary>
    /// C's columns split into <paramref name="chunks"/> blocks of whole slivers, one per thread. A method of its own:
    /// the lambda's captured variables are allocated when the method is entered, and a serial product must not pay for them.
    /// </summary>
    private static void ByColumns<T, TKernel>(Job<T> job, int units, int chunks) where T : unmanaged, IFloatingPointIeee754<T> where TKernel : IMicroKernel<T>
    {
        int nr = TKernel.NR;
        var j = job;
        WorkerPool.ForEachChunk(chunks, t =>
        {
            int u0 = (int)((long)units * t / chunks), u1 = (int)((long)units * (t + 1) / chunks);
            int c0 = u0 * nr, c1 = Math.Min(j.N, u1 * nr);
            Serial<T, TKernel>(new Job<T>(j.M, c1 - c0, j.K, j.A, j.Ars, j.Acs, j.B + (nint)c0 * j.Bcs, j.Brs, j.Bcs,
                j.C + c0, j.Ldc, j.Accumulate, 1, j.Bias == null ? null : j.Bias + c0));
        });
    }

    /// <summary>
    /// Rows of C split across threads that share one packed B panel: the threads pack its slivers together, then each
    /// sweeps its own A slivers against all of it. One panel in L2 instead of one per thread (the two CPUs of a core
    /// share L2), and no thread repeats another's packing. Every C element sees the same operations in the same order
    /// as in <see cref="Serial{T, TKernel}"/>, so results do not depend on the thread count.
    /// </summary>
    private static void SharedPanel<T, TKernel>(Job<T> job, int chunks) where T : unmanaged, IFloatingPointIeee754<T> where TKernel : IMicroKernel<T>
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        int ncMax = Math.Max(nr, PanelBytes / (KC * sizeof(T)) / nr * nr);
        nint panel = (nint)Buffers<T>.Panel(KC * Math.Min(ncMax, RoundUp(job.N, nr)));
        int mSlivers = (job.M + mr - 1) / mr;
        var j = job;
        for (int jc = 0; jc < j.N; jc += ncMax)
        {
            int nc = Math.Min(ncMax, j.N - jc);
            int nSlivers = (nc + nr - 1) / nr;
            for (int pc = 0; pc < j.K; pc += KC)
            {
                int kc = Math.Min(KC, j.K - pc);
                bool add = j.Accumulate || pc > 0;
                nint bBlock = (nint)(j.B + (nint)pc * j.Brs + (nint)jc * j.Bcs), aBlock = (nint)(j.A + (nint)pc * j.Acs), cBlock = (nint)(j.C + jc);
                nint bias = pc == 0 && j.Bias != null ? (nint)(j.Bias + jc) : 0;
                WorkerPool.ForEachChunk(chunks, t =>
                    PackPanel((T*)bBlock, j.Brs, j.Bcs, kc, nc, (T*)panel, nr, nSlivers * t / chunks, nSlivers * (t + 1) / chunks));
                WorkerPool.ForEachChunk(chunks, t =>
                    Sweep<T, TKernel>(j, (T*)aBlock, (T*)panel, (T*)cBlock, kc, nc, add, mSlivers * t / chunks, mSlivers * (t + 1) / chunks, 0, nSlivers, (T*)bias));
            }
        }
    }

    /// <summary>The blocked product on the calling thread.</summary>
    private static void Serial<T, TKernel>(Job<T> job) where T : unmanaged, IFloatingPointIeee754<T> where TKernel : IMicroKernel<T>
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        int ncMax = Math.Max(nr, PanelBytes / (KC * sizeof(T)) / nr * nr);
        T* panel = Buffers<T>.Panel(KC * Math.Min(ncMax, RoundUp(job.N, nr)));
        int mSlivers = (job.M + mr - 1) / mr;
        for (int jc = 0; jc < job.N; jc += ncMax)
        {
            int nc = Math.Min(ncMax, job.N - jc);
            int nSlivers = (nc + nr - 1) / nr;
            for (int pc = 0; pc < job.K; pc += KC)
            {
                int kc = Math.Min(KC, job.K - pc);
                PackPanel(job.B + (nint)pc * job.Brs + (nint)jc * job.Bcs, job.Brs, job.Bcs, kc, nc, panel, nr, 0, nSlivers);
                Sweep<T, TKernel>(job, job.A + (nint)pc * job.Acs, panel, job.C + jc, kc, nc, job.Accumulate || pc > 0,
                    0, mSlivers, 0, nSlivers, pc == 0 && job.Bias != null ? job.Bias + jc : null);
            }
        }
    }

    /// <summary>
    /// Packs B slivers [s0, s1) of a kc × nc block into the panel (sliver s at panel + s·kc·nr): row by row when B's
    /// rows are contiguous, so the reads run along them; column by column otherwise (a transposed B, whose columns are).
    /// </summary>
    private static void PackPanel<T>(T* b, int brs, int bcs, int kc, int nc, T* panel, int nr, int s0, int s1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (bcs == 1)
        {
            GemmPacking.PackBRows(b, brs, kc, nc, panel, nr, s0, s1);
            return;
        }
        for (int s = s0; s < s1; s++)
        {
            int j0 = s * nr;
            GemmPacking.PackB(b + (nint)j0 * bcs, brs, bcs, kc, Math.Min(nr, nc - j0), panel + (nint)s * kc * nr, nr);
        }
    }

    /// <summary>
    /// For A slivers [ms0, ms1): packs the sliver (kc × MR, stays in L1) and runs the micro-kernel against B slivers
    /// [ns0, ns1) of the packed panel (streamed from L2). With <paramref name="bias"/> (the first k block of a product
    /// with a bias; <paramref name="add"/> is false) the kernel stores each tile with the bias added.
    /// </summary>
    private static void Sweep<T, TKernel>(Job<T> job, T* aBlock, T* panel, T* cBlock, int kc, int nc, bool add,
        int ms0, int ms1, int ns0, int ns1, T* bias) where T : unmanaged, IFloatingPointIeee754<T> where TKernel : IMicroKernel<T>
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        bool direct = ns1 - ns0 <= DirectMaxSlivers || kc <= DirectMaxK || (job.Acs == 1 && TKernel.ReadsRowsInPlace);
        if (job.Ars == 1 && !direct)
        {
            SweepGrouped<T, TKernel>(job, aBlock, panel, cBlock, kc, nc, add, ms0, ms1, ns0, ns1, bias);
            return;
        }
        T* sliver = Buffers<T>.Sliver(KC * mr);
        for (int s = ms0; s < ms1; s++)
        {
            int i0 = s * mr, rows = Math.Min(mr, job.M - i0);
            T* aRows = aBlock + (nint)i0 * job.Ars, cRow = cBlock + (nint)i0 * job.Ldc;
            if (direct && rows == mr)
            {
                for (int t = ns0; t < ns1; t++)
                {
                    int j0 = t * nr, cols = Math.Min(nr, nc - j0);
                    T* tileBias = bias == null ? null : bias + j0;
                    if (cols <= nr / 2) TKernel.RunNarrow(kc, aRows, job.Ars, job.Acs, panel + (nint)t * kc * nr, cRow + j0, job.Ldc, mr, cols, add, tileBias);
                    else TKernel.RunDirect(kc, aRows, job.Ars, job.Acs, panel + (nint)t * kc * nr, cRow + j0, job.Ldc, cols, add, tileBias);
                }
                continue;
            }
            GemmPacking.PackA(aRows, job.Ars, job.Acs, rows, kc, sliver, mr);
            RunPacked<T, TKernel>(kc, sliver, rows, panel, cRow, job.Ldc, nc, ns0, ns1, add, bias);
        }
    }

    /// <summary>
    /// Runs the micro-kernel for one packed A sliver of <paramref name="rows"/> rows against B slivers [ns0, ns1) of
    /// the panel; with <paramref name="bias"/> (the panel's columns of it) each tile is stored with it added.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RunPacked<T, TKernel>(int kc, T* sliver, int rows, T* panel, T* cRow, int ldc, int nc, int ns0, int ns1, bool add, T* bias)
        where T : unmanaged, IFloatingPointIeee754<T> where TKernel : IMicroKernel<T>
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        for (int t = ns0; t < ns1; t++)
        {
            int j0 = t * nr, cols = Math.Min(nr, nc - j0);
            T* tileBias = bias == null ? null : bias + j0;
            // a packed A sliver is A read with row stride 1 and step stride MR
            if (cols <= nr / 2) TKernel.RunNarrow(kc, sliver, 1, mr, panel + (nint)t * kc * nr, cRow + j0, ldc, rows, cols, add, tileBias);
            else TKernel.Run(kc, sliver, panel + (nint)t * kc * nr, cRow + j0, ldc, rows, cols, add, tileBias);
        }
    }

    /// <summary>
    /// <see cref="Sweep{T, TKernel}"/> for a transposed A (its columns contiguous, as in dW = Xᵀ·dY): the slivers are
    /// packed <see cref="GroupRows"/> rows at a time, reading each step of k as one contiguous run across the group,
    /// so every cache line of A is read once (sliver by sliver, each line was fetched again for each sliver it
    /// feeds, and a kc block of a tall A does not fit in L2 beside the panel). Each C element sees the same
    /// operations in the same order as in the ungrouped sweep.
    /// </summary>
    private static void SweepGrouped<T, TKernel>(Job<T> job, T* aBlock, T* panel, T* cBlock, int kc, int nc, bool add,
        int ms0, int ms1, int ns0, int ns1, T* bias) where T : unmanaged, IFloatingPointIeee754<T> where TKernel : IMicroKernel<T>
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        int group = Math.Max(1, GroupRows / mr);
        T* slivers = Buffers<T>.Sliver(KC * mr * group);
        for (int g0 = ms0; g0 < ms1; g0 += group)
        {
            int g1 = Math.Min(ms1, g0 + group);
            int i0 = g0 * mr, groupRows = Math.Min(job.M - i0, (g1 - g0) * mr);
            GemmPacking.PackAGroup(aBlock + i0, job.Acs, groupRows, kc, slivers, mr);
            for (int s = g0; s < g1; s++)
            {
                int r0 = s * mr, rows = Math.Min(mr, job.M - r0);
                T* cRow = cBlock + (nint)r0 * job.Ldc;
                RunPacked<T, TKernel>(kc, slivers + (nint)(s - g0) * kc * mr, rows, panel, cRow, job.Ldc, nc, ns0, ns1, add, bias);
            }
        }
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    /// <summary>Throws unless every element of a rows × cols strided view lies inside an array of <paramref name="length"/>.</summary>
    private static void CheckRange(string name, int length, int offset, int rows, int rowStride, int cols, int colStride)
    {
        long lo = offset, hi = offset;
        long dr = (long)(rows - 1) * rowStride, dc = (long)(cols - 1) * colStride;
        if (dr < 0) lo += dr; else hi += dr;
        if (dc < 0) lo += dc; else hi += dc;
        if (lo < 0 || hi >= length)
            throw new ArgumentException(
                $"gemm: operand {name} ({rows}×{cols}, offset {offset}, strides ({rowStride}, {colStride})) reaches elements [{lo}, {hi}] outside its storage of {length}");
    }

    /// <summary>
    /// Per-thread packing buffers, pinned (pointers into them are handed to other threads) and 64-byte aligned,
    /// grown on demand and then reused: no allocation per product in steady state.
    /// </summary>
    private static class Buffers<T> where T : unmanaged
    {
        [ThreadStatic] private static T[]? panel;
        [ThreadStatic] private static T[]? sliver;

        public static T* Panel(int length) => Aligned(ref panel, length);

        public static T* Sliver(int length) => Aligned(ref sliver, length);

        private static T* Aligned(ref T[]? buffer, int length)
        {
            int pad = 64 / sizeof(T);
            if (buffer is null || buffer.Length < length + pad)
                buffer = GC.AllocateUninitializedArray<T>(length + pad, pinned: true);
            nint p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
            return (T*)((p + 63) & ~(nint)63);
        }
    }
}
