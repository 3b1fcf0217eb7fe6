using System.Runtime.InteropServices;
using Engine.Cuda.Native;

namespace Engine.Cuda;

/// <summary>
/// Whether CUDA can be used here, and why not. Nothing is loaded until the first question; the driver library is
/// searched for (see <see cref="UnavailableReason"/> for the trace), then <c>cuInit</c> and a device count.
/// </summary>
public static unsafe class Cuda
{
    private static readonly Lazy<(bool ok, string reason, int count)> Probe = new(Run, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>True when the CUDA driver loads, initialises and reports at least one device. Never throws.</summary>
    public static bool IsAvailable => Probe.Value.ok;

    /// <summary>Why CUDA is unavailable: every library path tried and each error, or the driver's error; "" when available.</summary>
    public static string UnavailableReason => Probe.Value.reason;

    /// <summary>The number of CUDA devices (0 when CUDA is unavailable).</summary>
    public static int DeviceCount => Probe.Value.count;

    /// <summary>Throws <see cref="CudaUnavailableException"/> with the search trace unless CUDA is available.</summary>
    public static void EnsureAvailable()
    {
        if (!IsAvailable) throw new CudaUnavailableException($"CUDA is not available: {UnavailableReason}");
    }

    /// <summary>The search trace for the NVRTC and cuBLAS libraries (which the kernels and matrix products need).</summary>
    public static string LibraryReport()
    {
        var lines = new List<string>();
        foreach (var lib in new[] { NativeLibraries.Driver, NativeLibraries.Nvrtc, NativeLibraries.Cublas })
        {
            NativeLibraries.TryLoad(lib, out _, out var trace);
            lines.Add(trace.TrimEnd());
        }
        return string.Join(Environment.NewLine, lines);
    }

    private static (bool, string, int) Run()
    {
        try
        {
            if (!NativeLibraries.TryLoad(NativeLibraries.Driver, out _, out var trace))
                return (false, "the CUDA driver library could not be loaded." + Environment.NewLine + trace, 0);
            int status = CuDriver.cuInit(0);
            if (status != CuDriver.Success)
                return (false, $"cuInit failed: {CuDriver.ErrorName(status)} ({CuDriver.ErrorString(status)}).{Environment.NewLine}{trace}", 0);
            status = CuDriver.cuDeviceGetCount(out int count);
            if (status != CuDriver.Success)
                return (false, $"cuDeviceGetCount failed: {CuDriver.ErrorName(status)} ({CuDriver.ErrorString(status)})", 0);
            if (count == 0) return (false, "the CUDA driver reports no devices", 0);
            return (true, "", count);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return (false, $"{e.GetType().Name}: {e.Message}", 0);
        }
    }

    internal static string DeviceName(int device)
    {
        var buffer = stackalloc byte[256];
        CuDriver.Check(CuDriver.cuDeviceGetName(buffer, 256, device), "cuDeviceGetName");
        return Marshal.PtrToStringUTF8((nint)buffer) ?? $"device {device}";
    }
}
