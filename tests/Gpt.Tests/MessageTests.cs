namespace Engine.Examples.Gpt.Tests;

/// <summary>Bad values get messages that name the option and what was expected, and blame nothing else.</summary>
public class MessageTests
{
    [Fact]
    public void OutNamingAFileNamesOut()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["file"], "");
        var r = Cli.Run("train", "--out", dir["file"], "--steps", "1");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"gpt: --out '{dir["file"]}' is a file; it must name a directory (created when missing)", r.Error);
    }

    [Theory]
    [InlineData("nan", "gpt: --lr must be a finite number > 0, got NaN")]
    [InlineData("-1", "gpt: --lr must be a finite number > 0, got -1")]
    public void ABadLearningRateBlamesOnlyLr(string lr, string expected)
    {
        using var dir = new TempDir();
        var r = Cli.Run("train", "--lr", lr, "--out", dir["run"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(expected, r.Error);
        Assert.DoesNotContain("min", r.Error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void NanTemperatureIsNotCalledNegative()
    {
        var r = Cli.Run("sample", "--checkpoint", "nowhere", "--temperature", "NaN");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("gpt: --temperature must be a finite number ≥ 0 (0: greedy), got NaN", r.Error);
    }
}
