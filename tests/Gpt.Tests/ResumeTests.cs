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
}
