namespace Engine.Examples.Gpt.Tests;

/// <summary><c>--device</c>: the CPU trains, CUDA without a driver and malformed devices are one-line-ish errors.</summary>
public class DeviceTests
{
    private static readonly string[] Tiny = ["--steps", "2", "--context", "8", "--layers", "1", "--heads", "1", "--dim", "8", "--batch", "2",
        "--synthetic-chars", "3000", "--eval-interval", "0", "--eval-tokens", "64", "--warmup", "1"];

    [Fact]
    public void CpuTrains()
    {
        using var dir = new TempDir();
        var r = Cli.Run(["train", "--device", "cpu", "--out", dir["run"], .. Tiny]);
        Assert.True(r.ExitCode == 0, r.Error);
        var config = Engine.Nn.Training.TrainerConfig.FromJson(Engine.Nn.Checkpoints.Checkpoint.Open(dir["run"]).Metadata.TrainingJson!);
        Assert.Equal(Device.Cpu, config.Device);
    }

    [Fact]
    public void CudaWithoutADriverIsAClearErrorNamingTheLibrary()
    {
        if (Engine.Cuda.Cuda.IsAvailable) Assert.Skip("CUDA is available here, so --device cuda does not fail");
        foreach (var command in new[] { new[] { "train", "--out", "nowhere-never-written" }, ["eval", "--checkpoint", "nowhere"], ["sample", "--checkpoint", "nowhere"] })
        {
            var r = Cli.Run([.. command, "--device", "cuda"]);
            Assert.Equal(1, r.ExitCode);
            Assert.StartsWith("gpt: --device cuda: CUDA is not available: ", r.Error);
            Assert.Contains(OperatingSystem.IsWindows() ? "nvcuda" : "libcuda", r.Error);
            Assert.Contains("tried ", r.Error);
            Assert.DoesNotContain("   at ", r.Error);   // no stack trace
            Assert.DoesNotContain(r.Error.Split('\n').Skip(1), l => l.Length > 0 && !l.StartsWith(' '));   // continuation lines are indented
        }
        Assert.False(Directory.Exists("nowhere-never-written"));
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    public void AMalformedDeviceNamesTheAcceptedForms(string device)
    {
        var r = Cli.Run("train", "--device", device, "--out", "nowhere-never-written");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"gpt: --device {device}: not a device; expected cpu, cuda or cuda:N (N the device index, from 0)", r.Error);
    }

    [Fact]
    public void EveryCommandTakesDevice()
    {
        foreach (var (name, settings) in GptApp.SettingsByCommand)
            Assert.True(ParseErrorMessage.OptionsOf(settings).Contains("--device"), name);
    }
}
