namespace Engine.Cuda.Runtime;

/// <summary>The raw memory calls the caching allocator needs; a fake implements it in tests.</summary>
internal interface IDeviceMemory
{
    /// <summary>Allocates device memory; false on out-of-memory (other failures throw).</summary>
    bool TryAllocate(long bytes, out ulong pointer);
    /// <summary>Returns memory to the device.</summary>
    void Free(ulong pointer);
    /// <summary>Free and total bytes on the device, when known ("" otherwise), for error messages.</summary>
    string MemoryInfo();
}

/// <summary>The element types and arithmetic of one GEMM call.</summary>
internal enum GemmKind
{
    /// <summary>float32 in and out, float32 arithmetic (cublasSgemm).</summary>
    Float32,
    /// <summary>float32 in and out, TF32 tensor-core products with float32 accumulation (CUBLAS_COMPUTE_32F_FAST_TF32).</summary>
    Tf32,
    /// <summary>float64 in and out (cublasDgemm).</summary>
    Float64,
    /// <summary>bfloat16 inputs, float32 output, float32 accumulation (CUDA_R_16BF, CUDA_R_32F, CUBLAS_COMPUTE_32F).</summary>
    BFloat16,
}

/// <summary>A compiled kernel function.</summary>
internal readonly record struct KernelFunction(string Name, nint Handle);

/// <summary>
/// Everything <see cref="CudaBackend"/> asks of a device: memory, copies, kernel lookup and launch, and the
/// strided-batched GEMM. The real implementation is <see cref="CudaDevice"/> (driver API, NVRTC, cuBLAS); tests run the
/// same backend over a host emulation that compiles the kernel sources with a C++ compiler. All calls are ordered
/// (one stream): a copy to the host waits for the work before it.
/// </summary>
internal interface IDeviceApi : IDeviceMemory
{
    /// <summary>Streaming multiprocessors, used to size grid-stride launches.</summary>
    int MultiprocessorCount { get; }
    /// <summary>A short description (name, architecture, library versions).</summary>
    string Description { get; }
    /// <summary>Makes the device's context current on the calling thread.</summary>
    void MakeCurrent();
    unsafe void CopyHostToDevice(ulong dst, void* src, long bytes);
    unsafe void CopyDeviceToHost(void* dst, ulong src, long bytes);
    void CopyDeviceToDevice(ulong dst, ulong src, long bytes);
    void MemsetZero(ulong dst, long bytes);
    /// <summary>A kernel from one of the embedded source families, compiled on first use.</summary>
    KernelFunction GetKernel(string family, string name);
    /// <summary>Launches a 1-D grid; <paramref name="args"/> points to the argument pointers, like cuLaunchKernel.</summary>
    unsafe void Launch(KernelFunction kernel, int grid, int block, void** args);
    /// <summary>
    /// Column-major strided-batched GEMM with cuBLAS semantics: C = alpha·op(A)·op(B) + beta·C, with the element types
    /// and arithmetic of <paramref name="kind"/> (strides and leading dimensions count elements of each operand's type).
    /// </summary>
    void GemmStridedBatched(GemmKind kind, bool transA, bool transB, int m, int n, int k, double alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, double beta, ulong c, int ldc, long strideC, int batch);
    /// <summary>Waits for all queued work.</summary>
    void Synchronize();
}
