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

    /// <summary>The accepted spellings of a device, for messages: <c>cpu</c>, <c>cuda</c> (device 0) or <c>cuda:N</c>.</summary>
    public const string Forms = "cpu, cuda or cuda:N (N the device index, from 0)";

    /// <summary>
    /// Parses <c>cpu</c>, <c>cuda</c> (= <c>cuda:0</c>) or <c>cuda:N</c> (case-insensitive, surrounding spaces ignored):
    /// the inverse of <see cref="ToString"/>.
    /// </summary>
    /// <exception cref="FormatException">The text is none of these forms; the message names the accepted ones.</exception>
    public static Device Parse(string text) =>
        TryParse(text, out var device) ? device : throw new FormatException($"'{text}' is not a device; expected {Forms}");

    /// <summary>Like <see cref="Parse"/>, returning false instead of throwing.</summary>
    public static bool TryParse(string? text, out Device device)
    {
        device = Cpu;
        var t = text?.Trim().ToLowerInvariant();
        if (t == "cpu") return true;
        if (t == "cuda") { device = Cuda(0); return true; }
        if (t is null || !t.StartsWith("cuda:", StringComparison.Ordinal)) return false;
        var n = t["cuda:".Length..];
        if (n.Length == 0 || n.Length > 9 || !n.All(char.IsAsciiDigit)) return false;
        device = Cuda(int.Parse(n, System.Globalization.CultureInfo.InvariantCulture));
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => Kind == DeviceKind.Cpu ? "cpu" : $"cuda:{Index}";
}
