using Engine.Cpu;

namespace Engine;

/// <summary>Where devices find their backend. The CPU is built in; Engine.Cuda registers itself when loaded.</summary>
public static class BackendRegistry
{
    private static readonly Dictionary<Device, IBackend> Backends = new() { [Device.Cpu] = CpuBackend.Instance };
    private static readonly object Gate = new();

    /// <summary>Registers a backend for a device (called by Engine.Cuda).</summary>
    public static void Register(IBackend backend)
    {
        lock (Gate) Backends[backend.Device] = backend;
    }

    /// <summary>A factory that creates backends for devices on first use (Engine.Cuda installs one).</summary>
    public static Func<Device, IBackend?>? Factory { get; set; }

    /// <summary>Whether a backend is registered for <paramref name="device"/> (the factory is not asked).</summary>
    public static bool IsRegistered(Device device)
    {
        lock (Gate) return Backends.ContainsKey(device);
    }

    /// <summary>The backend of a device, or a clear error when none is available.</summary>
    public static IBackend Get(Device device)
    {
        lock (Gate)
        {
            if (Backends.TryGetValue(device, out var b)) return b;
            var made = Factory?.Invoke(device);
            if (made is not null) { Backends[device] = made; return made; }
        }
        throw new InvalidOperationException(device.Kind == DeviceKind.Cuda
            ? $"device {device}: no CUDA backend is loaded; reference Engine.Cuda and call Engine.Cuda.CudaBackend.Register() (check Engine.Cuda.Cuda.IsAvailable first)"
            : $"device {device}: no backend registered");
    }
}
