namespace Engine.Nn.Data;

/// <summary>
/// Reads input files defensively: only regular files (opening a FIFO blocks until a writer comes, and a device such
/// as /dev/zero never ends) and never more than a byte limit, so bad input is an error rather than a hang or an
/// out-of-memory abort.
/// </summary>
internal static class RegularFile
{
    /// <summary>The message tail that says why <paramref name="path"/> is no readable file ("is a directory", …), or null when it is one (or does not exist).</summary>
    /// <remarks>
    /// .NET exposes no file type on Unix, so the test stays managed by going through the size: character and block
    /// devices, FIFOs and sockets report a size of 0, and so does an empty file, which is no input either. Reading
    /// then never goes past the size found here, so a file that grows (or a device that reports a size) cannot make
    /// it read without end.
    /// </remarks>
    public static string? NotRegular(string path)
    {
        if (Directory.Exists(path)) return "is a directory, not a file";
        var info = new FileInfo(path);
        if (!info.Exists) return null;
        if (OperatingSystem.IsWindows() && (info.Attributes & FileAttributes.Device) != 0) return "is a device, not a regular file";
        return info.Length == 0 ? "has a size of 0: it is empty, or a device or pipe rather than a regular file" : null;
    }

    /// <summary>
    /// The bytes of a regular file of at most <paramref name="maxBytes"/> bytes; <paramref name="what"/> starts every
    /// message (e.g. "dataset: corpus file 'x'").
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">It is not a regular file, or it cannot be read.</exception>
    /// <exception cref="InputTooLargeException">It holds more than <paramref name="maxBytes"/> bytes.</exception>
    public static byte[] ReadAllBytes(string path, long maxBytes, string what)
    {
        if (NotRegular(path) is { } reason) throw new IOException($"{what} {reason}");
        if (!File.Exists(path)) throw new FileNotFoundException($"{what} does not exist", path);
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        if (f.Length > maxBytes) throw new InputTooLargeException(what, f.Length, maxBytes);
        var bytes = new byte[f.Length];
        f.ReadExactly(bytes);   // at most the size NotRegular saw, whatever the file does meanwhile
        // The file may have grown since Length was read: never take more than was allocated for.
        if (f.ReadByte() >= 0) throw new IOException($"{what} changed while it was read");
        return bytes;
    }
}
