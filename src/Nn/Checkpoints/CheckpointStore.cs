using System.Text;
using System.Text.RegularExpressions;

namespace Engine.Nn.Checkpoints;

/// <summary>
/// A directory of checkpoints written atomically, so that a crash at any moment leaves the previous checkpoint intact
/// and loadable:
/// <code>
/// run/
///   latest                 ← one line naming the current checkpoint, replaced by an atomic rename
///   step-00000500/         ← a complete checkpoint (never modified once renamed into place)
///   step-00001000/
///   .tmp-step-00001500-…/  ← being written; ignored by readers, removed by the next save
/// </code>
/// A save writes every file into a fresh temporary directory, flushes each to disk, renames the directory into
/// place, and then replaces <c>latest</c> by writing <c>latest.tmp</c>, flushing it and renaming it over
/// <c>latest</c>. Readers follow <c>latest</c>, so they see either the old or the new checkpoint, never a partial one.
/// Older checkpoints beyond <see cref="Keep"/> are deleted after the pointer moved.
/// </summary>
public sealed partial class CheckpointStore
{
    /// <summary>Name of the pointer file.</summary>
    public const string LatestFile = "latest";

    private const string TempPrefix = ".tmp-";

    [GeneratedRegex(@"^step-(\d{8,19})(-\d{1,6})?$", RegexOptions.CultureInvariant)]
    private static partial Regex CheckpointName();

    /// <summary>A store in <paramref name="directory"/> (created when missing) keeping the newest <paramref name="keep"/> checkpoints.</summary>
    public CheckpointStore(string directory, int keep = 2)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (keep < 1) throw new ArgumentOutOfRangeException(nameof(keep), keep, "checkpoint store: must keep at least one checkpoint");
        Directory = directory;
        Keep = keep;
    }

    /// <summary>The run directory.</summary>
    public string Directory { get; }

    /// <summary>How many checkpoints are kept.</summary>
    public int Keep { get; }

    /// <summary>Test hook: wraps every file stream written by <see cref="Save"/> (to simulate a crash mid-write).</summary>
    internal Func<Stream, Stream>? WrapStream { get; set; }

    /// <summary>Test hook: called with a stage name ("files-written", "renamed", "pointer-written") during <see cref="Save"/>.</summary>
    internal Action<string>? AfterStage { get; set; }

    /// <summary>
    /// Writes a checkpoint for <paramref name="step"/> made of the given files (name → writer) and makes it the latest.
    /// Returns the path of the new checkpoint directory.
    /// </summary>
    /// <exception cref="ArgumentException">A file name is not a plain file name.</exception>
    public string Save(long step, IReadOnlyList<KeyValuePair<string, Action<Stream>>> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "checkpoint store: step must not be negative");
        foreach (var (name, _) in files)
            if (string.IsNullOrWhiteSpace(name) || name != Path.GetFileName(name) || name is "." or ".." || name == LatestFile)
                throw new ArgumentException($"checkpoint store: '{name}' is not a valid checkpoint file name");

        System.IO.Directory.CreateDirectory(Directory);
        RemoveTemporaries();

        string stem = $"step-{step:D8}";
        string temp = Path.Combine(Directory, $"{TempPrefix}{stem}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(temp);
        foreach (var (name, write) in files)
        {
            using var file = new FileStream(Path.Combine(temp, name), FileMode.CreateNew, FileAccess.Write, FileShare.None);
            var stream = WrapStream?.Invoke(file) ?? file;
            write(stream);
            stream.Flush();
            file.Flush(flushToDisk: true);
        }
        AfterStage?.Invoke("files-written");

        // Never replace a directory in place (it may be the one 'latest' points to): pick a free name.
        string finalName = stem;
        for (int k = 1; System.IO.Directory.Exists(Path.Combine(Directory, finalName)); k++) finalName = $"{stem}-{k}";
        System.IO.Directory.Move(temp, Path.Combine(Directory, finalName));
        AfterStage?.Invoke("renamed");

        WritePointer(finalName);
        AfterStage?.Invoke("pointer-written");
        Prune(finalName);
        return Path.Combine(Directory, finalName);
    }

    private void WritePointer(string name)
    {
        string tmp = Path.Combine(Directory, LatestFile + ".tmp");
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            f.Write(Encoding.UTF8.GetBytes(name + "\n"));
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, Path.Combine(Directory, LatestFile), overwrite: true);
    }

    private void RemoveTemporaries()
    {
        foreach (var d in System.IO.Directory.EnumerateDirectories(Directory, TempPrefix + "*"))
        {
            try { System.IO.Directory.Delete(d, recursive: true); }
            catch (IOException) { /* another writer's leftover in use; the next save tries again */ }
        }
    }

    private void Prune(string current)
    {
        var all = System.IO.Directory.EnumerateDirectories(Directory)
            .Select(Path.GetFileName)
            .Where(n => n is not null && CheckpointName().IsMatch(n) && n != current)
            .Select(n => n!)
            .OrderByDescending(StepOf)
            .ThenByDescending(n => n.Length)
            .ThenByDescending(n => n, StringComparer.Ordinal)
            .ToList();
        foreach (var old in all.Skip(Keep - 1))
            System.IO.Directory.Delete(Path.Combine(Directory, old), recursive: true);
    }

    private static long StepOf(string name) => long.TryParse(CheckpointName().Match(name).Groups[1].ValueSpan, out long s) ? s : -1;

    /// <summary>
    /// The checkpoint directory that <paramref name="path"/> names: the path itself when it holds
    /// <paramref name="marker"/>, or the checkpoint that its <c>latest</c> pointer names.
    /// </summary>
    /// <exception cref="CheckpointException">Neither exists, or the pointer is malformed or dangling.</exception>
    public static string Resolve(string path, string marker)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (File.Exists(Path.Combine(path, marker))) return path;
        string pointer = Path.Combine(path, LatestFile);
        if (!File.Exists(pointer))
        {
            if (!System.IO.Directory.Exists(path)) throw new CheckpointException($"{path}: no such checkpoint directory");
            throw new CheckpointException($"{path}: not a checkpoint (no {marker}) and not a run directory (no '{LatestFile}' pointer)");
        }
        byte[] bytes;
        try { bytes = Data.RegularFile.ReadAllBytes(pointer, 256, $"{pointer}: pointer file"); }
        catch (Data.InputTooLargeException e) { throw new CheckpointException($"{pointer}: pointer file is {e.Size} bytes, expected one short line", e); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CheckpointException(e.Message, e); }
        string name = Encoding.UTF8.GetString(bytes).Trim();
        if (!CheckpointName().IsMatch(name)) throw new CheckpointException($"{pointer}: does not name a checkpoint (found '{name}')");
        string dir = Path.Combine(path, name);
        if (!File.Exists(Path.Combine(dir, marker))) throw new CheckpointException($"{pointer}: names '{name}', which has no {marker}");
        return dir;
    }
}
