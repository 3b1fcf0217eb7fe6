using System.Runtime.InteropServices;

namespace Engine.Nn.Data;

/// <summary>
/// Reads input files defensively: only regular files (opening a FIFO blocks until a writer comes, and a device such
/// as /dev/zero never ends) and never more than a byte limit, so bad input is an error rather than a hang or an
/// out-of-memory abort.
/// </summary>
internal static unsafe partial class RegularFile
{
    /// <summary>Why <paramref name="path"/> is not a readable regular file ("a FIFO", "a directory", …), or null when it is one (or does not exist).</summary>
    public static string? NotRegular(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            if (!Path.Exists(path)) return null;
            var attributes = File.GetAttributes(path);
            return (attributes & FileAttributes.Directory) != 0 ? "a directory" : (attributes & FileAttributes.Device) != 0 ? "a device" : null;
        }
        // SystemNative_Stat fills the runtime's portable FileStatus: Flags (int32), then Mode (int32) with S_IFMT bits.
        byte* status = stackalloc byte[512];
        try
        {
            if (Stat(path, status) != 0) return null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;   // a host without the runtime's shim as a library (NativeAOT links it statically): no check
        }
        return (*(int*)(status + 4) & 0xF000) switch
        {
            0x8000 => null,
            0x1000 => "a FIFO (named pipe)",
            0x2000 => "a character device",
            0x6000 => "a block device",
            0x4000 => "a directory",
            0xC000 => "a socket",
            _ => "not a regular file",
        };
    }

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_Stat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Stat(string path, byte* output);

    /// <summary>
    /// The bytes of a regular file of at most <paramref name="maxBytes"/> bytes; <paramref name="what"/> starts every
    /// message (e.g. "dataset: corpus file 'x'").
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">It is not a regular file, or it cannot be read.</exception>
    /// <exception cref="InputTooLargeException">It holds more than <paramref name="maxBytes"/> bytes.</exception>
    public static byte[] ReadAllBytes(string path, long maxBytes, string what)
    {
        if (NotRegular(path) is { } kind) throw new IOException($"{what} is {kind}, not a regular file");
        if (!File.Exists(path)) throw new FileNotFoundException($"{what} does not exist", path);
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        if (f.Length > maxBytes) throw new InputTooLargeException(what, f.Length, maxBytes);
        var bytes = new byte[f.Length];
        f.ReadExactly(bytes);
        // The file may have grown since Length was read: never take more than was allocated for.
        if (f.ReadByte() >= 0) throw new IOException($"{what} changed while it was read");
        return bytes;
    }
}
