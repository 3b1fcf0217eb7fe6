namespace Engine;

/// <summary>Kind of device a tensor lives on.</summary>
public enum DeviceKind
{
    /// <summary>Host memory, managed arrays.</summary>
    Cpu,
    /// <summary>An NVIDIA GPU through the Engine.Cuda backend.</summary>
    Cuda,
}

/// <summary>A device: a kind and an ordinal (the GPU index for CUDA).</summary>
/// <param name="Kind">The kind of device.</param>
/// <param name="Index">The ordinal; always 0 for the CPU.</param>
public readonly record struct Device(DeviceKind Kind, int Index = 0)
{
    /// <summary>The host CPU.</summary>
    public static Device Cpu => new(DeviceKind.Cpu);

    /// <summary>The CUDA device with the given ordinal.</summary>
    public static Device Cuda(int index = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return new Device(DeviceKind.Cuda, index);
    }

    /// <inheritdoc/>
    public override string ToString() => Kind == DeviceKind.Cpu ? "cpu" : $"cuda:{Index}";
}
