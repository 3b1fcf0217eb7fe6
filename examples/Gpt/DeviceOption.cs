using Engine.Cuda;

namespace Engine.Examples.Gpt;

/// <summary>
/// <c>--device cpu|cuda|cuda:N</c>: parses the option and makes the device usable. The CUDA backend is registered
/// only when a CUDA device is asked for; a device whose backend is already registered (an emulated device in tests)
/// is used as it is, so tests drive the same code path as a GPU run.
/// </summary>
internal static class DeviceOption
{
    /// <summary>An error for a malformed --device (naming the accepted forms), or null when it parses.</summary>
    public static string? SyntaxError(string text) =>
        Device.TryParse(text, out _) ? null : $"--device {text}: not a device; expected {Device.Forms}";

    /// <summary>The device named by <paramref name="text"/>, with its backend registered.</summary>
    /// <exception cref="ArgumentException">The text is not a device, or names a CUDA device this machine does not have.</exception>
    /// <exception cref="InvalidOperationException">CUDA is asked for and cannot be loaded (the message has the loader's trace).</exception>
    public static Device Resolve(string text)
    {
        if (SyntaxError(text) is { } error) throw new ArgumentException(error);
        var device = Device.Parse(text);
        if (device.Kind == DeviceKind.Cpu || BackendRegistry.IsRegistered(device)) return device;
        if (!Cuda.Cuda.IsAvailable)
            throw new InvalidOperationException($"--device {text}: {Indent("CUDA is not available: " + Cuda.Cuda.UnavailableReason)}");
        int count = Cuda.Cuda.DeviceCount;
        if (device.Index >= count)
            throw new ArgumentException($"--device {text}: this machine has {count} CUDA device{(count == 1 ? "" : "s")} (cuda:0{(count > 1 ? $" … cuda:{count - 1}" : "")})");
        CudaBackend.Register();
        return device;
    }

    /// <summary>A multi-line trace kept readable after the <c>gpt: </c> prefix: each further line indented.</summary>
    private static string Indent(string text)
    {
        var lines = text.Trim().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        return string.Join(Environment.NewLine, lines.Select((l, i) => i == 0 || l.StartsWith(' ') ? l : "  " + l));
    }
}
