using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Engine.Cuda.Runtime;

namespace Engine.Cuda.Tests.Emulation;

/// <summary>
/// Builds the embedded kernel sources with the host C++ compiler under <c>emu.h</c> into one shared library, with an
/// exported <c>emu_launch(name, grid, block, args)</c> that runs a kernel by name. The build is cached in the temp
/// directory, keyed by a hash of the sources, the header and the compiler. <see cref="Require"/> skips the calling
/// test (with the reason) when no compiler is found.
/// </summary>
internal static partial class HostEmulator
{
    private static readonly Lazy<(nint library, string[] kernels, string? skip)> Built = new(Build);

    /// <summary>The names of every <c>extern "C" __global__</c> kernel in the sources.</summary>
    public static string[] KernelNames => Require().kernels;

    /// <summary>
    /// A backend over an emulated device of its own (fresh allocator and counters; shared compiled library), under a
    /// device ordinal no other backend of this process has, and registered there, so tensors moved to its device reach
    /// it. Tests run in parallel: two backends under one ordinal would take each other's place in the registry, and a
    /// test's tensors would run on (and be counted by) another test's device.
    /// </summary>
    public static CudaBackend NewBackend(long memoryLimit = long.MaxValue)
    {
        int ordinal = Interlocked.Decrement(ref nextOrdinal);
        // cuda:0 stays unregistered: the availability tests use it as the device a machine without CUDA lacks.
        if (ordinal < 1) throw new InvalidOperationException($"more than {SharedOrdinal - 1} emulated backends in one test run");
        return CreateRegistered(Engine.Device.Cuda(ordinal), memoryLimit);
    }

    private static CudaBackend CreateRegistered(Device device, long memoryLimit)
    {
        var (lib, kernels, _) = Require();
        var backend = new CudaBackend(new EmulatedDevice(lib, kernels, memoryLimit), device, blockSize: 64);
        BackendRegistry.Register(backend);
        return backend;
    }

    private static int nextOrdinal = SharedOrdinal;   // ordinals below the shared backend's, handed out downwards

    /// <summary>The shared emulated backend, registered for <see cref="Device"/> so tensors can be created there.</summary>
    public static CudaBackend Registered
    {
        get
        {
            Require();
            return Shared.Value;
        }
    }

    /// <summary>The device ordinal the shared emulated backend is registered under.</summary>
    public static readonly Device Device = Engine.Device.Cuda(SharedOrdinal);

    private const int SharedOrdinal = 63;

    private static readonly Lazy<CudaBackend> Shared = new(() => CreateRegistered(Device, long.MaxValue));

    private static (nint library, string[] kernels, string? skip) Require()
    {
        var built = Built.Value;
        if (built.skip is not null) Assert.Skip(built.skip);
        return built;
    }

    [GeneratedRegex(@"extern\s+""C""\s+__global__\s+void\s+(\w+)\s*\(")]
    private static partial Regex KernelPattern();

    /// <summary>Kernel names declared in a source text.</summary>
    public static IEnumerable<string> KernelsIn(string source) => KernelPattern().Matches(source).Select(m => m.Groups[1].Value);

    private static string? FindCompiler()
    {
        var fromEnv = Environment.GetEnvironmentVariable("CXX");
        var candidates = new List<string>();
        if (!string.IsNullOrWhiteSpace(fromEnv)) candidates.Add(fromEnv);
        candidates.AddRange(["g++", "clang++", "c++"]);
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        foreach (var c in candidates)
        {
            if (Path.IsPathRooted(c)) { if (File.Exists(c)) return c; continue; }
            foreach (var dir in path)
            {
                var full = Path.Combine(dir, c);
                if (File.Exists(full)) return full;
            }
        }
        return null;
    }

    private static (nint, string[], string?) Build()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
            return (0, [], "kernel emulation builds a shared library with a Unix C++ toolchain; this OS is not covered");
        var compiler = FindCompiler();
        if (compiler is null) return (0, [], "no C++ compiler found (looked for $CXX, g++, clang++, c++ on PATH); kernel emulation tests need one");

        var files = new Dictionary<string, string>();
        foreach (var h in KernelSources.Headers) files[h] = KernelSources.Read(h);
        var kernels = new List<string>();
        foreach (var f in KernelSources.Families)
        {
            var text = KernelSources.Read(f + ".cu");
            files[f + ".cu"] = text;
            kernels.AddRange(KernelsIn(text));
        }
        using (var s = typeof(HostEmulator).Assembly.GetManifestResourceStream("Engine.Cuda.Tests.emu.h")!)
        using (var r = new StreamReader(s)) files["emu.h"] = r.ReadToEnd();

        var harness = new StringBuilder();
        harness.AppendLine("#include \"emu.h\"");
        foreach (var f in KernelSources.Families) harness.AppendLine($"#include \"{f}.cu\"");
        harness.AppendLine("extern \"C\" int emu_launch(const char* name, int grid, int block, void** args) {");
        foreach (var k in kernels)
            harness.AppendLine($"    if (std::strcmp(name, \"{k}\") == 0) {{ emu_run({k}, grid, block, args); return 0; }}");
        harness.AppendLine("    return -1;\n}");
        files["harness.cpp"] = harness.ToString();

        var key = new StringBuilder(compiler);
        foreach (var (name, text) in files.OrderBy(p => p.Key, StringComparer.Ordinal)) key.Append('\0').Append(name).Append('\0').Append(text);
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key.ToString())))[..16];
        var dir = Path.Combine(Path.GetTempPath(), "engine-cuda-emulation", hash);
        var lib = Path.Combine(dir, "libengine_cuda_emu.so");
        if (!File.Exists(lib))
        {
            var work = dir + "." + Environment.ProcessId + ".tmp";
            Directory.CreateDirectory(work);
            foreach (var (name, text) in files) File.WriteAllText(Path.Combine(work, name), text);
            var psi = new ProcessStartInfo(compiler, ["-std=c++20", "-O1", "-shared", "-fPIC", "-pthread", "-w", "-x", "c++", "harness.cpp", "-o", "libengine_cuda_emu.so"])
            {
                WorkingDirectory = work,
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new InvalidOperationException($"the kernel sources failed to compile with {compiler} under emu.h:{Environment.NewLine}{err}");
            try { Directory.Move(work, dir); }
            catch (IOException) { /* another process built it first */ }
            if (!File.Exists(lib)) lib = Path.Combine(work, "libengine_cuda_emu.so");
        }
        return (NativeLibrary.Load(lib), kernels.ToArray(), null);
    }
}
