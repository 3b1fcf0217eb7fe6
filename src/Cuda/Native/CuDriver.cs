using System.Runtime.InteropServices;

namespace Engine.Cuda.Native;

/// <summary>
/// The CUDA driver API (libcuda.so.1 / nvcuda.dll), the subset Engine uses, with the C names and the
/// versioned symbols (<c>_v2</c>) the headers map to. Every status goes through <see cref="Check"/>.
/// </summary>
internal static unsafe partial class CuDriver
{
    public const int Success = 0;
    public const int ErrorOutOfMemory = 2;
    public const int ErrorNoDevice = 100;

    /// <summary>CU_DEVICE_ATTRIBUTE_* values used here.</summary>
    public const int AttrMaxThreadsPerBlock = 1;
    public const int AttrMultiprocessorCount = 16;
    public const int AttrComputeCapabilityMajor = 75;
    public const int AttrComputeCapabilityMinor = 76;

    static CuDriver() => NativeLibraries.Install();

    [LibraryImport(NativeLibraries.Driver)] public static partial int cuInit(uint flags);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuDriverGetVersion(out int version);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuDeviceGetCount(out int count);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuDeviceGet(out int device, int ordinal);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuDeviceGetName(byte* name, int len, int device);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuDeviceGetAttribute(out int value, int attribute, int device);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuDeviceTotalMem_v2(out nuint bytes, int device);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuDevicePrimaryCtxRetain(out nint context, int device);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuCtxSetCurrent(nint context);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuCtxGetCurrent(out nint context);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuCtxSynchronize();
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuStreamCreate(out nint stream, uint flags);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuStreamDestroy_v2(nint stream);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuStreamSynchronize(nint stream);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuEventCreate(out nint evt, uint flags);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuEventDestroy_v2(nint evt);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuEventRecord(nint evt, nint stream);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuEventSynchronize(nint evt);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuEventElapsedTime(out float milliseconds, nint start, nint end);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuMemGetInfo_v2(out nuint free, out nuint total);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuMemAlloc_v2(out ulong ptr, nuint bytes);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuMemFree_v2(ulong ptr);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuMemcpyHtoD_v2(ulong dst, void* src, nuint bytes);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuMemcpyDtoH_v2(void* dst, ulong src, nuint bytes);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuMemcpyDtoD_v2(ulong dst, ulong src, nuint bytes);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuMemcpyHtoDAsync_v2(ulong dst, void* src, nuint bytes, nint stream);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuMemcpyDtoHAsync_v2(void* dst, ulong src, nuint bytes, nint stream);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuMemcpyDtoDAsync_v2(ulong dst, ulong src, nuint bytes, nint stream);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuMemsetD8Async(ulong dst, byte value, nuint count, nint stream);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuMemsetD32Async(ulong dst, uint value, nuint count, nint stream);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuModuleLoadData(out nint module, void* image);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuModuleUnload(nint module);
    [LibraryImport(NativeLibraries.Driver, StringMarshalling = StringMarshalling.Utf8)] public static partial int cuModuleGetFunction(out nint function, nint module, string name);
    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedMemBytes, nint stream, void** kernelParams, void** extra);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuGetErrorName(int error, out byte* name);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuGetErrorString(int error, out byte* description);

    /// <summary>Throws <see cref="CudaException"/> naming the function and the driver's error name and string.</summary>
    public static void Check(int status, string function)
    {
        if (status != Success) throw Error(status, function);
    }

    public static CudaException Error(int status, string function) =>
        new(function, status, $"{function}: {ErrorName(status)} ({ErrorString(status)})");

    public static string ErrorName(int status)
    {
        byte* p = null;
        return cuGetErrorName(status, out p) == Success && p != null ? Marshal.PtrToStringUTF8((nint)p) ?? $"CUresult {status}" : $"CUresult {status}";
    }

    public static string ErrorString(int status)
    {
        byte* p = null;
        return cuGetErrorString(status, out p) == Success && p != null ? Marshal.PtrToStringUTF8((nint)p) ?? "unknown error" : "unknown error";
    }
}
