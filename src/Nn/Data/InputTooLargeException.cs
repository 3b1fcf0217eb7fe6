namespace Engine.Nn.Data;

/// <summary>An input file is larger than the limit its reader accepts; the message names the size and the limit.</summary>
public sealed class InputTooLargeException : IOException
{
    /// <summary>An error for an input of <paramref name="size"/> bytes over a limit of <paramref name="limit"/>; <paramref name="what"/> names it.</summary>
    public InputTooLargeException(string what, long size, long limit)
        : base($"{what} has {size:N0} bytes, more than the limit of {Format(limit)}")
    {
        Size = size;
        Limit = limit;
    }

    private static string Format(long bytes) => bytes >= 1 << 20 && bytes % (1 << 20) == 0 ? $"{bytes >> 20:N0} MiB ({bytes:N0} bytes)" : $"{bytes:N0} bytes";

    /// <summary>The file's size in bytes.</summary>
    public long Size { get; }

    /// <summary>The limit in bytes.</summary>
    public long Limit { get; }
}
