namespace Engine.Examples.Gpt.Tests;

/// <summary>--precision: recorded in the checkpoint, may change on --resume, accepted by the evaluation commands, checked.</summary>
public class PrecisionOptionTests
{
    private static string StoredPrecision(string checkpoint) =>
        System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(checkpoint, "checkpoint.json")))
            .RootElement.GetProperty("training").GetProperty("Precision").GetString()!;

    [Fact]
    public void Bf16TrainingIsRecordedAndResumeKeepsOrChangesIt()
    {
        using var dir = new TempDir();
        string run = dir["run"];
        var r = Cli.Run(ResumeTests.Tiny(run, "--steps", "2", "--precision", "bf16"));
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal("BFloat16", StoredPrecision(Path.Combine(run, "step-00000002")));
        Assert.Equal(Precision.Float32, Autocast.Current); // nothing leaks into the caller

        r = Cli.Run("train", "--out", run, "--resume", "--steps", "3");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal("BFloat16", StoredPrecision(Path.Combine(run, "step-00000003")));
        r = Cli.Run("train", "--out", run, "--resume", "--steps", "4", "--precision", "tf32");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal("TF32", StoredPrecision(Path.Combine(run, "step-00000004")));

        r = Cli.Run("eval", "--checkpoint", run, "--lengths", "8", "--eval-tokens", "64", "--precision", "bf16", "--csv", dir["eval.csv"]);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal(Precision.Float32, Autocast.Current);
    }

    [Fact]
    public void AnUnknownPrecisionIsAOneLineError()
    {
        using var dir = new TempDir();
        var r = Cli.Run(ResumeTests.Tiny(dir["run"], "--steps", "1", "--precision", "fp16"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("gpt: --precision must be fp32, tf32 or bf16, got 'fp16'", r.Error);
    }
}
