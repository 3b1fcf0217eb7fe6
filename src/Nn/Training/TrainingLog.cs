using System.Globalization;
using System.Text;

namespace Engine.Nn.Training;

/// <summary>
/// The CSV log of a run: one row per step, <c>step,train_loss,val_loss,lr,tokens_per_s</c> (val_loss empty on steps
/// without an evaluation). Each row is flushed as it is written. Reopening a log to resume from step s drops the
/// rows after s (written by the interrupted run after its last checkpoint), so the file always matches the model;
/// that rewrite is atomic (temporary file and rename), and later rows are appended.
/// </summary>
public sealed class TrainingLog : IDisposable
{
    /// <summary>The header row.</summary>
    public const string Header = "step,train_loss,val_loss,lr,tokens_per_s";

    private readonly StreamWriter writer;

    private TrainingLog(StreamWriter writer, string path)
    {
        this.writer = writer;
        Path = path;
    }

    /// <summary>The file path.</summary>
    public string Path { get; }

    /// <summary>Largest log accepted for a resume (far more than any run writes; a bigger file is not a log).</summary>
    public const long MaxBytes = 1L << 30;

    /// <summary>
    /// Creates the log, or reopens it keeping only the rows up to <paramref name="resumeFromStep"/>. The kept rows are
    /// written to a temporary file that is renamed over the log, so a crash at any moment leaves either the old or
    /// the new log, never a truncated one; an empty file (left by an older build) counts as a log without rows.
    /// </summary>
    /// <exception cref="InvalidDataException">An existing file is not a log (it does not start with <see cref="Header"/>, or it is too big).</exception>
    public static TrainingLog Open(string path, long resumeFromStep = 0)
    {
        var kept = new List<string>();
        if (resumeFromStep > 0 && File.Exists(path))
        {
            var info = new FileInfo(path);
            if (info.Length > MaxBytes)
                throw new InvalidDataException($"training log {path}: {info.Length} bytes exceeds the limit of {MaxBytes} bytes for a log; move it away to start a new one");
            var lines = File.ReadAllLines(path);
            if (lines.Length > 0 && lines[0] != Header)
                throw new InvalidDataException($"training log {path}: does not start with the header '{Header}'; move it away to start a new one");
            foreach (var line in lines.Skip(1))
            {
                int comma = line.IndexOf(',');
                if (comma > 0 && long.TryParse(line.AsSpan(0, comma), NumberStyles.None, CultureInfo.InvariantCulture, out long step) && step <= resumeFromStep
                    && line.Count(ch => ch == ',') == 4)   // a row torn by a kill mid-append is dropped
                    kept.Add(line);
            }
        }
        string full = System.IO.Path.GetFullPath(path);
        string tmp = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full)!, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var f = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                using var w = new StreamWriter(f, new UTF8Encoding(false), leaveOpen: true) { NewLine = "\n" };
                w.WriteLine(Header);
                foreach (var line in kept) w.WriteLine(line);
                w.Flush();
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
        var writer = new StreamWriter(new FileStream(full, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false)) { NewLine = "\n" };
        return new TrainingLog(writer, path);
    }

    /// <summary>Appends one row and flushes it.</summary>
    public void Append(long step, double trainLoss, double? valLoss, double learningRate, double tokensPerSecond)
    {
        var c = CultureInfo.InvariantCulture;
        writer.WriteLine(string.Join(',',
            step.ToString(c),
            trainLoss.ToString("R", c),
            valLoss is { } v ? v.ToString("R", c) : "",
            learningRate.ToString("G6", c),
            tokensPerSecond.ToString("F0", c)));
        writer.Flush();
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => writer.Dispose();
}
