namespace Engine.Examples.Gpt;

/// <summary>Writes result files atomically: a temporary file in the same directory, then a rename over the target.</summary>
internal static class AtomicFile
{
    /// <summary>Writes UTF-8 text to <paramref name="path"/>.</summary>
    public static void WriteAllText(string path, string text) => Write(path, tmp => File.WriteAllText(tmp, text));

    /// <summary>
    /// Lets <paramref name="write"/> fill a temporary file (same directory and extension, so writers that go by the
    /// extension still work), then moves it over <paramref name="path"/>; a failed write leaves no temporary behind.
    /// </summary>
    public static void Write(string path, Action<string> write)
    {
        string full = Path.GetFullPath(path);
        string tmp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileNameWithoutExtension(full)}.{Guid.NewGuid():N}.tmp{Path.GetExtension(full)}");
        try
        {
            write(tmp);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
