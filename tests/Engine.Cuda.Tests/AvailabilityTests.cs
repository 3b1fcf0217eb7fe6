using Engine.Cuda.Native;

namespace Engine.Cuda.Tests;

/// <summary>Library discovery and the availability check, which must work (and not throw) on machines without CUDA.</summary>
public class AvailabilityTests
{
    [Fact]
    public void IsAvailableNeverThrowsAndExplainsItself()
    {
        bool available = Cuda.IsAvailable;
        if (available)
        {
            Assert.True(Cuda.DeviceCount > 0);
            Assert.Equal("", Cuda.UnavailableReason);
            return;
        }
        Assert.Equal(0, Cuda.DeviceCount);
        // The trace names the library and every place it was looked for.
        Assert.Contains("CUDA driver", Cuda.UnavailableReason);
        Assert.Contains("tried", Cuda.UnavailableReason);
        Assert.Contains(OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1", Cuda.UnavailableReason);
        Assert.Contains("ENGINE_CUDA_DRIVER", Cuda.UnavailableReason);
    }

    [Fact]
    public void UsingAMissingDeviceThrowsTheTrace()
    {
        if (Cuda.IsAvailable) Assert.Skip("CUDA is available here; this test covers machines without it");
        var e = Assert.Throws<CudaUnavailableException>(() => CudaBackend.ForDevice(0));
        Assert.Contains("libcuda", e.Message);
        CudaBackend.Register();
        CudaBackend.Register(); // idempotent
        var viaTensor = Assert.Throws<CudaUnavailableException>(() => Tensor.Zeros([2, 2]).To(Device.Cuda(0)));
        Assert.Contains("tried", viaTensor.Message);
    }

    [Fact]
    public void CandidatesTryOverridesFirstThenVersionedNames()
    {
        var previous = Environment.GetEnvironmentVariable("ENGINE_NVRTC");
        try
        {
            Environment.SetEnvironmentVariable("ENGINE_NVRTC", "/opt/custom/libnvrtc.so.13.1");
            var list = NativeLibraries.Candidates(NativeLibraries.Nvrtc).ToList();
            Assert.Equal("/opt/custom/libnvrtc.so.13.1", list[0]);
            if (!OperatingSystem.IsWindows())
            {
                int v13 = list.IndexOf("libnvrtc.so.13"), v12 = list.IndexOf("libnvrtc.so.12");
                Assert.True(v13 > 0 && v12 > v13, "bare versioned names, newest first, after the directory candidates");
                Assert.Contains(Path.Combine("/usr/local/cuda/lib64", "libnvrtc.so.12"), list);
            }
            Assert.Equal(list.Count, list.Distinct().Count());
        }
        finally
        {
            Environment.SetEnvironmentVariable("ENGINE_NVRTC", previous);
        }
    }

    [Fact]
    public void VersionedNamesCoverCuda12And13OnBothPlatforms()
    {
        Assert.Equal(["libcublas.so.13", "libcublas.so.12", "libcublas.so"], NativeLibraries.FileNames(NativeLibraries.Cublas, windows: false));
        Assert.Equal(["nvrtc64_130_0.dll", "nvrtc64_120_0.dll"], NativeLibraries.FileNames(NativeLibraries.Nvrtc, windows: true));
        Assert.Equal(["libcuda.so.1", "libcuda.so"], NativeLibraries.FileNames(NativeLibraries.Driver, windows: false));
    }

    [Fact]
    public void MissingLibraryFailsWithATraceNotADllNotFoundException()
    {
        if (NativeLibraries.TryLoad(NativeLibraries.Cublas, out _, out _)) Assert.Skip("cuBLAS is installed here");
        var e = Assert.Throws<CudaUnavailableException>(() => NativeLibraries.Require(NativeLibraries.Cublas));
        Assert.Contains("cuBLAS", e.Message);
        Assert.Contains("ENGINE_CUBLAS", e.Message);
    }

    [Fact]
    public void AnUnloadableOverrideIsReportedWithTheLoadersReason()
    {
        var junk = Path.Combine(Path.GetTempPath(), $"engine-not-a-library-{Environment.ProcessId}.so");
        File.WriteAllText(junk, "not an ELF file");
        var previous = Environment.GetEnvironmentVariable("ENGINE_CUBLAS");
        try
        {
            Environment.SetEnvironmentVariable("ENGINE_CUBLAS", junk);
            var (handle, trace) = NativeLibraries.Probe(NativeLibraries.Cublas);
            if (handle != 0) Assert.Fail("a text file loaded as a library");
            var first = trace.Split('\n')[1];
            Assert.StartsWith($"  tried {junk}: ", first);
            Assert.DoesNotContain("no such file", first);
        }
        finally
        {
            Environment.SetEnvironmentVariable("ENGINE_CUBLAS", previous);
            File.Delete(junk);
        }
    }
}
