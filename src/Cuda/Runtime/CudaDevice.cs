using System.Text;
using Engine.Cuda.Native;

namespace Engine.Cuda.Runtime;

/// <summary>
/// One GPU through the driver API: its primary context, one stream that orders all work, the kernel modules
/// (compiled by NVRTC on first use) and a cuBLAS handle bound to the stream. Every call makes the context current on
/// the calling thread first, so any thread may use the device.
/// </summary>
internal sealed unsafe class CudaDevice : IDeviceApi
{
    private readonly int ordinal, device;
    private readonly nint context, stream;
    private readonly Dictionary<string, nint> modules = new();
    private readonly Dictionary<string, KernelFunction> functions = new();
    private readonly object gate = new();
    private nint cublas;
    [ThreadStatic] private static nint currentContext;

    public CudaDevice(int ordinal)
    {
        Cuda.EnsureAvailable();
        int count = Cuda.DeviceCount;
        if (ordinal >= count)
            throw new ArgumentOutOfRangeException(nameof(ordinal), $"cuda:{ordinal}: the machine has {count} CUDA device(s)");
        this.ordinal = ordinal;
        CuDriver.Check(CuDriver.cuDeviceGet(out device, ordinal), "cuDeviceGet");
        CuDriver.Check(CuDriver.cuDevicePrimaryCtxRetain(out context, device), "cuDevicePrimaryCtxRetain");
        MakeCurrent();
        CuDriver.Check(CuDriver.cuStreamCreate(out stream, 0), "cuStreamCreate");
        CuDriver.Check(CuDriver.cuDeviceGetAttribute(out int sms, CuDriver.AttrMultiprocessorCount, device), "cuDeviceGetAttribute");
        CuDriver.Check(CuDriver.cuDeviceGetAttribute(out int major, CuDriver.AttrComputeCapabilityMajor, device), "cuDeviceGetAttribute");
        CuDriver.Check(CuDriver.cuDeviceGetAttribute(out int minor, CuDriver.AttrComputeCapabilityMinor, device), "cuDeviceGetAttribute");
        MultiprocessorCount = sms;
        DeviceArch = major * 10 + minor;
        Name = Cuda.DeviceName(device);
        CuDriver.Check(CuDriver.cuDeviceTotalMem_v2(out nuint total, device), "cuDeviceTotalMem_v2");
        TotalMemory = (long)total;
    }

    public int MultiprocessorCount { get; }
    /// <summary>Compute capability as major·10 + minor (90 for an H100/H200).</summary>
    public int DeviceArch { get; }
    public string Name { get; }
    public long TotalMemory { get; }

    public string Description
    {
        get
        {
            CuDriver.Check(CuDriver.cuDriverGetVersion(out int dv), "cuDriverGetVersion");
            string nvrtc;
            try { var (a, b) = KernelCompiler.Version(); nvrtc = $"{a}.{b}"; }
            catch (CudaException) { nvrtc = "unavailable"; }
            return $"cuda:{ordinal} {Name}, sm_{DeviceArch}, {MultiprocessorCount} SMs, {AllocatorStats.FormatBytes(TotalMemory)}, driver {dv / 1000}.{dv % 1000 / 10}, NVRTC {nvrtc}";
        }
    }

