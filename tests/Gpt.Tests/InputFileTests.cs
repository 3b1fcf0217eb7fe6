namespace Engine.Examples.Gpt.Tests;

/// <summary>Unbounded or blocking inputs are one-line errors, not an out-of-memory abort or a hang.</summary>
public class InputFileTests
{
    [Fact]
    public void ADeviceAsDataIsAnError()
    {
        Assert.SkipUnless(File.Exists("/dev/zero"), "no /dev/zero here");
        using var dir = new TempDir();
        var r = Cli.Run("train", "--data", "/dev/zero", "--steps", "1", "--out", dir["run"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("gpt: dataset: corpus file '/dev/zero' has a size of 0: it is empty, or a device or pipe rather than a regular file", r.Error);
    }

    [Fact]
    public void AFileOverTheLimitNamesTheLimitAndTheOption()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["big.txt"], new string('a', (1 << 20) + 1));
        var r = Cli.Run("train", "--data", dir["big.txt"], "--max-data-mb", "1", "--steps", "1", "--out", dir["run"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"gpt: dataset: corpus file '{dir["big.txt"]}' has 1,048,577 bytes, more than the limit of 1 MiB (1,048,576 bytes); raise the limit with --max-data-mb (at least 2)", r.Error);
    }
}
