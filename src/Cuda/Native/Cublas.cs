using System.Runtime.InteropServices;

namespace Engine.Cuda.Native;

/// <summary>cuBLAS (libcublas.so.13/12), the subset Engine uses, with the C names of the exported symbols.</summary>
internal static unsafe partial class Cublas
{
    public const int Success = 0;
    public const int OpN = 0;
    public const int OpT = 1;
    /// <summary>CUBLAS_DEFAULT_MATH and CUBLAS_TF32_TENSOR_OP_MATH.</summary>
    public const int DefaultMath = 0, Tf32TensorOpMath = 3;
    /// <summary>cudaDataType CUDA_R_32F and CUDA_R_16BF.</summary>
    public const int CudaR32F = 0, CudaR16BF = 14;
    /// <summary>cublasComputeType_t CUBLAS_COMPUTE_32F and CUBLAS_COMPUTE_32F_FAST_TF32.</summary>
    public const int Compute32F = 68, Compute32FFastTf32 = 77;
    /// <summary>CUBLAS_GEMM_DEFAULT.</summary>
    public const int GemmDefault = -1;

    static Cublas() => NativeLibraries.Install();

    [LibraryImport(NativeLibraries.Cublas)] public static partial int cublasCreate_v2(out nint handle);
    [LibraryImport(NativeLibraries.Cublas)] public static partial int cublasDestroy_v2(nint handle);
    [LibraryImport(NativeLibraries.Cublas)] public static partial int cublasGetVersion_v2(nint handle, out int version);
    [LibraryImport(NativeLibraries.Cublas)] public static partial int cublasSetStream_v2(nint handle, nint stream);
    [LibraryImport(NativeLibraries.Cublas)] public static partial int cublasSetMathMode(nint handle, int mode);

    [LibraryImport(NativeLibraries.Cublas)]
    public static partial int cublasSgemmStridedBatched(nint handle, int transa, int transb, int m, int n, int k,
        float* alpha, ulong a, int lda, long strideA, ulong b, int ldb, long strideB,
        float* beta, ulong c, int ldc, long strideC, int batchCount);

    [LibraryImport(NativeLibraries.Cublas)]
    public static partial int cublasDgemmStridedBatched(nint handle, int transa, int transb, int m, int n, int k,
        double* alpha, ulong a, int lda, long strideA, ulong b, int ldb, long strideB,
        double* beta, ulong c, int ldc, long strideC, int batchCount);

    [LibraryImport(NativeLibraries.Cublas)]
    public static partial int cublasGemmStridedBatchedEx(nint handle, int transa, int transb, int m, int n, int k,
        void* alpha, ulong a, int aType, int lda, long strideA, ulong b, int bType, int ldb, long strideB,
        void* beta, ulong c, int cType, int ldc, long strideC, int batchCount, int computeType, int algo);

    /// <summary>Throws <see cref="CudaException"/> naming the function and the cuBLAS status.</summary>
    public static void Check(int status, string function)
    {
        if (status != Success)
            throw new CudaException(function, status, $"{function}: {StatusName(status)} ({StatusString(status)})");
    }

    public static string StatusName(int s) => s switch
    {
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => $"cublasStatus_t {s}",
    };

    private static string StatusString(int s) => s switch
    {
        1 => "the cuBLAS library was not initialized",
        3 => "resource allocation failed",
        7 => "an unsupported value or parameter was passed",
        8 => "the device does not support the requested feature",
        11 => "access to GPU memory space failed",
        13 => "the GPU program failed to execute",
        14 => "an internal cuBLAS operation failed",
        15 => "the functionality requested is not supported",
        16 => "the functionality requested requires a license",
        _ => "unknown status",
    };
}
