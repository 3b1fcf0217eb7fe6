using Engine.Cuda.Runtime;

namespace Engine.Cuda;

/// <summary>
/// The GPU backend: every <see cref="IBackend"/> operation as a CUDA kernel (compiled from the embedded sources by
/// NVRTC on first use) or a cuBLAS call, on one stream per device. Call <see cref="Register"/> once; then
/// <c>tensor.To(Device.Cuda(0))</c> and the creation methods with <c>device: Device.Cuda(0)</c> place tensors on the
/// GPU, and every op, autograd included, runs there unchanged. Split by op family into partial files.
/// </summary>
public sealed partial class CudaBackend : IBackend
{
    private static readonly object RegistryGate = new();
    private static readonly Dictionary<int, CudaBackend> Instances = new();
    private static bool registered;

    private readonly int blockSize;

    internal CudaBackend(IDeviceApi api, Device device, int blockSize = 256, Action? collectGarbage = null)
    {
        if (blockSize < 32 || blockSize > 256 || (blockSize & (blockSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "block size must be a power of two in [32, 256]");
        Api = api;
        Device = device;
        this.blockSize = blockSize;
        Allocator = new CachingAllocator(api, collectGarbage);
    }

    internal IDeviceApi Api { get; }

    /// <inheritdoc/>
    public Device Device { get; }

    /// <summary>The device's caching allocator: statistics and <see cref="CachingAllocator.EmptyCache"/>.</summary>
    public CachingAllocator Allocator { get; }

    /// <summary>The device, its architecture and the library versions.</summary>
    public string Description => Api.Description;

    /// <summary>
    /// Lets float32 matrix products use TF32 tensor cores (about 10 mantissa bits in the products, much faster) on
    /// every flow; a <see cref="Precision.TF32"/> <see cref="Autocast"/> scope does the same for its own flow only.
    /// Off by default so results match the CPU to float32 rounding.
    /// </summary>
    public bool AllowTf32 { get; set; }

    /// <summary>
    /// Makes CUDA devices available to <see cref="BackendRegistry"/>: the first use of <c>Device.Cuda(n)</c> creates
    /// its backend. Safe to call more than once, and on machines without CUDA (using a CUDA device then throws
    /// <see cref="CudaUnavailableException"/> with the library search trace).
    /// </summary>
    public static void Register()
    {
        lock (RegistryGate)
        {
            if (registered) return;
            var previous = BackendRegistry.Factory;
            BackendRegistry.Factory = d => d.Kind == DeviceKind.Cuda ? ForDevice(d.Index) : previous?.Invoke(d);
            registered = true;
        }
    }

    /// <summary>The backend of CUDA device <paramref name="ordinal"/>, created on first use.</summary>
    public static CudaBackend ForDevice(int ordinal = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ordinal);
        lock (RegistryGate)
        {
            if (Instances.TryGetValue(ordinal, out var b)) return b;
            Cuda.EnsureAvailable();
            return Instances[ordinal] = new CudaBackend(new CudaDevice(ordinal), Device.Cuda(ordinal));
        }
    }

    /// <summary>Waits until all queued GPU work of this device has finished.</summary>
    public void Synchronize() => Api.Synchronize();

    // ---- helpers shared by the partial files ----

    internal CudaStorage Allocate(DType dtype, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return new CudaStorage(this, dtype, length, Allocator.Allocate((long)length * dtype.SizeOf()));
    }

    internal CudaStorage Own(Storage s, string op)
    {
        if (s is CudaStorage c && ReferenceEquals(c.Backend, this)) return c;
        throw new ArgumentException($"{op}: expected a storage on {Device}, got a {s.DType.Name()} storage on {s.Device}; move the tensor with To({Device})");
    }

    private static void RequireFloat(Storage s, string op)
    {
        if (s.DType == DType.BFloat16)
            throw new NotSupportedException($"{op}: bfloat16 storages support only casts, copies and matmul on {nameof(CudaBackend)}; convert to float32 first");
        if (!s.DType.IsFloat()) throw new NotSupportedException($"{op}: needs a floating-point tensor, got {s.DType.Name()}");
    }

    /// <summary>Refuses bfloat16 in the ops that move 32- and 64-bit elements only (indexing).</summary>
    private static void RequireWide(Storage s, string op)
    {
        if (s.DType == DType.BFloat16)
            throw new NotSupportedException($"{op}: bfloat16 storages are not supported; convert to float32 first");
    }

    private static string Suffix(DType t) => t switch
    {
        DType.Float32 => "f32",
        DType.Float64 => "f64",
        DType.BFloat16 => "bf16",
        _ => "i32",
    };

    /// <summary>b32 moves float32 and int32, b64 moves float64, b16 moves bfloat16.</summary>
    private static string Bits(DType t) => t.SizeOf() switch { 8 => "b64", 2 => "b16", _ => "b32" };

    /// <summary>The source family of the fill and copy kernels for a dtype (the 16-bit ones are in convert.cu).</summary>
    private static string MoveFamily(DType t) => t.SizeOf() == 2 ? "convert" : "elementwise";

    /// <summary>Launches a grid-stride kernel over <paramref name="work"/> items.</summary>
    private unsafe void Launch(string family, string name, long work, Action<KernelArgs> args)
    {
        if (work <= 0) return;
        var kernel = Api.GetKernel(family, name);
        int grid = (int)Math.Clamp((work + blockSize - 1) / blockSize, 1, Math.Max(1, Api.MultiprocessorCount) * 32L);
        using var a = new KernelArgs();
        args(a);
        Api.Launch(kernel, grid, blockSize, a.Pointers);
    }

    /// <summary>Launches a kernel with one block per row (grid-stride over rows), the block sized to the row length.</summary>
    private unsafe void LaunchRows(string family, string name, int rows, int cols, Action<KernelArgs> args)
    {
        if (rows <= 0) return;
        var kernel = Api.GetKernel(family, name);
        int block = 32;
        while (block < blockSize && block < cols) block *= 2;
        int grid = Math.Min(rows, 65535);
        using var a = new KernelArgs();
        args(a);
        Api.Launch(kernel, grid, block, a.Pointers);
    }
}