    public void MakeCurrent()
    {
        if (currentContext == context) return;
        CuDriver.Check(CuDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
        currentContext = context;
    }

    public bool TryAllocate(long bytes, out ulong pointer)
    {
        MakeCurrent();
        int status = CuDriver.cuMemAlloc_v2(out pointer, (nuint)bytes);
        if (status == CuDriver.ErrorOutOfMemory) { pointer = 0; return false; }
        CuDriver.Check(status, "cuMemAlloc_v2");
        return true;
    }

    public void Free(ulong pointer)
    {
        MakeCurrent();
        CuDriver.Check(CuDriver.cuMemFree_v2(pointer), "cuMemFree_v2");
    }

    public string MemoryInfo()
    {
        MakeCurrent();
        return CuDriver.cuMemGetInfo_v2(out nuint free, out nuint total) == CuDriver.Success
            ? $"device cuda:{ordinal} has {AllocatorStats.FormatBytes((long)free)} free of {AllocatorStats.FormatBytes((long)total)}"
            : "";
    }

    public void CopyHostToDevice(ulong dst, void* src, long bytes)
    {
        if (bytes == 0) return;
        MakeCurrent();
        // Pageable source: the call returns once the data is staged, so the caller may release the host buffer.
        CuDriver.Check(CuDriver.cuMemcpyHtoDAsync_v2(dst, src, (nuint)bytes, stream), "cuMemcpyHtoDAsync_v2");
    }

    public void CopyDeviceToHost(void* dst, ulong src, long bytes)
    {
        if (bytes == 0) return;
        MakeCurrent();
        CuDriver.Check(CuDriver.cuMemcpyDtoHAsync_v2(dst, src, (nuint)bytes, stream), "cuMemcpyDtoHAsync_v2");
        CuDriver.Check(CuDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
    }

    public void CopyDeviceToDevice(ulong dst, ulong src, long bytes)
    {
        if (bytes == 0) return;
        MakeCurrent();
        CuDriver.Check(CuDriver.cuMemcpyDtoDAsync_v2(dst, src, (nuint)bytes, stream), "cuMemcpyDtoDAsync_v2");
    }

    public void MemsetZero(ulong dst, long bytes)
    {
        if (bytes == 0) return;
        MakeCurrent();
        CuDriver.Check(CuDriver.cuMemsetD8Async(dst, 0, (nuint)bytes, stream), "cuMemsetD8Async");
    }

    public KernelFunction GetKernel(string family, string name)
    {
        lock (gate)
        {
            if (functions.TryGetValue(name, out var f)) return f;
            MakeCurrent();
            if (!modules.TryGetValue(family, out nint module))
            {
                int arch = KernelCompiler.TargetArch(DeviceArch);
                var ptx = KernelCompiler.GetPtx(family, arch, out bool fromCache);
                int status;
                fixed (byte* p = ptx) status = CuDriver.cuModuleLoadData(out module, p);
                if (status != CuDriver.Success && fromCache)
                {
                    // A stale or damaged cache entry: compile afresh.
                    ptx = KernelCompiler.Compile(family, arch);
                    fixed (byte* p = ptx) status = CuDriver.cuModuleLoadData(out module, p);
                }
                CuDriver.Check(status, $"cuModuleLoadData ({family}.cu, compute_{arch})");
                modules[family] = module;
            }
            CuDriver.Check(CuDriver.cuModuleGetFunction(out nint handle, module, name), $"cuModuleGetFunction ({family}.cu: {name})");
            return functions[name] = new KernelFunction(name, handle);
        }
    }

    public void Launch(KernelFunction kernel, int grid, int block, void** args)
    {
        if (grid <= 0) return;
        MakeCurrent();
        CuDriver.Check(CuDriver.cuLaunchKernel(kernel.Handle, (uint)grid, 1, 1, (uint)block, 1, 1, 0, stream, args, null), $"cuLaunchKernel ({kernel.Name})");
    }

    private nint Cublas
    {
        get
        {
            if (cublas != 0) return cublas;
            lock (gate)
            {
                if (cublas != 0) return cublas;
                NativeLibraries.Require(NativeLibraries.Cublas);
                MakeCurrent();
                Native.Cublas.Check(Native.Cublas.cublasCreate_v2(out nint h), "cublasCreate_v2");
                Native.Cublas.Check(Native.Cublas.cublasSetStream_v2(h, stream), "cublasSetStream_v2");
                return cublas = h;
            }
        }
    }

    public void GemmStridedBatched(GemmKind kind, bool transA, bool transB, int m, int n, int k, double alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, double beta, ulong c, int ldc, long strideC, int batch)
    {
        if (batch == 0 || m == 0 || n == 0) return;
        var h = Cublas;
        MakeCurrent();
        int ta = transA ? Native.Cublas.OpT : Native.Cublas.OpN, tb = transB ? Native.Cublas.OpT : Native.Cublas.OpN;
        switch (kind)
        {
            case GemmKind.Float64:
            {
                double al = alpha, be = beta;
                Native.Cublas.Check(Native.Cublas.cublasDgemmStridedBatched(h, ta, tb, m, n, k, &al, a, lda, strideA, b, ldb, strideB, &be, c, ldc, strideC, batch), "cublasDgemmStridedBatched");
                break;
            }
            case GemmKind.Tf32 or GemmKind.BFloat16:
            {
                // Ex call: TF32 products of float32 operands, or bfloat16 operands; both accumulate in float32 and
                // write float32 (alpha and beta are float32 for a 32F compute type).
                float al = (float)alpha, be = (float)beta;
                const int f = Native.Cublas.CudaR32F;
                int input = kind == GemmKind.BFloat16 ? Native.Cublas.CudaR16BF : f;
                int compute = kind == GemmKind.BFloat16 ? Native.Cublas.Compute32F : Native.Cublas.Compute32FFastTf32;
                Native.Cublas.Check(Native.Cublas.cublasGemmStridedBatchedEx(h, ta, tb, m, n, k, &al, a, input, lda, strideA, b, input, ldb, strideB, &be, c, f, ldc, strideC,
                    batch, compute, Native.Cublas.GemmDefault), "cublasGemmStridedBatchedEx");
                break;
            }
            default:
            {
                float al = (float)alpha, be = (float)beta;
                Native.Cublas.Check(Native.Cublas.cublasSgemmStridedBatched(h, ta, tb, m, n, k, &al, a, lda, strideA, b, ldb, strideB, &be, c, ldc, strideC, batch), "cublasSgemmStridedBatched");
                break;
            }
        }
    }

    public void Synchronize()
    {
        MakeCurrent();
        CuDriver.Check(CuDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
    }

    /// <summary>Measures the milliseconds the queued work between two points takes on the stream.</summary>
    public float TimeMilliseconds(Action work)
    {
        MakeCurrent();
        CuDriver.Check(CuDriver.cuEventCreate(out nint start, 0), "cuEventCreate");
        CuDriver.Check(CuDriver.cuEventCreate(out nint end, 0), "cuEventCreate");
        try
        {
            CuDriver.Check(CuDriver.cuEventRecord(start, stream), "cuEventRecord");
            work();
            MakeCurrent();
            CuDriver.Check(CuDriver.cuEventRecord(end, stream), "cuEventRecord");
            CuDriver.Check(CuDriver.cuEventSynchronize(end), "cuEventSynchronize");
            CuDriver.Check(CuDriver.cuEventElapsedTime(out float ms, start, end), "cuEventElapsedTime");
            return ms;
        }
        finally
        {
            CuDriver.cuEventDestroy_v2(start);
            CuDriver.cuEventDestroy_v2(end);
        }
    }
}
