using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace Engine.Cuda.Native;

/// <summary>
/// Finds the CUDA libraries at run time. The bindings import the logical names <c>cuda</c>, <c>nvrtc</c> and
/// <c>cublas</c>; one resolver maps each to the first file that loads from, in order: a per-library environment
/// override (<c>ENGINE_CUDA_DRIVER</c>, <c>ENGINE_NVRTC</c>, <c>ENGINE_CUBLAS</c>: a file path), a directory override
/// (<c>ENGINE_CUDA_PATH</c>), the toolkit named by <c>CUDA_PATH</c>/<c>CUDA_HOME</c>, the usual install locations, then
/// the versioned names (13, then 12) through the system loader. Every attempt and its error is kept in a trace.
/// </summary>
internal static class NativeLibraries
{
    public const string Driver = "cuda";
    public const string Nvrtc = "nvrtc";
    public const string Cublas = "cublas";

    private static readonly object Gate = new();
    private static readonly Dictionary<string, (nint handle, string trace)> Loaded = new();
    private static int installed;

    /// <summary>Installs the resolver on this assembly (idempotent).</summary>
    public static void Install()
    {
        if (Interlocked.Exchange(ref installed, 1) == 1) return;
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path) =>
        name is Driver or Nvrtc or Cublas && TryLoad(name, out var handle, out _) ? handle : 0;

    /// <summary>Loads a library once; the trace lists every attempt (kept for failures).</summary>
    public static bool TryLoad(string name, out nint handle, out string trace)
    {
        lock (Gate)
        {
            if (!Loaded.TryGetValue(name, out var entry))
            {
                entry = Probe(name);
                Loaded[name] = entry;
            }
            handle = entry.handle;
            trace = entry.trace;
            return handle != 0;
        }
    }

    /// <summary>Loads a library or throws <see cref="CudaUnavailableException"/> with the trace.</summary>
    public static void Require(string name)
    {
        if (!TryLoad(name, out _, out var trace))
            throw new CudaUnavailableException($"CUDA is not available: the {Describe(name)} library could not be loaded.{Environment.NewLine}{trace}");
    }

    public static string Describe(string name) => name switch
    {
        Driver => "CUDA driver (libcuda / nvcuda)",
        Nvrtc => "NVRTC runtime compiler (libnvrtc)",
        Cublas => "cuBLAS (libcublas)",
        _ => name,
    };

    internal static (nint handle, string trace) Probe(string name)
    {
        var trace = new StringBuilder();
        trace.Append("search for ").Append(Describe(name)).Append(':').AppendLine();
        foreach (var candidate in Candidates(name))
        {
            if (Path.IsPathRooted(candidate) && !File.Exists(candidate))
            {
                trace.Append("  tried ").Append(candidate).AppendLine(": no such file");
                continue;
            }
            try
            {
                nint h = NativeLibrary.Load(candidate);
                trace.Append("  loaded ").AppendLine(candidate);
                return (h, trace.ToString());
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException or ArgumentException)
            {
                trace.Append("  tried ").Append(candidate).Append(": ").AppendLine(LoaderError(e.Message, candidate));
            }
        }
        trace.Append("  set ").Append(OverrideVariable(name)).Append(" to the library file, or ENGINE_CUDA_PATH to its directory");
        return (0, trace.ToString());
    }

    /// <summary>The loader's own reason (dlerror / Win32 message) from a load exception, without the generic preamble.</summary>
    private static string LoaderError(string message, string candidate)
    {
        var lines = message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var specific = lines.Skip(1).FirstOrDefault(l => l.Contains(Path.GetFileName(candidate), StringComparison.Ordinal)) ?? lines.Skip(1).FirstOrDefault();
        if (specific is null) return lines.Length > 0 ? lines[0] : message;
        // "libcuda.so.1: cannot open shared object file: No such file or directory" → the part after the name.
        int at = specific.IndexOf(candidate + ":", StringComparison.Ordinal);
        return at >= 0 ? specific[(at + candidate.Length + 1)..].Trim() : specific;
    }

    public static string OverrideVariable(string name) => name switch
    {
        Driver => "ENGINE_CUDA_DRIVER",
        Nvrtc => "ENGINE_NVRTC",
        _ => "ENGINE_CUBLAS",
    };

    /// <summary>The file names to try for a library, most specific first.</summary>
    internal static IEnumerable<string> FileNames(string name, bool windows) => (name, windows) switch
    {
        (Driver, false) => ["libcuda.so.1", "libcuda.so"],
        (Nvrtc, false) => ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"],
        (Cublas, false) => ["libcublas.so.13", "libcublas.so.12", "libcublas.so"],
        (Driver, true) => ["nvcuda.dll"],
        (Nvrtc, true) => ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll"],
        (Cublas, true) => ["cublas64_13.dll", "cublas64_12.dll"],
        _ => [],
    };

    /// <summary>Every path to try, in order; duplicates removed.</summary>
    internal static IEnumerable<string> Candidates(string name)
    {
        bool windows = OperatingSystem.IsWindows();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var list = new List<string>();
        void Add(string p) { if (seen.Add(p)) list.Add(p); }

        var file = Environment.GetEnvironmentVariable(OverrideVariable(name));
        if (!string.IsNullOrWhiteSpace(file)) Add(file);

        var names = FileNames(name, windows).ToArray();
        foreach (var dir in Directories(name, windows))
            foreach (var n in names) Add(Path.Combine(dir, n));
        // Finally the bare names: the system loader's own search (LD_LIBRARY_PATH, ldconfig cache, PATH).
        foreach (var n in names) Add(n);
        return list;
    }

    private static IEnumerable<string> Directories(string name, bool windows)
    {
        var roots = new List<string>();
        foreach (var v in new[] { "ENGINE_CUDA_PATH", "CUDA_PATH", "CUDA_HOME" })
        {
            var r = Environment.GetEnvironmentVariable(v);
            if (!string.IsNullOrWhiteSpace(r)) roots.Add(r);
        }
        if (windows)
        {
            foreach (var r in roots) { yield return Path.Combine(r, "bin", "x64"); yield return Path.Combine(r, "bin"); yield return r; }
            yield break;
        }
        // The driver ships with the display driver, not the toolkit: system library directories first.
        if (name == Driver)
        {
            foreach (var r in roots) yield return r;
            yield return "/usr/lib/x86_64-linux-gnu";
            yield return "/usr/lib/aarch64-linux-gnu";
            yield return "/usr/lib64";
            yield return "/usr/local/nvidia/lib64";
            yield return "/usr/lib/wsl/lib";
            yield break;
        }
        foreach (var r in roots)
        {
            yield return r;
            yield return Path.Combine(r, "lib64");
            yield return Path.Combine(r, "lib");
            yield return Path.Combine(r, "targets", "x86_64-linux", "lib");
        }
        yield return "/usr/local/cuda/lib64";
        yield return "/usr/local/cuda-13/lib64";
        yield return "/usr/local/cuda-12/lib64";
        yield return "/usr/local/cuda/targets/x86_64-linux/lib";
        yield return "/usr/lib/x86_64-linux-gnu";
    }
}
