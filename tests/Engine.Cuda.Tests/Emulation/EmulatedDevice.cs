using System.Runtime.InteropServices;
using System.Text;
using Engine.Cuda.Runtime;

namespace Engine.Cuda.Tests.Emulation;

/// <summary>
/// A device whose memory is host memory and whose kernels are the embedded sources compiled for the host
/// (<see cref="HostEmulator"/>). The GEMM follows cuBLAS's column-major strided-batched contract exactly, so the
/// backend's row-major-to-column-major mapping is exercised. Optionally limits memory to test out-of-memory paths.
/// </summary>
internal sealed unsafe class EmulatedDevice : IDeviceApi
{
    /// <summary>The emulation's launch state (grid size, the block barrier, shared arrays) is process-wide: one launch at a time.</summary>
    private static readonly object LaunchGate = new();
    private readonly delegate* unmanaged<byte*, int, int, void**, int> launch;
    private readonly HashSet<string> kernels;
    private readonly Dictionary<ulong, long> live = new();
    private readonly long limit;
    private long used;

    public EmulatedDevice(nint library, IEnumerable<string> kernelNames, long memoryLimit)
    {
        launch = (delegate* unmanaged<byte*, int, int, void**, int>)NativeLibrary.GetExport(library, "emu_launch");
        kernels = kernelNames.ToHashSet();
        limit = memoryLimit;
    }

    public int MultiprocessorCount => 2;
    public string Description => "host emulation of the CUDA kernels";
    public int Launches { get; private set; }
    public int GemmCalls { get; private set; }
    /// <summary>The kind of every GEMM call so far, in order (the TF32 mode and the bfloat16 types reach the call).</summary>
    public List<GemmKind> GemmKinds { get; } = [];
    public long LiveBytes { get { lock (live) return used; } }

    public void MakeCurrent() { }

    public bool TryAllocate(long bytes, out ulong pointer)
    {
        lock (live)
        {
            if (used + bytes > limit) { pointer = 0; return false; }
            pointer = (ulong)NativeMemory.AlignedAlloc((nuint)bytes, 256);
            live[pointer] = bytes;
            used += bytes;
            return true;
        }
    }

    public void Free(ulong pointer)
    {
        lock (live)
        {
            if (!live.Remove(pointer, out long bytes)) throw new InvalidOperationException($"free of unknown pointer 0x{pointer:x}");
            used -= bytes;
            NativeMemory.AlignedFree((void*)pointer);
        }
    }

    public string MemoryInfo() => $"emulated device: {used} of {limit} bytes in use";

    public void CopyHostToDevice(ulong dst, void* src, long bytes) => Buffer.MemoryCopy(src, (void*)dst, bytes, bytes);
    /// <summary>Copies to the host so far: each is a point where a real device's stream is synchronised.</summary>
    public int DeviceToHostCopies => deviceToHost;
    private int deviceToHost;

    public void CopyDeviceToHost(void* dst, ulong src, long bytes)
    {
        Interlocked.Increment(ref deviceToHost);
        Buffer.MemoryCopy((void*)src, dst, bytes, bytes);
    }
    public void CopyDeviceToDevice(ulong dst, ulong src, long bytes) => Buffer.MemoryCopy((void*)src, (void*)dst, bytes, bytes);
    public void MemsetZero(ulong dst, long bytes) => NativeMemory.Clear((void*)dst, (nuint)bytes);

    public KernelFunction GetKernel(string family, string name)
    {
        if (!KernelSources.Families.Contains(family)) throw new ArgumentException($"unknown kernel family '{family}'");
        if (!kernels.Contains(name)) throw new ArgumentException($"no kernel '{name}' in the sources ({family}.cu)");
        return new KernelFunction(name, 0);
    }

    public void Launch(KernelFunction kernel, int grid, int block, void** args)
    {
        if (block > 256 || (block & (block - 1)) != 0) throw new ArgumentException($"block size {block} is not a power of two ≤ 256");
        var name = Encoding.UTF8.GetBytes(kernel.Name + "\0");
        int rc;
        lock (LaunchGate)
            fixed (byte* p = name) rc = launch(p, grid, block, args);
        if (rc != 0) throw new InvalidOperationException($"emulated launch of '{kernel.Name}' failed ({rc})");
        Launches++;
    }

    /// <summary>
    /// TF32 computes like float32 here (the mode is recorded in <see cref="GemmKinds"/>, not emulated); bfloat16
    /// operands are widened exactly and the float32 result is rounded once from the float64 sum.
    /// </summary>
    public void GemmStridedBatched(GemmKind kind, bool transA, bool transB, int m, int n, int k, double alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, double beta, ulong c, int ldc, long strideC, int batch)
    {
        // cuBLAS's argument rules, checked like cuBLAS does.
        if (lda < Math.Max(1, transA ? k : m) || ldb < Math.Max(1, transB ? n : k) || ldc < Math.Max(1, m))
            throw new ArgumentException($"gemm: invalid leading dimensions lda={lda} ldb={ldb} ldc={ldc} for m={m} n={n} k={k} transA={transA} transB={transB}");
        GemmCalls++;
        lock (GemmKinds) GemmKinds.Add(kind);
        switch (kind)
        {
            case GemmKind.Float64: Gemm<double, double>(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch); break;
            case GemmKind.BFloat16: Gemm<BFloat16, float>(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch); break;
            default: Gemm<float, float>(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch); break;
        }
    }

    private static double Value<T>(T v) where T : unmanaged =>
        typeof(T) == typeof(BFloat16) ? ((BFloat16)(object)v).ToSingle()
        : typeof(T) == typeof(float) ? (float)(object)v
        : (double)(object)v;

    private static void Gemm<TIn, T>(bool transA, bool transB, int m, int n, int k, double alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, double beta, ulong c, int ldc, long strideC, int batch)
        where TIn : unmanaged where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        for (int p = 0; p < batch; p++)
        {
            TIn* A = (TIn*)a + p * strideA, B = (TIn*)b + p * strideB;
            T* C = (T*)c + p * strideC;
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++)
                {
                    double acc = 0;
                    for (int l = 0; l < k; l++)
                    {
                        double av = Value(transA ? A[l + i * lda] : A[i + l * lda]);
                        double bv = Value(transB ? B[j + l * ldb] : B[l + j * ldb]);
                        acc += av * bv;
                    }
                    double old = beta == 0 ? 0 : double.CreateTruncating(C[i + j * ldc]);
                    C[i + j * ldc] = T.CreateTruncating(alpha * acc + beta * old);
                }
        }
    }

    public void Synchronize() { }
}
