using System.Runtime.InteropServices;
using System.Text;
using Engine.Cuda.Native;

namespace Engine.Cuda.Runtime;

/// <summary>
/// Compiles kernel families to PTX with NVRTC for one architecture and keeps the PTX on disk, keyed by the source
/// hash, the architecture and the NVRTC version, so a program compiles each family once per machine. The cache
/// directory is <c>ENGINE_CUDA_CACHE</c>, else <c>engine/cuda-kernels</c> under the user's local application data.
/// A compile failure throws with NVRTC's log.
/// </summary>
internal static unsafe class KernelCompiler
{
    /// <summary>The NVRTC version as (major, minor).</summary>
    public static (int major, int minor) Version()
    {
        Nvrtc.Check(Nvrtc.nvrtcVersion(out int major, out int minor), "nvrtcVersion");
        return (major, minor);
    }

    /// <summary>The newest architecture NVRTC supports that is not newer than the device's (e.g. 90 for sm_90).</summary>
    public static int TargetArch(int deviceArch)
    {
        Nvrtc.Check(Nvrtc.nvrtcGetNumSupportedArchs(out int n), "nvrtcGetNumSupportedArchs");
        var archs = new int[n];
        fixed (int* p = archs) Nvrtc.Check(Nvrtc.nvrtcGetSupportedArchs(p), "nvrtcGetSupportedArchs");
        int best = -1;
        foreach (int a in archs) if (a <= deviceArch && a > best) best = a;
        if (best < 0)
            throw new CudaException($"NVRTC {Version()} supports architectures [{string.Join(", ", archs)}] but none at or below the device's sm_{deviceArch}");
        return best;
    }

    public static string CacheDirectory()
    {
        var dir = Environment.GetEnvironmentVariable("ENGINE_CUDA_CACHE");
        if (string.IsNullOrWhiteSpace(dir))
            dir = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "engine", "cuda-kernels");
        return dir;
    }

    /// <summary>PTX for a family, from the disk cache or freshly compiled (then cached).</summary>
    public static byte[] GetPtx(string family, int arch, out bool fromCache)
    {
        var (major, minor) = Version();
        var path = Path.Combine(CacheDirectory(), $"{family}-{KernelSources.Hash(family)}-sm{arch}-nvrtc{major}.{minor}.ptx");
        if (File.Exists(path))
        {
            try
            {
                var cached = File.ReadAllBytes(path);
                if (cached.Length > 0 && cached[^1] == 0) { fromCache = true; return cached; }
            }
            catch (IOException) { /* unreadable cache entry: compile again below */ }
        }
        var ptx = Compile(family, arch);
        fromCache = false;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var tmp = path + "." + Environment.ProcessId + ".tmp";
            File.WriteAllBytes(tmp, ptx);
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only or missing cache directory only costs a compile per process.
        }
        return ptx;
    }

    /// <summary>Compiles a family's source to PTX (NUL-terminated, as cuModuleLoadData wants it).</summary>
    public static byte[] Compile(string family, int arch)
    {
        var sources = new List<nint>();
        byte* Utf8(string s) { var p = (byte*)Marshal.StringToCoTaskMemUTF8(s); sources.Add((nint)p); return p; }
        try
        {
            var headers = KernelSources.Headers;
            var headerText = stackalloc byte*[headers.Count];
            var headerName = stackalloc byte*[headers.Count];
            for (int i = 0; i < headers.Count; i++) { headerText[i] = Utf8(KernelSources.Read(headers[i])); headerName[i] = Utf8(headers[i]); }
            Nvrtc.Check(Nvrtc.nvrtcCreateProgram(out nint program, Utf8(KernelSources.Read(family + ".cu")), Utf8(family + ".cu"),
                headers.Count, headerText, headerName), "nvrtcCreateProgram");
            try
            {
                string[] options = [$"--gpu-architecture=compute_{arch}", "--std=c++17"];
                var opts = stackalloc byte*[options.Length];
                for (int i = 0; i < options.Length; i++) opts[i] = Utf8(options[i]);
                int status = Nvrtc.nvrtcCompileProgram(program, options.Length, opts);
                if (status != Nvrtc.Success)
                {
                    string log = Log(program);
                    throw new CudaException("nvrtcCompileProgram", status,
                        $"nvrtcCompileProgram: kernel family '{family}' failed to compile for compute_{arch}:{Environment.NewLine}{log}");
                }
                Nvrtc.Check(Nvrtc.nvrtcGetPTXSize(program, out nuint size), "nvrtcGetPTXSize");
                var ptx = new byte[(int)size];
                fixed (byte* p = ptx) Nvrtc.Check(Nvrtc.nvrtcGetPTX(program, p), "nvrtcGetPTX");
                return ptx;
            }
            finally
            {
                Nvrtc.nvrtcDestroyProgram(ref program);
            }
        }
        finally
        {
            foreach (var p in sources) Marshal.FreeCoTaskMem(p);
        }
    }

    private static string Log(nint program)
    {
        if (Nvrtc.nvrtcGetProgramLogSize(program, out nuint size) != Nvrtc.Success || size <= 1) return "(no log)";
        var log = new byte[(int)size];
        fixed (byte* p = log) if (Nvrtc.nvrtcGetProgramLog(program, p) != Nvrtc.Success) return "(no log)";
        return Encoding.UTF8.GetString(log, 0, log.Length - 1);
    }
}
