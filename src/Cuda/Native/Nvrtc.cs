using System.Runtime.InteropServices;

namespace Engine.Cuda.Native;

/// <summary>NVRTC, the runtime CUDA C++ compiler (libnvrtc.so.13/12), with the C names.</summary>
internal static unsafe partial class Nvrtc
{
    public const int Success = 0;
    public const int ErrorCompilation = 6;

    static Nvrtc() => NativeLibraries.Install();

    [LibraryImport(NativeLibraries.Nvrtc)] public static partial int nvrtcVersion(out int major, out int minor);
    [LibraryImport(NativeLibraries.Nvrtc)] public static partial int nvrtcGetNumSupportedArchs(out int count);
    [LibraryImport(NativeLibraries.Nvrtc)] public static partial int nvrtcGetSupportedArchs(int* archs);
    [LibraryImport(NativeLibraries.Nvrtc)]
    public static partial int nvrtcCreateProgram(out nint program, byte* source, byte* name, int numHeaders, byte** headers, byte** includeNames);
    [LibraryImport(NativeLibraries.Nvrtc)] public static partial int nvrtcDestroyProgram(ref nint program);
    [LibraryImport(NativeLibraries.Nvrtc)] public static partial int nvrtcCompileProgram(nint program, int numOptions, byte** options);
    [LibraryImport(NativeLibraries.Nvrtc)] public static partial int nvrtcGetPTXSize(nint program, out nuint size);
    [LibraryImport(NativeLibraries.Nvrtc)] public static partial int nvrtcGetPTX(nint program, byte* ptx);
    [LibraryImport(NativeLibraries.Nvrtc)] public static partial int nvrtcGetProgramLogSize(nint program, out nuint size);
    [LibraryImport(NativeLibraries.Nvrtc)] public static partial int nvrtcGetProgramLog(nint program, byte* log);
    [LibraryImport(NativeLibraries.Nvrtc)] public static partial byte* nvrtcGetErrorString(int result);

    /// <summary>Throws <see cref="CudaException"/> naming the function and NVRTC's error string.</summary>
    public static void Check(int status, string function)
    {
        if (status != Success)
            throw new CudaException(function, status, $"{function}: {Marshal.PtrToStringUTF8((nint)nvrtcGetErrorString(status)) ?? $"nvrtcResult {status}"}");
    }
}
