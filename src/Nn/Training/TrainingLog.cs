using System.Globalization;
using System.Text;

namespace Engine.Nn.Training;

/// <summary>
/// The CSV log of a run: one row per step, <c>step,train_loss,val_loss,lr,tokens_per_s</c> (val_loss empty on steps
/// without an evaluation). Each row is flushed as it is written. Reopening a log to resume from step s drops the
/// rows after s (written by the interrupted run after its last checkpoint), so the file always matches the model.
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

    /// <summary>Creates the log, or reopens it keeping only the rows up to <paramref name="resumeFromStep"/>.</summary>
    /// <exception cref="InvalidDataException">An existing file does not start with <see cref="Header"/>.</exception>
    public static TrainingLog Open(string path, long resumeFromStep = 0)
    {
        var kept = new List<string>();
        if (resumeFromStep > 0 && File.Exists(path))
        {
            var lines = File.ReadAllLines(path);
            if (lines.Length == 0 || lines[0] != Header)
                throw new InvalidDataException($"training log {path}: does not start with the header '{Header}'");
            foreach (var line in lines.Skip(1))
            {
                int comma = line.IndexOf(',');
                if (comma > 0 && long.TryParse(line.AsSpan(0, comma), NumberStyles.None, CultureInfo.InvariantCulture, out long step) && step <= resumeFromStep)
                    kept.Add(line);
            }
        }
        var w = new StreamWriter(path, append: false, new UTF8Encoding(false)) { NewLine = "\n" };
        w.WriteLine(Header);
        foreach (var line in kept) w.WriteLine(line);
        w.Flush();
        return new TrainingLog(w, path);
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
