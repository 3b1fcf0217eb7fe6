namespace Engine.Examples.Gpt.Tests;

/// <summary>train --resume: broken run files are one-line errors.</summary>
public class ResumeTests
{
    internal static string[] Tiny(string outDir, params string[] more) =>
        ["train", "--synthetic-chars", "4000", "--context", "8", "--layers", "1", "--heads", "2", "--dim", "8", "--batch", "2",
         "--eval-interval", "2", "--eval-tokens", "64", "--warmup", "1", "--out", outDir, .. more];

    [Fact]
    public void AnUnreadableLogIsAOneLineError()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(Tiny(dir["run"], "--steps", "2")).ExitCode);
        File.WriteAllText(Path.Combine(dir["run"], "log.csv"), "not a log\n");
        var r = Cli.Run("train", "--out", dir["run"], "--resume", "--steps", "4");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith($"gpt: training log {Path.Combine(dir["run"], "log.csv")}: does not start with the header", r.Error);
        Assert.DoesNotContain("\n", r.Error);
    }

    private static string Corpus(string path, int seed)
    {
        var words = new[] { "the ", "cat ", "sat ", "on ", "a ", "mat.\n", "dog ", "ran " };
        var rng = new Random(seed);
        File.WriteAllText(path, string.Concat(Enumerable.Range(0, 1200).Select(_ => words[rng.Next(words.Length)])));
        return path;
    }

    [Fact]
    public void DataPathsAreStoredAbsoluteAndResumeRejectsContradictingOptions()
    {
        using var dir = new TempDir();
        string corpus = Corpus(dir["corpus.txt"], 1);
        string run = dir["run"];
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, corpus);
        Assert.False(Path.IsPathRooted(relative));
        Assert.Equal(0, Cli.Run(Tiny(run, "--data", relative, "--steps", "2")).ExitCode);
        string checkpoint = Path.Combine(run, "step-00000002");
        var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(checkpoint, "checkpoint.json")));
        Assert.Equal(corpus, json.RootElement.GetProperty("data").GetProperty("path").GetString());

        var r = Cli.Run("train", "--out", run, "--resume", "--steps", "3", "--layers", "2", "--dim", "16", "--lr", "0.003");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"gpt: --resume continues {checkpoint} as it was configured; these options contradict it: --layers 2 (the checkpoint has 1); --dim 16 (the checkpoint has 8) (only --steps, --threads, --device, --precision and --max-data-mb may change)", r.Error);

        // Options that agree are fine, and the same bytes under another path too (the run moved).
        string moved = dir["moved.txt"];
        File.Copy(corpus, moved);
        Assert.Equal(0, Cli.Run("train", "--out", run, "--resume", "--steps", "3", "--layers", "1", "--data", moved).ExitCode);

        r = Cli.Run("train", "--out", run, "--resume", "--steps", "4", "--data", Corpus(dir["other.txt"], 2));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"--data {dir["other.txt"]}: dataset: corpus file '{dir["other.txt"]}' has SHA-256 ", r.Error);
        r = Cli.Run("train", "--out", run, "--resume", "--steps", "4", "--data", "synthetic");
        Assert.Contains($"--data synthetic (the checkpoint was trained on file({moved}))", r.Error);
    }
}
